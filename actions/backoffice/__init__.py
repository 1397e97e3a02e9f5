"""The back office a company's assistant works against: CRM, orders, billing, ticketing and
scheduling systems behind swappable interfaces, backed by a real database.

* :mod:`.interfaces`: the protocols (``CRM``, ``Orders``, ``Billing``, ``Ticketing``,
  ``Scheduling``, ``Notifier``), the plain records they return and the errors they raise.
* :mod:`.sql`: implementations on the SQL database (:func:`open_backoffice` gives all of them).
* :mod:`.notifier`: an outbox notifier (database) and an SMTP notifier.
* :mod:`.audit`: the masked, hash-chained audit log of tool calls.
* :mod:`.models`, :mod:`.db`, ``migrations/``: schema, engines and sessions, Alembic migrations.
* :mod:`.seed`: the deterministic demo company, Northwind Outfitters.

Command line: ``python -m actions.backoffice {migrate,seed,reset,audit verify} [--url URL]``.
"""

from .audit import AuditLog, VerifyResult, mask_parameters
from .db import default_url, engine_for, migrate, session_scope
from .interfaces import (
    CRM,
    BackofficeError,
    Billing,
    Conflict,
    InvalidRequest,
    Notifier,
    NotAllowed,
    NotFound,
    Orders,
    Scheduling,
    Ticketing,
)
from .notifier import OutboxNotifier, SMTPNotifier
from .sql import Backoffice, SQLBilling, SQLCRM, SQLOrders, SQLScheduling, SQLTicketing, open_backoffice

__all__ = [
    "AuditLog", "Backoffice", "BackofficeError", "Billing", "CRM", "Conflict", "InvalidRequest", "Notifier",
    "NotAllowed", "NotFound", "Orders", "OutboxNotifier", "SMTPNotifier", "SQLBilling", "SQLCRM", "SQLOrders",
    "SQLScheduling", "SQLTicketing", "Scheduling", "Ticketing", "VerifyResult", "default_url", "engine_for",
    "mask_parameters", "migrate", "open_backoffice", "session_scope",
]
