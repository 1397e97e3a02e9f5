"""SQL implementations of the back-office protocols in :mod:`.interfaces`.

Each system takes where its data lives (a URL, an engine or a session factory; default
:func:`~.db.default_url`) and an optional ``clock`` returning the current aware UTC time (tests
and demos pin it). Every method runs in its own transaction and returns plain records.

Writes that check and then change data lock what they check: the order row for refunds
(``SELECT ... FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), and slot capacity is
taken with one conditional ``UPDATE``, so concurrent bookings cannot overfill a slot.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import phonenumbers
import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from . import interfaces as i
from . import models as m
from .db import session_factory, session_scope
from .interfaces import Conflict, InvalidRequest, NotAllowed, NotFound

Clock = Callable[[], datetime]
Database = str | URL | Engine | sessionmaker | None

CANCELLABLE = frozenset({"pending", "paid", "processing"})
ADDRESS_CHANGEABLE = frozenset({"pending", "paid", "processing"})
IN_PROGRESS = frozenset({"pending", "paid", "processing", "shipped", "in_transit"})
REFUND_TRANSITIONS = {
    "requested": {"pending_approval", "approved", "rejected"},
    "pending_approval": {"approved", "rejected"},
    "approved": {"issued", "rejected"},
    "rejected": set(),
    "issued": set(),
}
RESERVING_REFUNDS = ("requested", "pending_approval", "approved", "issued")  # count against what can be refunded
CENT = Decimal("0.01")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ID = re.compile(r"^([A-Z]{3})?[-_ ]?(\d+)$")


# --------------------------------------------------------------------------- helpers


def normalise_id(value: Any, prefix: str) -> str:
    """``ord10001``, ``ORD 10001`` and ``10001`` all become ``ORD-10001``; anything else is upper-cased."""
    text = re.sub(r"\s+", "", str(value or "")).upper()
    match = _ID.match(text)
    if not match or (match.group(1) and match.group(1) != prefix):
        return text
    digits = match.group(2)
    width = m.ID_FORMATS.get(prefix, (5, 1))[0]
    return f"{prefix}-{int(digits):0{width}d}" if len(digits) <= width else f"{prefix}-{digits}"


def normalise_phone(phone: str, region: str = "US") -> str | None:
    """E.164 form of ``phone`` (``None`` when it cannot be a phone number).

    Checks the number's shape (length per country) rather than live numbering plans, so reserved
    ranges such as the fictional +44 7700 900xxx used in demos are accepted.
    """
    try:
        parsed = phonenumbers.parse(str(phone), region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def to_money(value: Any) -> Decimal:
    """A positive amount rounded to cents; ``InvalidRequest`` otherwise."""
    try:
        amount = Decimal(str(value).strip().lstrip("$€£")) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError):
        raise InvalidRequest(f"not an amount: {value!r}", reason="bad_amount") from None
    if not amount.is_finite() or amount <= 0:
        raise InvalidRequest("amount must be positive", reason="bad_amount")
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _start_of(value: datetime | date) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return datetime.combine(value, time.min, tzinfo=timezone.utc)


def _end_of(value: datetime | date) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return datetime.combine(value + timedelta(days=1), time.min, tzinfo=timezone.utc)


def _required(value: Any, what: str) -> str:
    text = str(value or "").strip()
    if not text:
        raise InvalidRequest(f"{what} is required", reason=f"missing_{what}")
    return text


def _choice(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise InvalidRequest(f"{what} must be one of {', '.join(allowed)}", reason=f"bad_{what}")
    return value


# --------------------------------------------------------------------------- ORM -> records


def address_record(a: m.Address) -> i.Address:
    return i.Address(
        line1=a.line1, line2=a.line2, city=a.city, region=a.region, postal_code=a.postal_code,
        country=a.country, label=a.label, is_default=a.is_default,
    )


def customer_record(c: m.Customer) -> i.Customer:
    return i.Customer(
        id=c.id, name=c.name, email=c.email, phone=c.phone, account_type=c.account_type, status=c.status,
        created_at=c.created_at, email_verified=c.email_verified, phone_verified=c.phone_verified,
        date_of_birth=c.date_of_birth, closed_at=c.closed_at,
        addresses=tuple(address_record(a) for a in c.addresses),
    )


def order_record(o: m.Order) -> i.Order:
    return i.Order(
        id=o.id, customer_id=o.customer_id, status=o.status, placed_at=o.placed_at, total=o.total,
        currency=o.currency,
        shipping_address=i.Address(
            name=o.ship_name, line1=o.ship_line1, line2=o.ship_line2, city=o.ship_city, region=o.ship_region,
            postal_code=o.ship_postal_code, country=o.ship_country,
        ),
        items=tuple(i.OrderItem(sku=it.sku, name=it.name, qty=it.qty, unit_price=it.unit_price, state=it.state) for it in o.items),
        updated_at=o.updated_at, cancelled_at=o.cancelled_at, cancel_reason=o.cancel_reason,
    )


def tracking_record(s: m.Shipment) -> i.Tracking:
    return i.Tracking(
        order_id=s.order_id, carrier=s.carrier, tracking_number=s.tracking_number, status=s.status,
        shipped_at=s.shipped_at, estimated_delivery=s.estimated_delivery, delivered_at=s.delivered_at,
        events=tuple(i.TrackingEvent(time=e.occurred_at, location=e.location, description=e.description) for e in s.events),
    )


def payment_record(p: m.Payment) -> i.Payment:
    return i.Payment(
        method=p.method, amount=p.amount, currency=p.currency, status=p.status, created_at=p.created_at,
        card_brand=p.card_brand, last4=p.last4, captured_at=p.captured_at,
    )


def invoice_record(inv: m.Invoice) -> i.Invoice:
    return i.Invoice(
        id=inv.id, order_id=inv.order_id, customer_id=inv.customer_id, amount=inv.amount, currency=inv.currency,
        issued_at=inv.issued_at, status=inv.status, due_at=inv.due_at,
        payments=tuple(payment_record(p) for p in inv.payments),
    )


def refund_record(r: m.Refund) -> i.Refund:
    return i.Refund(
        id=r.id, order_id=r.order_id, amount=r.amount, currency=r.currency, reason=r.reason, status=r.status,
        idempotency_key=r.idempotency_key, created_at=r.created_at, updated_at=r.updated_at,
        issued_at=r.issued_at, invoice_id=r.invoice_id,
    )


def ticket_record(t: m.Ticket) -> i.Ticket:
    return i.Ticket(
        id=t.id, customer_id=t.customer_id, category=t.category, priority=t.priority, status=t.status,
        subject=t.subject, created_at=t.created_at, updated_at=t.updated_at, order_id=t.order_id,
        conversation_id=t.conversation_id,
        messages=tuple(i.TicketMessage(author=msg.author, body=msg.body, time=msg.created_at) for msg in t.messages),
    )


def slot_record(s: m.AppointmentSlot) -> i.Slot:
    return i.Slot(id=s.id, type=s.type, start=s.start_at, end=s.end_at, location=s.location, capacity=s.capacity, booked=s.booked)


def appointment_record(a: m.Appointment) -> i.Appointment:
    return i.Appointment(
        id=a.id, customer_id=a.customer_id, type=a.type, status=a.status, slot=slot_record(a.slot),
        created_at=a.created_at, notes=a.notes, cancelled_at=a.cancelled_at,
    )


# --------------------------------------------------------------------------- systems


class _SQLSystem:
    def __init__(self, db: Database = None, *, clock: Clock | None = None) -> None:
        self.sessions: sessionmaker[Session] = db if isinstance(db, sessionmaker) else session_factory(db)
        self.clock: Clock = clock or m.utcnow

    def _read(self):
        return session_scope(self.sessions)

    def _write(self):
        return session_scope(self.sessions, write=True)

    @staticmethod
    def _customer(s: Session, customer_id: str, *, lock: bool = False) -> m.Customer:
        stmt = sa.select(m.Customer).where(m.Customer.id == normalise_id(customer_id, "CUS"))
        customer = s.scalars(stmt.with_for_update() if lock else stmt).one_or_none()
        if customer is None:
            raise NotFound(f"no customer {customer_id}")
        return customer

    @staticmethod
    def _order(s: Session, order_id: str, *, lock: bool = False) -> m.Order:
        stmt = sa.select(m.Order).where(m.Order.id == normalise_id(order_id, "ORD"))
        order = s.scalars(stmt.with_for_update() if lock else stmt).one_or_none()
        if order is None:
            raise NotFound(f"no order {order_id}")
        return order


class SQLCRM(_SQLSystem):
    """Customer records. Emails are matched case-insensitively, phones in E.164 form
    (numbers without a country code are read in ``default_region``)."""

    def __init__(self, db: Database = None, *, clock: Clock | None = None, default_region: str = "US") -> None:
        super().__init__(db, clock=clock)
        self.default_region = default_region

    def _find(self, condition) -> i.Customer | None:
        with self._read() as s:
            customer = s.scalars(sa.select(m.Customer).where(condition).options(selectinload(m.Customer.addresses))).first()
            return customer_record(customer) if customer else None

    def find_customer_by_email(self, email: str) -> i.Customer | None:
        return self._find(m.Customer.email == str(email or "").strip().lower())

    def find_customer_by_phone(self, phone: str) -> i.Customer | None:
        e164 = normalise_phone(phone, self.default_region)
        return self._find(m.Customer.phone == e164) if e164 else None

    def find_customer_by_order(self, order_id: str) -> i.Customer | None:
        owner = sa.select(m.Order.customer_id).where(m.Order.id == normalise_id(order_id, "ORD")).scalar_subquery()
        return self._find(m.Customer.id == owner)

    def get_customer(self, customer_id: str) -> i.Customer | None:
        return self._find(m.Customer.id == normalise_id(customer_id, "CUS"))

    def update_customer(
        self, customer_id: str, *, name: str | None = None, email: str | None = None, phone: str | None = None
    ) -> i.Customer:
        try:
            with self._write() as s:
                customer = self._customer(s, customer_id, lock=True)
                if customer.status == "closed":
                    raise NotAllowed(f"account {customer.id} is closed", reason="account_closed")
                if name is not None:
                    customer.name = _required(name, "name")
                if email is not None:
                    email = str(email).strip().lower()
                    if not _EMAIL.match(email):
                        raise InvalidRequest(f"not an email address: {email!r}", reason="bad_email")
                    if email != customer.email:
                        taken = s.scalar(sa.select(m.Customer.id).where(m.Customer.email == email))
                        if taken:
                            raise Conflict("that email address belongs to another account", reason="email_in_use")
                        customer.email, customer.email_verified = email, False
                if phone is not None:
                    e164 = normalise_phone(phone, self.default_region)
                    if e164 is None:
                        raise InvalidRequest(f"not a valid phone number: {phone!r}", reason="bad_phone")
                    if e164 != customer.phone:
                        customer.phone, customer.phone_verified = e164, False
                customer.updated_at = self.clock()
                s.flush()
                return customer_record(customer)
        except IntegrityError:  # another writer took the email first
            raise Conflict("that email address belongs to another account", reason="email_in_use") from None

    def close_account(self, customer_id: str, *, reason: str | None = None) -> i.Customer:
        """Close the account (idempotent); refused while orders are still in progress."""
        with self._write() as s:
            customer = self._customer(s, customer_id, lock=True)
            if customer.status != "closed":
                busy = s.scalars(
                    sa.select(m.Order.id).where(m.Order.customer_id == customer.id, m.Order.status.in_(IN_PROGRESS))
                ).all()
                if busy:
                    raise NotAllowed(f"orders still in progress: {', '.join(sorted(busy))}", reason="orders_in_progress")
                now = self.clock()
                customer.status, customer.closed_at, customer.updated_at = "closed", now, now
                s.flush()
            return customer_record(customer)


class SQLOrders(_SQLSystem):
    """Orders and shipment tracking. Orders can be cancelled or re-addressed until they ship."""

    def get_order(self, order_id: str) -> i.Order | None:
        with self._read() as s:
            order = s.get(m.Order, normalise_id(order_id, "ORD"), options=[selectinload(m.Order.items)])
            return order_record(order) if order else None

    def list_orders(self, customer_id: str, *, status: str | None = None, limit: int = 20) -> list[i.Order]:
        """The customer's orders, newest first."""
        with self._read() as s:
            customer = self._customer(s, customer_id)
            stmt = sa.select(m.Order).where(m.Order.customer_id == customer.id)
            if status is not None:
                stmt = stmt.where(m.Order.status == _choice(status, m.ORDER_STATUSES, "status"))
            stmt = stmt.order_by(m.Order.placed_at.desc(), m.Order.id.desc()).limit(max(1, int(limit)))
            return [order_record(o) for o in s.scalars(stmt.options(selectinload(m.Order.items)))]

    def cancel_order(self, order_id: str, *, reason: str | None = None) -> i.Order:
        """Cancel an order that has not shipped (idempotent); an unpaid invoice is voided.
        Money already taken is returned through :meth:`SQLBilling.create_refund`."""
        with self._write() as s:
            order = self._order(s, order_id, lock=True)
            if order.status != "cancelled":
                if order.status not in CANCELLABLE:
                    raise NotAllowed(f"order {order.id} is {order.status.replace('_', ' ')}", reason=_too_late(order.status))
                now = self.clock()
                order.status, order.cancelled_at, order.updated_at = "cancelled", now, now
                order.cancel_reason = (reason or "").strip() or None
                for invoice in s.scalars(sa.select(m.Invoice).where(m.Invoice.order_id == order.id, m.Invoice.status == "open")):
                    invoice.status = "void"
                    for payment in invoice.payments:
                        if payment.status in ("pending", "authorized"):
                            payment.status = "voided"
                s.flush()
            return order_record(order)

    def change_address(self, order_id: str, address: i.Address | Mapping[str, Any]) -> i.Order:
        """Ship the order somewhere else; only before it ships."""
        if not isinstance(address, i.Address):
            address = i.Address.from_mapping(address)
        else:
            address = i.Address.from_mapping(dataclasses.asdict(address))
        with self._write() as s:
            order = self._order(s, order_id, lock=True)
            if order.status not in ADDRESS_CHANGEABLE:
                raise NotAllowed(f"order {order.id} is {order.status.replace('_', ' ')}", reason=_too_late(order.status))
            order.ship_name = address.name or order.ship_name
            order.ship_line1, order.ship_line2 = address.line1, address.line2
            order.ship_city, order.ship_region = address.city, address.region
            order.ship_postal_code, order.ship_country = address.postal_code, address.country
            order.updated_at = self.clock()
            s.flush()
            return order_record(order)

    def tracking(self, order_id: str) -> i.Tracking | None:
        with self._read() as s:
            order = self._order(s, order_id)
            shipment = s.scalars(
                sa.select(m.Shipment)
                .where(m.Shipment.order_id == order.id)
                .order_by(m.Shipment.shipped_at.desc(), m.Shipment.id.desc())
                .options(selectinload(m.Shipment.events))
            ).first()
            return tracking_record(shipment) if shipment else None


