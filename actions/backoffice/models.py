"""The back office's tables: CRM, orders, shipping, billing, ticketing, scheduling and the
assistant's own records (verification challenges, approval requests, notification outbox, audit log).

Conventions:

* Business ids are prefixed strings (``CUS-0001``, ``ORD-10001``, ``INV-100001``, ``RFD-00001``,
  ``TCK-00001``, ``APT-00001``, ``APR-00001``), handed out by :func:`next_id` from the
  ``id_counters`` table so that two writers never pick the same one.
* Money is ``Numeric(10, 2)`` read and written as :class:`~decimal.Decimal`, with an ISO 4217
  currency code next to it.
* Times are timezone-aware UTC :class:`~datetime.datetime` values on every database (SQLite stores
  them as naive UTC, see :class:`UTCDateTime`).
* Enumerations are short strings guarded by CHECK constraints (portable, and a new value is a
  one-line migration rather than an ALTER TYPE).
* Payment cards are only ever stored as brand + last four digits; one-time codes only as a salted
  scrypt hash.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

# --------------------------------------------------------------------------- value sets

ACCOUNT_TYPES = ("personal", "business", "premium")
CUSTOMER_STATUSES = ("active", "closed")
ORDER_STATUSES = ("pending", "paid", "processing", "shipped", "in_transit", "delivered", "cancelled", "returned")
ITEM_STATES = ("new", "opened", "damaged", "returned")
SHIPMENT_STATUSES = ("label_created", "in_transit", "out_for_delivery", "delivered", "exception", "returned")
INVOICE_STATUSES = ("open", "paid", "partially_refunded", "refunded", "void")
PAYMENT_METHODS = ("card", "paypal", "gift_card")
PAYMENT_STATUSES = ("pending", "authorized", "captured", "failed", "refunded", "voided")
REFUND_STATUSES = ("requested", "pending_approval", "approved", "rejected", "issued")
TICKET_PRIORITIES = ("low", "normal", "high", "urgent")
TICKET_STATUSES = ("open", "pending", "resolved", "closed")
MESSAGE_AUTHORS = ("customer", "agent", "assistant", "system")
APPOINTMENT_TYPES = ("fitting", "repair", "bike_service")
APPOINTMENT_STATUSES = ("booked", "cancelled")
CHANNELS = ("email", "sms")
APPROVAL_STATUSES = ("pending", "approved", "rejected", "executed")

#: prefix -> (digits, first number handed out when the counter is new)
ID_FORMATS: dict[str, tuple[int, int]] = {
    "CUS": (4, 1),
    "ORD": (5, 10001),
    "INV": (6, 100001),
    "RFD": (5, 1),
    "TCK": (5, 1),
    "APT": (5, 1),
    "APR": (5, 1),
}

GENESIS_HASH = "0" * 64
MONEY = sa.Numeric(10, 2)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


# --------------------------------------------------------------------------- column types


class UTCDateTime(sa.TypeDecorator):
    """An aware UTC datetime on every backend.

    Naive values are taken to be UTC. SQLite has no time zones, so values are stored there as
    naive UTC (which also keeps its text comparisons in time order) and read back as aware UTC.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        value = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    metadata = sa.MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


# --------------------------------------------------------------------------- ids


class IdCounter(Base):
    """The last number handed out for each id prefix."""

    __tablename__ = "id_counters"

    prefix: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    last: Mapped[int] = mapped_column(sa.Integer, nullable=False)


def format_id(prefix: str, number: int) -> str:
    digits = ID_FORMATS.get(prefix, (5, 1))[0]
    return f"{prefix}-{number:0{digits}d}"


def next_id(session: Session, prefix: str) -> str:
    """Reserve the next id for ``prefix`` inside the session's transaction.

    The counter row is updated before it is read, so the row lock (PostgreSQL) or write lock
    (SQLite) keeps concurrent writers from getting the same number.
    """
    counters = IdCounter.__table__
    bumped = session.execute(
        sa.update(counters).where(counters.c.prefix == prefix).values(last=counters.c.last + 1)
    ).rowcount
    if not bumped:
        first = ID_FORMATS.get(prefix, (5, 1))[1]
        try:
            with session.begin_nested():
                session.execute(sa.insert(counters).values(prefix=prefix, last=first))
        except sa.exc.IntegrityError:  # another writer created it first
            session.execute(
                sa.update(counters).where(counters.c.prefix == prefix).values(last=counters.c.last + 1)
            )
    number = session.execute(sa.select(counters.c.last).where(counters.c.prefix == prefix)).scalar_one()
    return format_id(prefix, number)


