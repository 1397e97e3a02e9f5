"""The systems the assistant's tools talk to, as protocols, and the plain records they return.

A company replaces the SQL implementations in :mod:`.sql` with clients for its own CRM, order,
billing, ticketing and scheduling APIs by implementing these protocols; the records are frozen
dataclasses (no ORM objects, no open sessions) so that any client can build them.

Conventions shared by every implementation:

* A look-up of one thing by its id or key (``get_*``, ``find_*``) returns ``None`` when it does
  not exist.
* Every other method raises :class:`NotFound` when the thing it works on (or lists under) does not
  exist, :class:`NotAllowed` when the business rules forbid the change (``reason`` says which
  rule), :class:`InvalidRequest` for malformed input and :class:`Conflict` for a clash with
  existing data (an email address in use, an idempotency key reused for a different refund).
* Ids are accepted in any case and with or without the dash (``ord10001`` is ``ORD-10001``).
* Money is :class:`~decimal.Decimal`; times are timezone-aware UTC datetimes.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Mapping, Protocol, runtime_checkable

# --------------------------------------------------------------------------- errors


class BackofficeError(Exception):
    """Base class; ``code`` is a stable machine-readable name for the failure."""

    code = "error"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason or self.code


class NotFound(BackofficeError):
    code = "not_found"


class NotAllowed(BackofficeError):
    code = "not_allowed"


class InvalidRequest(BackofficeError):
    code = "invalid_request"


class Conflict(BackofficeError):
    code = "conflict"


# --------------------------------------------------------------------------- records


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


class Record:
    """Mixin for the records: ``to_dict()`` gives JSON-ready values (Decimal and dates as strings)."""

    def to_dict(self) -> dict[str, Any]:
        return _plain(dataclasses.asdict(self))  # type: ignore[call-overload]


@dataclasses.dataclass(frozen=True)
class Address(Record):
    line1: str
    city: str
    postal_code: str
    country: str
    line2: str | None = None
    region: str | None = None
    name: str | None = None  # recipient, for shipping addresses
    label: str | None = None  # "home", "work" ... for saved addresses
    is_default: bool = False

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Address:
        """Build from a dict (e.g. slot values); ``InvalidRequest`` when a required part is missing."""
        missing = [k for k in ("line1", "city", "postal_code", "country") if not str(data.get(k) or "").strip()]
        if missing:
            raise InvalidRequest(f"address is missing {', '.join(missing)}", reason="incomplete_address")
        clean = {k: (str(v).strip() if isinstance(v, str) else v) for k, v in data.items() if k in _ADDRESS_FIELDS}
        clean["country"] = clean["country"].upper()
        if len(clean["country"]) != 2 or not clean["country"].isalpha():
            raise InvalidRequest("country must be a two-letter ISO code", reason="bad_country")
        return cls(**clean)

    def one_line(self) -> str:
        parts = [self.line1, self.line2, self.city, " ".join(p for p in (self.region, self.postal_code) if p), self.country]
        return ", ".join(p for p in parts if p)


_ADDRESS_FIELDS = {f.name for f in dataclasses.fields(Address)}


@dataclasses.dataclass(frozen=True)
class Customer(Record):
    id: str
    name: str
    email: str
    phone: str | None
    account_type: str
    status: str
    created_at: datetime
    email_verified: bool = False
    phone_verified: bool = False
    date_of_birth: date | None = None
    closed_at: datetime | None = None
    addresses: tuple[Address, ...] = ()

    @property
    def default_address(self) -> Address | None:
        return next((a for a in self.addresses if a.is_default), self.addresses[0] if self.addresses else None)


@dataclasses.dataclass(frozen=True)
class OrderItem(Record):
    sku: str
    name: str
    qty: int
    unit_price: Decimal
    state: str

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.qty


@dataclasses.dataclass(frozen=True)
class Order(Record):
    id: str
    customer_id: str
    status: str
    placed_at: datetime
    total: Decimal
    currency: str
    shipping_address: Address
    items: tuple[OrderItem, ...] = ()
    updated_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None


@dataclasses.dataclass(frozen=True)
class TrackingEvent(Record):
    time: datetime
    location: str | None
    description: str


@dataclasses.dataclass(frozen=True)
class Tracking(Record):
    order_id: str
    carrier: str
    tracking_number: str
    status: str
    shipped_at: datetime
    estimated_delivery: date | None
    delivered_at: datetime | None
    events: tuple[TrackingEvent, ...] = ()

    @property
    def latest(self) -> TrackingEvent | None:
        return self.events[-1] if self.events else None


@dataclasses.dataclass(frozen=True)
class Payment(Record):
    method: str
    amount: Decimal
    currency: str
    status: str
    created_at: datetime
    card_brand: str | None = None
    last4: str | None = None
    captured_at: datetime | None = None


@dataclasses.dataclass(frozen=True)
class Invoice(Record):
    id: str
    order_id: str
    customer_id: str
    amount: Decimal
    currency: str
    issued_at: datetime
    status: str
    due_at: datetime | None = None
    payments: tuple[Payment, ...] = ()


@dataclasses.dataclass(frozen=True)
class PaymentStatus(Record):
    """Where an order's money stands."""

    order_id: str
    status: str  # not_invoiced | unpaid | paid | partially_refunded | refunded | void | failed
    currency: str
    amount_due: Decimal
    amount_paid: Decimal
    amount_refunded: Decimal
    invoice_id: str | None = None
    payments: tuple[Payment, ...] = ()

    @property
    def refundable(self) -> Decimal:
        return self.amount_paid - self.amount_refunded