def _too_late(status: str) -> str:
    if status in ("shipped", "in_transit", "delivered"):
        return "already_shipped"
    return {"cancelled": "order_cancelled", "returned": "order_returned"}.get(status, f"order_{status}")


class SQLBilling(_SQLSystem):
    """Invoices, payments and refunds."""

    def get_invoice(self, invoice_id: str) -> i.Invoice | None:
        with self._read() as s:
            invoice = s.get(m.Invoice, normalise_id(invoice_id, "INV"), options=[selectinload(m.Invoice.payments)])
            return invoice_record(invoice) if invoice else None

    def list_invoices(self, customer_id: str) -> list[i.Invoice]:
        """The customer's invoices, newest first."""
        with self._read() as s:
            customer = self._customer(s, customer_id)
            stmt = (
                sa.select(m.Invoice)
                .where(m.Invoice.customer_id == customer.id)
                .order_by(m.Invoice.issued_at.desc(), m.Invoice.id.desc())
                .options(selectinload(m.Invoice.payments))
            )
            return [invoice_record(inv) for inv in s.scalars(stmt)]

    @staticmethod
    def _money(s: Session, order: m.Order) -> tuple[m.Invoice | None, Decimal]:
        """The order's current invoice (the newest that is not void) and the amount paid on all its invoices."""
        invoices = s.scalars(
            sa.select(m.Invoice).where(m.Invoice.order_id == order.id).order_by(m.Invoice.issued_at, m.Invoice.id)
        ).all()
        current = next((inv for inv in reversed(invoices) if inv.status != "void"), invoices[-1] if invoices else None)
        paid = sum(
            (p.amount for inv in invoices for p in inv.payments if p.status in ("captured", "refunded")), Decimal("0.00")
        )
        return current, paid

    def _refunded(self, s: Session, order_id: str, statuses: tuple[str, ...]) -> Decimal:
        total = s.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(m.Refund.amount), 0)).where(
                m.Refund.order_id == order_id, m.Refund.status.in_(statuses)
            )
        )
        return Decimal(str(total)).quantize(CENT)

    def payment_status(self, order_id: str) -> i.PaymentStatus:
        with self._read() as s:
            order = self._order(s, order_id)
            invoice, paid = self._money(s, order)
            refunded = self._refunded(s, order.id, ("issued",))
            payments = tuple(payment_record(p) for p in invoice.payments) if invoice else ()
            if invoice is None:
                status, due = "not_invoiced", Decimal("0.00")
            elif invoice.status == "void":
                status, due = "void", Decimal("0.00")
            else:
                due = max(invoice.amount - paid, Decimal("0.00")) if invoice.status == "open" else Decimal("0.00")
                if paid > 0 and refunded >= paid:
                    status = "refunded"
                elif refunded > 0:
                    status = "partially_refunded"
                elif paid >= invoice.amount:
                    status = "paid"
                elif any(p.status == "failed" for p in invoice.payments):
                    status = "failed"
                else:
                    status = "unpaid"
            return i.PaymentStatus(
                order_id=order.id, status=status, currency=order.currency, amount_due=due, amount_paid=paid,
                amount_refunded=refunded, invoice_id=invoice.id if invoice else None, payments=payments,
            )

    def create_refund(
        self,
        order_id: str,
        amount: Decimal | str | int,
        reason: str,
        *,
        idempotency_key: str,
        status: str = "requested",
        conversation_id: str | None = None,
    ) -> i.Refund:
        key = _required(idempotency_key, "idempotency_key")
        amount = to_money(amount)
        reason = _required(reason, "reason")
        _choice(status, ("requested", "pending_approval"), "status")
        order_key = normalise_id(order_id, "ORD")
        try:
            with self._write() as s:
                existing = s.scalars(sa.select(m.Refund).where(m.Refund.idempotency_key == key)).one_or_none()
                if existing is not None:
                    return self._replayed(existing, order_key, amount)
                order = self._order(s, order_key, lock=True)  # serialises refunds of one order
                invoice, paid = self._money(s, order)
                if paid <= 0:
                    raise NotAllowed(f"nothing has been paid for order {order.id}", reason="not_paid")
                refundable = paid - self._refunded(s, order.id, RESERVING_REFUNDS)
                if amount > refundable:
                    raise NotAllowed(
                        f"at most {refundable} {order.currency} can still be refunded for order {order.id}",
                        reason="exceeds_refundable",
                    )
                now = self.clock()
                refund = m.Refund(
                    id=m.next_id(s, "RFD"), order_id=order.id, invoice_id=invoice.id if invoice else None, amount=amount,
                    currency=order.currency, reason=reason, status=status, idempotency_key=key,
                    conversation_id=conversation_id, created_at=now, updated_at=now,
                )
                s.add(refund)
                s.flush()
                return refund_record(refund)
        except IntegrityError:  # the same key committed by a concurrent call
            with self._read() as s:
                existing = s.scalars(sa.select(m.Refund).where(m.Refund.idempotency_key == key)).one_or_none()
                if existing is None:
                    raise
                return self._replayed(existing, order_key, amount)

    @staticmethod
    def _replayed(existing: m.Refund, order_id: str, amount: Decimal) -> i.Refund:
        if existing.order_id != order_id or existing.amount != amount:
            raise Conflict("idempotency key already used for a different refund", reason="idempotency_key_reused")
        return refund_record(existing)

    def get_refund(self, refund_id: str) -> i.Refund | None:
        with self._read() as s:
            refund = s.get(m.Refund, normalise_id(refund_id, "RFD"))
            return refund_record(refund) if refund else None

    def refunds_for_order(self, order_id: str) -> list[i.Refund]:
        with self._read() as s:
            order = self._order(s, order_id)
            stmt = sa.select(m.Refund).where(m.Refund.order_id == order.id).order_by(m.Refund.created_at, m.Refund.id)
            return [refund_record(r) for r in s.scalars(stmt)]

    def set_refund_status(self, refund_id: str, status: str) -> i.Refund:
        _choice(status, m.REFUND_STATUSES, "status")
        with self._write() as s:
            refund = s.scalars(
                sa.select(m.Refund).where(m.Refund.id == normalise_id(refund_id, "RFD")).with_for_update()
            ).one_or_none()
            if refund is None:
                raise NotFound(f"no refund {refund_id}")
            if refund.status == status:
                return refund_record(refund)
            if status not in REFUND_TRANSITIONS[refund.status]:
                raise NotAllowed(f"refund {refund.id} is {refund.status}; it cannot become {status}", reason="invalid_transition")
            now = self.clock()
            refund.status, refund.updated_at = status, now
            if status == "issued":
                refund.issued_at = now
                s.flush()
                order = s.get(m.Order, refund.order_id)
                invoice, paid = self._money(s, order)
                if invoice is not None and invoice.status in ("paid", "partially_refunded"):
                    issued = self._refunded(s, order.id, ("issued",))
                    invoice.status = "refunded" if issued >= paid else "partially_refunded"
            s.flush()
            return refund_record(refund)


