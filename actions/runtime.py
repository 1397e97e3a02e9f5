"""What the tools run against: the back office, its audit log and the notifier, made once per
process for the database named by ``DESK_BACKOFFICE_URL`` (see :mod:`actions.backoffice.db`).

``DESK_NOTIFIER`` picks how customers are notified: ``outbox`` (default: the database's outbox
table, relayed separately) or ``smtp`` (``DESK_SMTP_*`` settings, see
:class:`~actions.backoffice.notifier.SMTPNotifier`).

The audit log masks personal data in tool parameters as the ``privacy:`` section of the project's
config.yml (the working directory's) says, and so do its log lines once :func:`warm_up`, which
loads the recogniser ahead of the first tool call, has run.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from actions.backoffice import db
from actions.backoffice.audit import AuditLog
from actions.backoffice.privacy import personal_data_masker
from actions.backoffice.models import utcnow
from actions.backoffice.sql import Backoffice, Clock, open_backoffice

NOTIFIER_ENV = "DESK_NOTIFIER"


@dataclass(frozen=True)
class Runtime:
    url: str
    sessions: sessionmaker[Session]
    backoffice: Backoffice
    audit: AuditLog
    clock: Clock

    def now(self) -> datetime:
        return self.clock()


def build(url: str | None = None, *, clock: Clock | None = None, notifier=None) -> Runtime:
    """A runtime on ``url`` (default: :func:`~actions.backoffice.db.default_url`)."""
    url = url or db.default_url()
    clock = clock or utcnow
    sessions = db.session_factory(url)
    if notifier is None and os.environ.get(NOTIFIER_ENV, "outbox").strip().lower() == "smtp":
        from actions.backoffice.notifier import SMTPNotifier

        notifier = SMTPNotifier.from_env()
    return Runtime(
        url=url,
        sessions=sessions,
        backoffice=open_backoffice(sessions, clock=clock, notifier=notifier),
        audit=AuditLog(sessions, clock=clock, personal=personal_data_masker()),
        clock=clock,
    )


_lock = threading.Lock()
_runtime: Runtime | None = None


def get() -> Runtime:
    """The process's runtime, for the current ``DESK_BACKOFFICE_URL``."""
    global _runtime
    url = db.default_url()
    with _lock:
        if _runtime is None or _runtime.url != url:
            _runtime = build(url)
        return _runtime


def warm_up() -> threading.Thread:
    """Mask personal data in the action server's log lines (``logs`` types), and load the
    recogniser in the background (seconds)."""
    from nlu.pii import install_log_masking

    install_log_masking(personal_data_masker(destination="logs"))
    thread = threading.Thread(target=lambda: personal_data_masker()("warm-up +1 503 555 0142"), name="pii-warm-up", daemon=True)
    thread.start()
    return thread