# --------------------------------------------------------------------------- CRM


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (
        sa.CheckConstraint(_in("account_type", ACCOUNT_TYPES), name="account_type"),
        sa.CheckConstraint(_in("status", CUSTOMER_STATUSES), name="status"),
    )

    id: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    email: Mapped[str] = mapped_column(sa.String(254), nullable=False, unique=True)  # stored lower-case
    phone: Mapped[str | None] = mapped_column(sa.String(20), index=True)  # E.164
    account_type: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="personal")
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="active")
    date_of_birth: Mapped[date | None] = mapped_column(sa.Date)
    email_verified: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    phone_verified: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    addresses: Mapped[list[Address]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", order_by="Address.id"
    )
    orders: Mapped[list[Order]] = relationship(back_populates="customer")


class Address(Base):
    __tablename__ = "addresses"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    customer_id: Mapped[str] = mapped_column(sa.ForeignKey("customers.id", ondelete="CASCADE"), nullable=False, index=True)
    label: Mapped[str] = mapped_column(sa.String(32), nullable=False, default="home")
    line1: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    line2: Mapped[str | None] = mapped_column(sa.String(200))
    city: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    region: Mapped[str | None] = mapped_column(sa.String(100))
    postal_code: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    country: Mapped[str] = mapped_column(sa.String(2), nullable=False)  # ISO 3166-1 alpha-2
    is_default: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)

    customer: Mapped[Customer] = relationship(back_populates="addresses")


# --------------------------------------------------------------------------- orders and shipping


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        sa.CheckConstraint(_in("status", ORDER_STATUSES), name="status"),
        sa.Index("ix_orders_customer_id_placed_at", "customer_id", "placed_at"),
    )

    id: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    customer_id: Mapped[str] = mapped_column(sa.ForeignKey("customers.id"), nullable=False)
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False, index=True)
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    ship_name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    ship_line1: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    ship_line2: Mapped[str | None] = mapped_column(sa.String(200))
    ship_city: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    ship_region: Mapped[str | None] = mapped_column(sa.String(100))
    ship_postal_code: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    ship_country: Mapped[str] = mapped_column(sa.String(2), nullable=False)
    total: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    currency: Mapped[str] = mapped_column(sa.String(3), nullable=False, default="USD")
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(sa.Text)

    customer: Mapped[Customer] = relationship(back_populates="orders")
    items: Mapped[list[OrderItem]] = relationship(back_populates="order", cascade="all, delete-orphan", order_by="OrderItem.id")
    shipments: Mapped[list[Shipment]] = relationship(back_populates="order", cascade="all, delete-orphan", order_by="Shipment.id")
    invoices: Mapped[list[Invoice]] = relationship(back_populates="order", order_by="Invoice.id")
    refunds: Mapped[list[Refund]] = relationship(back_populates="order", order_by="Refund.id")