class SQLTicketing(_SQLSystem):
    """Support tickets and their message threads."""

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
    ) -> i.Ticket:
        subject = _required(subject, "subject")[:200]
        body = _required(body, "body")
        category = _required(category, "category").lower()
        _choice(priority, m.TICKET_PRIORITIES, "priority")
        with self._write() as s:
            customer = self._customer(s, customer_id)
            order_key = None
            if order_id is not None:
                order = self._order(s, order_id)
                if order.customer_id != customer.id:
                    raise InvalidRequest(f"order {order.id} belongs to another customer", reason="order_of_other_customer")
                order_key = order.id
            now = self.clock()
            ticket = m.Ticket(
                id=m.next_id(s, "TCK"), customer_id=customer.id, order_id=order_key, conversation_id=conversation_id,
                category=category, priority=priority, status="open", subject=subject, created_at=now, updated_at=now,
            )
            ticket.messages.append(m.TicketMessage(author="customer", body=body, created_at=now))
            s.add(ticket)
            s.flush()
            return ticket_record(ticket)

    def add_message(self, ticket_id: str, body: str, *, author: str = "customer") -> i.Ticket:
        """Add to the thread; a customer's message reopens a pending or resolved ticket."""
        body = _required(body, "body")
        _choice(author, m.MESSAGE_AUTHORS, "author")
        with self._write() as s:
            ticket = s.get(m.Ticket, normalise_id(ticket_id, "TCK"))
            if ticket is None:
                raise NotFound(f"no ticket {ticket_id}")
            if ticket.status == "closed":
                raise NotAllowed(f"ticket {ticket.id} is closed", reason="ticket_closed")
            now = self.clock()
            ticket.messages.append(m.TicketMessage(author=author, body=body, created_at=now))
            if author == "customer" and ticket.status in ("pending", "resolved"):
                ticket.status = "open"
            ticket.updated_at = now
            s.flush()
            return ticket_record(ticket)

    def get_ticket(self, ticket_id: str) -> i.Ticket | None:
        with self._read() as s:
            ticket = s.get(m.Ticket, normalise_id(ticket_id, "TCK"), options=[selectinload(m.Ticket.messages)])
            return ticket_record(ticket) if ticket else None

    def list_tickets(self, customer_id: str, *, status: str | None = None) -> list[i.Ticket]:
        """The customer's tickets, most recently updated first."""
        with self._read() as s:
            customer = self._customer(s, customer_id)
            stmt = sa.select(m.Ticket).where(m.Ticket.customer_id == customer.id)
            if status is not None:
                stmt = stmt.where(m.Ticket.status == _choice(status, m.TICKET_STATUSES, "status"))
            stmt = stmt.order_by(m.Ticket.updated_at.desc(), m.Ticket.id.desc()).options(selectinload(m.Ticket.messages))
            return [ticket_record(t) for t in s.scalars(stmt)]