@dataclasses.dataclass(frozen=True)
class Refund(Record):
    id: str
    order_id: str
    amount: Decimal
    currency: str
    reason: str
    status: str
    idempotency_key: str
    created_at: datetime
    updated_at: datetime
    issued_at: datetime | None = None
    invoice_id: str | None = None


@dataclasses.dataclass(frozen=True)
class TicketMessage(Record):
    author: str
    body: str
    time: datetime


@dataclasses.dataclass(frozen=True)
class Ticket(Record):
    id: str
    customer_id: str
    category: str
    priority: str
    status: str
    subject: str
    created_at: datetime
    updated_at: datetime
    order_id: str | None = None
    conversation_id: str | None = None
    messages: tuple[TicketMessage, ...] = ()


@dataclasses.dataclass(frozen=True)
class Slot(Record):
    id: int
    type: str
    start: datetime
    end: datetime
    location: str
    capacity: int
    booked: int

    @property
    def available(self) -> int:
        return self.capacity - self.booked


@dataclasses.dataclass(frozen=True)
class Appointment(Record):
    id: str
    customer_id: str
    type: str
    status: str
    slot: Slot
    created_at: datetime
    notes: str | None = None
    cancelled_at: datetime | None = None


# --------------------------------------------------------------------------- protocols


@runtime_checkable
class CRM(Protocol):
    def find_customer_by_email(self, email: str) -> Customer | None: ...

    def find_customer_by_phone(self, phone: str) -> Customer | None: ...

    def find_customer_by_order(self, order_id: str) -> Customer | None: ...

    def get_customer(self, customer_id: str) -> Customer | None: ...

    def update_customer(
        self, customer_id: str, *, name: str | None = None, email: str | None = None, phone: str | None = None
    ) -> Customer: ...

    def close_account(self, customer_id: str, *, reason: str | None = None) -> Customer: ...


@runtime_checkable
class Orders(Protocol):
    def get_order(self, order_id: str) -> Order | None: ...

    def list_orders(self, customer_id: str, *, status: str | None = None, limit: int = 20) -> list[Order]: ...

    def cancel_order(self, order_id: str, *, reason: str | None = None) -> Order: ...

    def change_address(self, order_id: str, address: Address | Mapping[str, Any]) -> Order: ...

    def tracking(self, order_id: str) -> Tracking | None:
        """The order's latest shipment; ``None`` when it has not shipped, ``NotFound`` for no such order."""
        ...


@runtime_checkable
class Billing(Protocol):
    def get_invoice(self, invoice_id: str) -> Invoice | None: ...

    def list_invoices(self, customer_id: str) -> list[Invoice]: ...

    def payment_status(self, order_id: str) -> PaymentStatus: ...

    def create_refund(
        self,
        order_id: str,
        amount: Decimal | str | int,
        reason: str,
        *,
        idempotency_key: str,
        status: str = "requested",
        conversation_id: str | None = None,
    ) -> Refund:
        """Record a refund. Retrying with the same ``idempotency_key`` returns the same refund;
        reusing the key for a different order or amount raises :class:`Conflict`."""
        ...

    def get_refund(self, refund_id: str) -> Refund | None: ...

    def refunds_for_order(self, order_id: str) -> list[Refund]: ...

    def set_refund_status(self, refund_id: str, status: str) -> Refund:
        """Move a refund along requested → pending_approval → approved|rejected → issued."""
        ...


@runtime_checkable
class Ticketing(Protocol):
    def create_ticket(
        self,
        customer_id: str,
        subject: str,
        body: str,
        *,
        category: str = "general",
        priority: str = "normal",
        order_id: str | None = None,
        conversation_id: str | None = None,
    ) -> Ticket: ...

    def add_message(self, ticket_id: str, body: str, *, author: str = "customer") -> Ticket: ...

    def get_ticket(self, ticket_id: str) -> Ticket | None: ...

    def list_tickets(self, customer_id: str, *, status: str | None = None) -> list[Ticket]: ...


@runtime_checkable
class Scheduling(Protocol):
    def available_slots(
        self, type: str, *, start: datetime | date | None = None, end: datetime | date | None = None, limit: int = 20
    ) -> list[Slot]: ...

    def book(self, customer_id: str, slot_id: int, *, notes: str | None = None) -> Appointment: ...

    def reschedule(self, appointment_id: str, slot_id: int) -> Appointment: ...

    def cancel(self, appointment_id: str, *, reason: str | None = None) -> Appointment: ...

    def get_appointment(self, appointment_id: str) -> Appointment | None: ...

    def list_appointments(self, customer_id: str, *, include_cancelled: bool = False) -> list[Appointment]: ...


@runtime_checkable
class Notifier(Protocol):
    def send(self, channel: str, recipient: str, subject: str | None, body: str) -> str:
        """Send (or queue) a message; returns an id for it."""
        ...