class OrderItem(Base):
    __tablename__ = "order_items"
    __table_args__ = (
        sa.CheckConstraint(_in("state", ITEM_STATES), name="state"),
        sa.CheckConstraint("qty > 0", name="qty_positive"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    order_id: Mapped[str] = mapped_column(sa.ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True)
    sku: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    qty: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    unit_price: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    state: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="new")

    order: Mapped[Order] = relationship(back_populates="items")


class Shipment(Base):
    __tablename__ = "shipments"
    __table_args__ = (sa.CheckConstraint(_in("status", SHIPMENT_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    order_id: Mapped[str] = mapped_column(sa.ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True)
    carrier: Mapped[str] = mapped_column(sa.String(40), nullable=False)
    tracking_number: Mapped[str] = mapped_column(sa.String(40), nullable=False, unique=True)
    status: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    shipped_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    estimated_delivery: Mapped[date | None] = mapped_column(sa.Date)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    order: Mapped[Order] = relationship(back_populates="shipments")
    events: Mapped[list[TrackingEvent]] = relationship(
        back_populates="shipment", cascade="all, delete-orphan", order_by="(TrackingEvent.occurred_at, TrackingEvent.id)"
    )


class TrackingEvent(Base):
    __tablename__ = "tracking_events"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    shipment_id: Mapped[int] = mapped_column(sa.ForeignKey("shipments.id", ondelete="CASCADE"), nullable=False, index=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    location: Mapped[str | None] = mapped_column(sa.String(120))
    description: Mapped[str] = mapped_column(sa.String(200), nullable=False)

    shipment: Mapped[Shipment] = relationship(back_populates="events")


# --------------------------------------------------------------------------- billing


class Invoice(Base):
    __tablename__ = "invoices"
    __table_args__ = (sa.CheckConstraint(_in("status", INVOICE_STATUSES), name="status"),)

    id: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    order_id: Mapped[str] = mapped_column(sa.ForeignKey("orders.id"), nullable=False, index=True)
    customer_id: Mapped[str] = mapped_column(sa.ForeignKey("customers.id"), nullable=False, index=True)
    amount: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    currency: Mapped[str] = mapped_column(sa.String(3), nullable=False)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(sa.String(20), nullable=False)

    order: Mapped[Order] = relationship(back_populates="invoices")
    payments: Mapped[list[Payment]] = relationship(back_populates="invoice", cascade="all, delete-orphan", order_by="Payment.id")


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (
        sa.CheckConstraint(_in("method", PAYMENT_METHODS), name="method"),
        sa.CheckConstraint(_in("status", PAYMENT_STATUSES), name="status"),
        sa.CheckConstraint("last4 IS NULL OR length(last4) = 4", name="last4_only"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    invoice_id: Mapped[str] = mapped_column(sa.ForeignKey("invoices.id", ondelete="CASCADE"), nullable=False, index=True)
    method: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    card_brand: Mapped[str | None] = mapped_column(sa.String(20))
    last4: Mapped[str | None] = mapped_column(sa.String(4))  # card or gift card: last four digits only
    amount: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    currency: Mapped[str] = mapped_column(sa.String(3), nullable=False)
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    captured_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    invoice: Mapped[Invoice] = relationship(back_populates="payments")


class Refund(Base):
    __tablename__ = "refunds"
    __table_args__ = (
        sa.CheckConstraint(_in("status", REFUND_STATUSES), name="status"),
        sa.CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    order_id: Mapped[str] = mapped_column(sa.ForeignKey("orders.id"), nullable=False, index=True)
    invoice_id: Mapped[str | None] = mapped_column(sa.ForeignKey("invoices.id"))
    amount: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    currency: Mapped[str] = mapped_column(sa.String(3), nullable=False)
    reason: Mapped[str] = mapped_column(sa.Text, nullable=False)
    status: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    idempotency_key: Mapped[str] = mapped_column(sa.String(128), nullable=False, unique=True)
    conversation_id: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    order: Mapped[Order] = relationship(back_populates="refunds")


# --------------------------------------------------------------------------- ticketing


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        sa.CheckConstraint(_in("priority", TICKET_PRIORITIES), name="priority"),
        sa.CheckConstraint(_in("status", TICKET_STATUSES), name="status"),
    )

    id: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    customer_id: Mapped[str] = mapped_column(sa.ForeignKey("customers.id"), nullable=False, index=True)
    order_id: Mapped[str | None] = mapped_column(sa.ForeignKey("orders.id"))
    conversation_id: Mapped[str | None] = mapped_column(sa.String(255), index=True)
    category: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    priority: Mapped[str] = mapped_column(sa.String(8), nullable=False, default="normal")
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="open")
    subject: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    messages: Mapped[list[TicketMessage]] = relationship(
        back_populates="ticket", cascade="all, delete-orphan", order_by="(TicketMessage.created_at, TicketMessage.id)"
    )


class TicketMessage(Base):
    __tablename__ = "ticket_messages"
    __table_args__ = (sa.CheckConstraint(_in("author", MESSAGE_AUTHORS), name="author"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    ticket_id: Mapped[str] = mapped_column(sa.ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False, index=True)
    author: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    body: Mapped[str] = mapped_column(sa.Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    ticket: Mapped[Ticket] = relationship(back_populates="messages")


# --------------------------------------------------------------------------- scheduling


class AppointmentSlot(Base):
    __tablename__ = "appointment_slots"
    __table_args__ = (
        sa.CheckConstraint(_in("type", APPOINTMENT_TYPES), name="type"),
        sa.CheckConstraint("capacity > 0", name="capacity_positive"),
        sa.CheckConstraint("booked >= 0 AND booked <= capacity", name="booked_within_capacity"),
        sa.CheckConstraint("end_at > start_at", name="ends_after_start"),
        sa.UniqueConstraint("type", "start_at", "location"),
        sa.Index("ix_appointment_slots_type_start_at", "type", "start_at"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    type: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    location: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    capacity: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)
    booked: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)


class Appointment(Base):
    __tablename__ = "appointments"
    __table_args__ = (
        sa.CheckConstraint(_in("status", APPOINTMENT_STATUSES), name="status"),
        sa.CheckConstraint(_in("type", APPOINTMENT_TYPES), name="type"),
    )

    id: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    customer_id: Mapped[str] = mapped_column(sa.ForeignKey("customers.id"), nullable=False, index=True)
    slot_id: Mapped[int] = mapped_column(sa.ForeignKey("appointment_slots.id"), nullable=False, index=True)
    type: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="booked")
    notes: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    slot: Mapped[AppointmentSlot] = relationship()


# --------------------------------------------------------------------------- identity verification

_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


def hash_code(code: str, salt: bytes) -> str:
    """scrypt hash of a one-time code (hex); slow on purpose, since codes have few digits."""
    return hashlib.scrypt(code.strip().encode(), salt=salt, **_SCRYPT).hex()


class VerificationChallenge(Base):
    """A one-time code sent to a customer; only a salted scrypt hash of the code is stored."""

    __tablename__ = "verification_challenges"
    __table_args__ = (sa.CheckConstraint(_in("channel", CHANNELS), name="channel"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(sa.String(255), nullable=False, index=True)
    customer_id: Mapped[str] = mapped_column(sa.ForeignKey("customers.id"), nullable=False, index=True)
    channel: Mapped[str] = mapped_column(sa.String(8), nullable=False, default="email")
    salt: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    code_hash: Mapped[str] = mapped_column(sa.String(128), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    attempts: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    max_attempts: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=3)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @classmethod
    def issue(
        cls,
        conversation_id: str,
        customer_id: str,
        code: str,
        *,
        channel: str = "email",
        ttl: timedelta = timedelta(minutes=10),
        max_attempts: int = 3,
        now: datetime | None = None,
    ) -> VerificationChallenge:
        now = now or utcnow()
        salt = os.urandom(16)
        return cls(
            conversation_id=conversation_id,
            customer_id=customer_id,
            channel=channel,
            salt=salt.hex(),
            code_hash=hash_code(code, salt),
            created_at=now,
            expires_at=now + ttl,
            attempts=0,
            max_attempts=max_attempts,
        )

    def is_open(self, now: datetime | None = None) -> bool:
        """Whether the challenge can still be answered."""
        now = now or utcnow()
        return self.verified_at is None and self.attempts < self.max_attempts and now < self.expires_at

    def attempt(self, code: str, now: datetime | None = None) -> bool:
        """Check ``code``: counts the attempt and marks the challenge verified when it matches."""
        now = now or utcnow()
        if not self.is_open(now):
            return False
        self.attempts += 1
        if hmac.compare_digest(hash_code(code, bytes.fromhex(self.salt)), self.code_hash):
            self.verified_at = now
            return True
        return False


# --------------------------------------------------------------------------- approvals, notifications, audit


class ApprovalRequest(Base):
    """A tool call held back until a person approves it (e.g. a refund above a limit)."""

    __tablename__ = "approval_requests"
    __table_args__ = (sa.CheckConstraint(_in("status", APPROVAL_STATUSES), name="status"),)

    id: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(sa.String(255), nullable=False, index=True)
    customer_id: Mapped[str | None] = mapped_column(sa.ForeignKey("customers.id"), index=True)
    tool: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    parameters: Mapped[dict[str, Any]] = mapped_column(sa.JSON, nullable=False)
    amount: Mapped[Decimal | None] = mapped_column(MONEY)
    currency: Mapped[str | None] = mapped_column(sa.String(3))
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="pending", index=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(sa.String(100))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(sa.Text)
    executed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OutboxMessage(Base):
    """A notification waiting for (or already handed to) a delivery channel."""

    __tablename__ = "outbox_messages"
    __table_args__ = (sa.CheckConstraint(_in("channel", CHANNELS), name="channel"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(sa.String(8), nullable=False)
    recipient: Mapped[str] = mapped_column(sa.String(254), nullable=False)
    subject: Mapped[str | None] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class AuditRecord(Base):
    """One tool call, chained to the previous record by ``hash`` (see :mod:`.audit`)."""

    __tablename__ = "audit_records"

    seq: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=False)
    time: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    conversation_id: Mapped[str | None] = mapped_column(sa.String(255), index=True)
    customer_id: Mapped[str | None] = mapped_column(sa.String(16), index=True)  # no FK: outlives the customer row
    tool: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    parameters: Mapped[dict[str, Any]] = mapped_column(sa.JSON, nullable=False)  # already masked
    outcome: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    latency_ms: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    prev_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    hash: Mapped[str] = mapped_column(sa.String(64), nullable=False)


class AuditHead(Base):
    """The chain's newest link (one row, id 1): the lock that serialises appends, and the
    record count that exposes records cut off the end of the log."""

    __tablename__ = "audit_head"
    __table_args__ = (sa.CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False)
    last_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    # Where the chain starts: record ``first_seq`` links to ``base_hash`` (1 and the genesis hash
    # until the retention period deletes old records).
    first_seq: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False, server_default="1")
    base_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False, server_default=GENESIS_HASH)


@event.listens_for(AuditRecord, "before_update")
@event.listens_for(AuditRecord, "before_delete")
def _audit_is_append_only(mapper, connection, target) -> None:
    raise PermissionError("audit records are append-only")