class SQLScheduling(_SQLSystem):
    """Store appointments (fittings, repairs, bike services) in fixed-capacity slots."""

    def available_slots(
        self, type: str, *, start: datetime | date | None = None, end: datetime | date | None = None, limit: int = 20
    ) -> list[i.Slot]:
        """Future slots of ``type`` with room left, earliest first; ``end`` as a date includes that day."""
        _choice(type, m.APPOINTMENT_TYPES, "type")
        now = self.clock()
        since = max(_start_of(start), now) if start is not None else now
        stmt = sa.select(m.AppointmentSlot).where(
            m.AppointmentSlot.type == type,
            m.AppointmentSlot.start_at >= since,
            m.AppointmentSlot.booked < m.AppointmentSlot.capacity,
        )
        if end is not None:
            stmt = stmt.where(m.AppointmentSlot.start_at < _end_of(end))
        stmt = stmt.order_by(m.AppointmentSlot.start_at, m.AppointmentSlot.id).limit(max(1, int(limit)))
        with self._read() as s:
            return [slot_record(slot) for slot in s.scalars(stmt)]

    def _slot(self, s: Session, slot_id: int) -> m.AppointmentSlot:
        try:
            slot = s.get(m.AppointmentSlot, int(slot_id))
        except (TypeError, ValueError):
            slot = None
        if slot is None:
            raise NotFound(f"no slot {slot_id}")
        if slot.start_at <= self.clock():
            raise NotAllowed("that slot has already started", reason="slot_in_past")
        return slot

    @staticmethod
    def _take(s: Session, slot: m.AppointmentSlot) -> None:
        slots = m.AppointmentSlot.__table__
        taken = s.execute(
            sa.update(slots).where(slots.c.id == slot.id, slots.c.booked < slots.c.capacity).values(booked=slots.c.booked + 1)
        ).rowcount
        if not taken:
            raise NotAllowed("that slot is fully booked", reason="slot_full")
        s.refresh(slot)

    @staticmethod
    def _release(s: Session, slot: m.AppointmentSlot) -> None:
        slots = m.AppointmentSlot.__table__
        s.execute(sa.update(slots).where(slots.c.id == slot.id, slots.c.booked > 0).values(booked=slots.c.booked - 1))
        s.refresh(slot)

    def _appointment(self, s: Session, appointment_id: str) -> m.Appointment:
        appointment = s.get(m.Appointment, normalise_id(appointment_id, "APT"))
        if appointment is None:
            raise NotFound(f"no appointment {appointment_id}")
        return appointment

    def book(self, customer_id: str, slot_id: int, *, notes: str | None = None) -> i.Appointment:
        """Book a place in a slot; booking the same slot again returns the existing appointment."""
        with self._write() as s:
            customer = self._customer(s, customer_id)
            if customer.status == "closed":
                raise NotAllowed(f"account {customer.id} is closed", reason="account_closed")
            slot = self._slot(s, slot_id)
            existing = s.scalars(
                sa.select(m.Appointment).where(
                    m.Appointment.customer_id == customer.id, m.Appointment.slot_id == slot.id, m.Appointment.status == "booked"
                )
            ).first()
            if existing is not None:
                return appointment_record(existing)
            self._take(s, slot)
            now = self.clock()
            appointment = m.Appointment(
                id=m.next_id(s, "APT"), customer_id=customer.id, slot_id=slot.id, type=slot.type, status="booked",
                notes=(notes or "").strip() or None, created_at=now, updated_at=now,
            )
            s.add(appointment)
            s.flush()
            return appointment_record(appointment)

    def reschedule(self, appointment_id: str, slot_id: int) -> i.Appointment:
        with self._write() as s:
            appointment = self._appointment(s, appointment_id)
            if appointment.status != "booked":
                raise NotAllowed(f"appointment {appointment.id} is cancelled", reason="appointment_cancelled")
            if appointment.slot.start_at <= self.clock():
                raise NotAllowed(f"appointment {appointment.id} has already started", reason="appointment_in_past")
            new_slot = self._slot(s, slot_id)
            if new_slot.id == appointment.slot_id:
                return appointment_record(appointment)
            if new_slot.type != appointment.type:
                raise NotAllowed(f"slot {new_slot.id} is for {new_slot.type}, not {appointment.type}", reason="slot_type_mismatch")
            self._take(s, new_slot)
            self._release(s, appointment.slot)
            appointment.slot_id, appointment.slot = new_slot.id, new_slot
            appointment.updated_at = self.clock()
            s.flush()
            return appointment_record(appointment)

    def cancel(self, appointment_id: str, *, reason: str | None = None) -> i.Appointment:
        """Cancel (idempotent) and free the place; refused once the appointment has started."""
        with self._write() as s:
            appointment = self._appointment(s, appointment_id)
            if appointment.status == "cancelled":
                return appointment_record(appointment)
            if appointment.slot.start_at <= self.clock():
                raise NotAllowed(f"appointment {appointment.id} has already started", reason="appointment_in_past")
            self._release(s, appointment.slot)
            now = self.clock()
            appointment.status, appointment.cancelled_at, appointment.updated_at = "cancelled", now, now
            if reason and reason.strip():
                appointment.notes = "\n".join(filter(None, [appointment.notes, f"Cancelled: {reason.strip()}"]))
            s.flush()
            return appointment_record(appointment)

    def get_appointment(self, appointment_id: str) -> i.Appointment | None:
        with self._read() as s:
            appointment = s.get(m.Appointment, normalise_id(appointment_id, "APT"))
            return appointment_record(appointment) if appointment else None

    def list_appointments(self, customer_id: str, *, include_cancelled: bool = False) -> list[i.Appointment]:
        """The customer's appointments in slot order."""
        with self._read() as s:
            customer = self._customer(s, customer_id)
            stmt = (
                sa.select(m.Appointment)
                .join(m.Appointment.slot)
                .where(m.Appointment.customer_id == customer.id)
                .order_by(m.AppointmentSlot.start_at, m.Appointment.id)
                .options(selectinload(m.Appointment.slot))
            )
            if not include_cancelled:
                stmt = stmt.where(m.Appointment.status == "booked")
            return [appointment_record(a) for a in s.scalars(stmt)]


# --------------------------------------------------------------------------- bundle


@dataclass(frozen=True)
class Backoffice:
    """The six systems an assistant's tools use, as one object."""

    crm: i.CRM
    orders: i.Orders
    billing: i.Billing
    ticketing: i.Ticketing
    scheduling: i.Scheduling
    notifier: i.Notifier


def open_backoffice(db: Database = None, *, clock: Clock | None = None, notifier: i.Notifier | None = None) -> Backoffice:
    """SQL systems on one database; notifications go to its outbox unless ``notifier`` is given."""
    from .notifier import OutboxNotifier

    sessions = db if isinstance(db, sessionmaker) else session_factory(db)
    return Backoffice(
        crm=SQLCRM(sessions, clock=clock),
        orders=SQLOrders(sessions, clock=clock),
        billing=SQLBilling(sessions, clock=clock),
        ticketing=SQLTicketing(sessions, clock=clock),
        scheduling=SQLScheduling(sessions, clock=clock),
        notifier=notifier or OutboxNotifier(sessions, clock=clock),
    )
