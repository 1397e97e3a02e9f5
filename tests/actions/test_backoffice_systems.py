"""The SQL implementations of CRM, Orders, Billing, Ticketing and Scheduling, on the seeded demo data.

Read-only tests share one seeded database per backend (``seeded_url``); tests that change data get
their own copy (``fresh_seeded_url``).
"""

import json
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from backoffice_helpers import NOW, TODAY, clock

from actions.backoffice import db
from actions.backoffice import interfaces as i
from actions.backoffice.interfaces import Conflict, InvalidRequest, NotAllowed, NotFound
from actions.backoffice.sql import (
    SQLCRM,
    SQLBilling,
    SQLOrders,
    SQLScheduling,
    SQLTicketing,
    normalise_id,
    open_backoffice,
)


def row(url, sql, **params):
    with db.engine_for(url).connect() as conn:
        found = conn.execute(sa.text(sql), params).first()
    assert found is not None, sql
    return found


def scalar(url, sql, **params):
    return row(url, sql, **params)[0]


def order_in(url, status, extra=""):
    return scalar(url, f"SELECT id FROM orders WHERE status = :s {extra} ORDER BY id LIMIT 1", s=status)


def idle_active_customer(url):
    """An active customer without orders in progress."""
    return scalar(
        url,
        "SELECT id FROM customers c WHERE status = 'active' AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id"
        " AND o.status IN ('pending','paid','processing','shipped','in_transit')) ORDER BY id LIMIT 1",
    )


# --------------------------------------------------------------------------- shared


def test_ids_are_normalised():
    assert normalise_id("ord10001", "ORD") == "ORD-10001"
    assert normalise_id(" ORD 10001 ", "ORD") == "ORD-10001"
    assert normalise_id("10001", "ORD") == "ORD-10001"
    assert normalise_id("tck-7", "TCK") == "TCK-00007"
    assert normalise_id("cus-1", "CUS") == "CUS-0001"
    assert normalise_id("INV-100001", "ORD") == "INV-100001"  # another kind of id stays what it is


def test_sql_systems_implement_the_protocols(seeded_url):
    bo = open_backoffice(seeded_url, clock=clock)
    assert isinstance(bo.crm, i.CRM) and isinstance(bo.orders, i.Orders) and isinstance(bo.billing, i.Billing)
    assert isinstance(bo.ticketing, i.Ticketing) and isinstance(bo.scheduling, i.Scheduling)
    assert isinstance(bo.notifier, i.Notifier)


def test_records_are_plain_json_ready_data(seeded_url):
    order = SQLOrders(seeded_url).get_order(order_in(seeded_url, "delivered"))
    data = order.to_dict()
    json.dumps(data)
    assert isinstance(data["total"], str) and isinstance(data["items"], list)
    with pytest.raises(AttributeError):
        order.status = "cancelled"  # frozen


# --------------------------------------------------------------------------- CRM


def test_find_customer_by_email(seeded_url):
    cid, email = row(seeded_url, "SELECT id, email FROM customers ORDER BY id LIMIT 1")
    crm = SQLCRM(seeded_url)
    customer = crm.find_customer_by_email(f"  {email.upper()} ")
    assert customer.id == cid and customer.email == email
    assert customer.addresses and customer.default_address.is_default
    assert crm.find_customer_by_email("nobody@example.com") is None
    assert crm.find_customer_by_email("") is None


def test_find_customer_by_phone(seeded_url):
    crm = SQLCRM(seeded_url)
    cid, phone = row(seeded_url, "SELECT id, phone FROM customers WHERE phone LIKE '+1503%' ORDER BY id LIMIT 1")
    national = f"({phone[2:5]}) {phone[5:8]}-{phone[8:]}"
    assert crm.find_customer_by_phone(national).id == cid
    assert crm.find_customer_by_phone(phone).id == cid
    uk_id, uk_phone = row(seeded_url, "SELECT id, phone FROM customers WHERE phone LIKE '+44%' ORDER BY id LIMIT 1")
    assert crm.find_customer_by_phone(f"+44 {uk_phone[3:7]} {uk_phone[7:]}").id == uk_id
    assert crm.find_customer_by_phone("+1 503 555 0199") is None
    assert crm.find_customer_by_phone("not a number") is None


def test_find_customer_by_order(seeded_url):
    oid, cid = row(seeded_url, "SELECT id, customer_id FROM orders ORDER BY id LIMIT 1")
    crm = SQLCRM(seeded_url)
    assert crm.find_customer_by_order(oid).id == cid
    assert crm.find_customer_by_order(oid.lower().replace("-", "")).id == cid
    assert crm.find_customer_by_order("ORD-99999") is None


def test_get_customer(seeded_url):
    crm = SQLCRM(seeded_url)
    customer = crm.get_customer("cus-1")
    assert customer.id == "CUS-0001" and customer.account_type in ("personal", "business", "premium")
    assert customer.phone.startswith("+") and customer.created_at.tzinfo is not None
    assert crm.get_customer("CUS-9999") is None


def test_update_customer(fresh_seeded_url):
    crm = SQLCRM(fresh_seeded_url, clock=clock)
    updated = crm.update_customer("CUS-0001", name="Ada Byron", email=" Ada.Byron@Example.ORG ", phone="(503) 555-0177")
    assert (updated.name, updated.email, updated.phone) == ("Ada Byron", "ada.byron@example.org", "+15035550177")
    assert not updated.email_verified and not updated.phone_verified
    assert crm.get_customer("CUS-0001") == updated
    taken = scalar(fresh_seeded_url, "SELECT email FROM customers WHERE id = 'CUS-0002'")
    with pytest.raises(Conflict) as exc:
        crm.update_customer("CUS-0001", email=taken)
    assert exc.value.reason == "email_in_use"
    with pytest.raises(InvalidRequest):
        crm.update_customer("CUS-0001", email="not-an-email")
    with pytest.raises(InvalidRequest):
        crm.update_customer("CUS-0001", phone="12")
    with pytest.raises(NotFound):
        crm.update_customer("CUS-9999", name="X")
    closed = scalar(fresh_seeded_url, "SELECT id FROM customers WHERE status = 'closed' ORDER BY id LIMIT 1")
    with pytest.raises(NotAllowed):
        crm.update_customer(closed, name="X")


def test_close_account(fresh_seeded_url):
    crm = SQLCRM(fresh_seeded_url, clock=clock)
    idle = idle_active_customer(fresh_seeded_url)
    closed = crm.close_account(idle, reason="moving abroad")
    assert closed.status == "closed" and closed.closed_at == NOW
    assert crm.close_account(idle) == closed  # idempotent
    busy = scalar(fresh_seeded_url, "SELECT customer_id FROM orders WHERE status = 'in_transit' ORDER BY id LIMIT 1")
    with pytest.raises(NotAllowed) as exc:
        crm.close_account(busy)
    assert exc.value.reason == "orders_in_progress"
    with pytest.raises(NotFound):
        crm.close_account("CUS-9999")


# --------------------------------------------------------------------------- orders


def test_get_order(seeded_url):
    orders = SQLOrders(seeded_url)
    order = orders.get_order(order_in(seeded_url, "delivered"))
    assert order.status == "delivered" and order.items
    assert order.total == sum(item.line_total for item in order.items)
    assert isinstance(order.total, Decimal) and order.currency in ("USD", "CAD", "GBP")
    assert order.shipping_address.line1 and order.shipping_address.country in ("US", "CA", "GB")
    assert orders.get_order("ORD-99999") is None


def test_list_orders(seeded_url):
    cid = scalar(seeded_url, "SELECT customer_id FROM orders GROUP BY customer_id HAVING COUNT(*) >= 3 ORDER BY customer_id LIMIT 1")
    orders = SQLOrders(seeded_url)
    listed = orders.list_orders(cid)
    assert len(listed) == scalar(seeded_url, "SELECT COUNT(*) FROM orders WHERE customer_id = :c", c=cid)
    assert [o.placed_at for o in listed] == sorted((o.placed_at for o in listed), reverse=True)
    assert len(orders.list_orders(cid, limit=2)) == 2
    status = listed[0].status
    assert {o.status for o in orders.list_orders(cid, status=status)} == {status}
    with pytest.raises(InvalidRequest):
        orders.list_orders(cid, status="lost")
    with pytest.raises(NotFound):
        orders.list_orders("CUS-9999")


def test_cancel_order(fresh_seeded_url):
    orders = SQLOrders(fresh_seeded_url, clock=clock)
    paid = order_in(fresh_seeded_url, "paid")
    cancelled = orders.cancel_order(paid, reason="ordered the wrong size")
    assert (cancelled.status, cancelled.cancelled_at, cancelled.cancel_reason) == ("cancelled", NOW, "ordered the wrong size")
    assert orders.cancel_order(paid).cancelled_at == NOW  # idempotent
    assert scalar(fresh_seeded_url, "SELECT status FROM invoices WHERE order_id = :o", o=paid) == "paid"  # refund is separate

    pending = order_in(fresh_seeded_url, "pending")
    orders.cancel_order(pending)
    assert scalar(fresh_seeded_url, "SELECT status FROM invoices WHERE order_id = :o", o=pending) == "void"

    with pytest.raises(NotAllowed) as exc:
        orders.cancel_order(order_in(fresh_seeded_url, "in_transit"))
    assert exc.value.reason == "already_shipped"
    with pytest.raises(NotFound):
        orders.cancel_order("ORD-99999")


def test_change_address(fresh_seeded_url):
    orders = SQLOrders(fresh_seeded_url, clock=clock)
    processing = order_in(fresh_seeded_url, "processing")
    new = {"line1": "500 Pike St", "line2": "Apt 4", "city": "Seattle", "region": "WA", "postal_code": "98101", "country": "us"}
    changed = orders.change_address(processing, new)
    assert changed.shipping_address.one_line() == "500 Pike St, Apt 4, Seattle, WA 98101, US"
    assert changed.shipping_address.name  # the recipient stays
    assert orders.get_order(processing).shipping_address == changed.shipping_address
    again = orders.change_address(processing, i.Address(line1="1 Main St", city="Boise", postal_code="83702", country="US"))
    assert again.shipping_address.city == "Boise"
    with pytest.raises(InvalidRequest):
        orders.change_address(processing, {"line1": "1 Main St"})
    with pytest.raises(NotAllowed) as exc:
        orders.change_address(order_in(fresh_seeded_url, "delivered"), new)
    assert exc.value.reason == "already_shipped"
    with pytest.raises(NotFound):
        orders.change_address("ORD-99999", new)


def test_tracking(seeded_url):
    orders = SQLOrders(seeded_url)
    for status in ("shipped", "in_transit", "delivered"):
        tracking = orders.tracking(order_in(seeded_url, status))
        assert tracking.carrier and tracking.tracking_number and tracking.events
        times = [e.time for e in tracking.events]
        assert times == sorted(times) and times[-1] <= NOW
        assert tracking.events[0].description == "Shipping label created"
    delivered = orders.tracking(order_in(seeded_url, "delivered"))
    assert delivered.status == "delivered" and delivered.delivered_at == delivered.latest.time
    assert orders.tracking(order_in(seeded_url, "processing")) is None
    with pytest.raises(NotFound):
        orders.tracking("ORD-99999")


# --------------------------------------------------------------------------- billing


def test_get_invoice(seeded_url):
    invoice_id, order_id = row(seeded_url, "SELECT id, order_id FROM invoices WHERE status = 'paid' ORDER BY id LIMIT 1")
    billing = SQLBilling(seeded_url)
    invoice = billing.get_invoice(invoice_id.lower())
    assert invoice.id == invoice_id and invoice.order_id == order_id and invoice.payments
    for payment in invoice.payments:
        assert payment.last4 is None or (len(payment.last4) == 4 and payment.last4.isdigit())
    assert billing.get_invoice("INV-999999") is None


def test_list_invoices(seeded_url):
    cid = scalar(seeded_url, "SELECT customer_id FROM invoices GROUP BY customer_id HAVING COUNT(*) >= 2 ORDER BY customer_id LIMIT 1")
    invoices = SQLBilling(seeded_url).list_invoices(cid)
    assert len(invoices) >= 2 and {inv.customer_id for inv in invoices} == {cid}
    assert [inv.issued_at for inv in invoices] == sorted((inv.issued_at for inv in invoices), reverse=True)
    with pytest.raises(NotFound):
        SQLBilling(seeded_url).list_invoices("CUS-9999")


def test_payment_status(seeded_url):
    billing = SQLBilling(seeded_url)
    delivered = order_in(seeded_url, "delivered", "AND id NOT IN (SELECT order_id FROM refunds)")
    status = billing.payment_status(delivered)
    assert status.status == "paid" and status.amount_paid > 0 and status.amount_due == 0 and status.refundable == status.amount_paid
    pending = billing.payment_status(order_in(seeded_url, "pending"))
    assert pending.status in ("unpaid", "failed") and pending.amount_due > 0 and pending.amount_paid == 0
    returned = billing.payment_status(order_in(seeded_url, "returned"))
    assert returned.status == "refunded" and returned.amount_refunded == returned.amount_paid
    partial = scalar(seeded_url, "SELECT order_id FROM invoices WHERE status = 'partially_refunded' LIMIT 1")
    assert billing.payment_status(partial).status == "partially_refunded"
    void = scalar(seeded_url, "SELECT order_id FROM invoices WHERE status = 'void' ORDER BY id LIMIT 1")
    assert billing.payment_status(void).status == "void"
    with pytest.raises(NotFound):
        billing.payment_status("ORD-99999")


def test_create_refund_is_idempotent_and_bounded(fresh_seeded_url):
    billing = SQLBilling(fresh_seeded_url, clock=clock)
    order_id = order_in(fresh_seeded_url, "delivered", "AND id NOT IN (SELECT order_id FROM refunds)")
    total = SQLOrders(fresh_seeded_url).get_order(order_id).total
    refund = billing.create_refund(order_id, "10.00", "Item arrived damaged", idempotency_key="conv-1:refund:1", conversation_id="conv-1")
    assert (refund.status, refund.amount, refund.order_id, refund.created_at) == ("requested", Decimal("10.00"), order_id, NOW)
    assert refund.id.startswith("RFD-")
    assert billing.create_refund(order_id, Decimal("10"), "retry", idempotency_key="conv-1:refund:1") == refund
    with pytest.raises(Conflict):
        billing.create_refund(order_id, "11.00", "retry", idempotency_key="conv-1:refund:1")
    with pytest.raises(NotAllowed) as exc:
        billing.create_refund(order_id, total, "too much", idempotency_key="conv-1:refund:2")
    assert exc.value.reason == "exceeds_refundable"
    rest = billing.create_refund(order_id, total - Decimal("10.00"), "the rest", idempotency_key="k3", status="pending_approval")
    assert rest.status == "pending_approval"
    assert [r.id for r in billing.refunds_for_order(order_id)] == [refund.id, rest.id]

    with pytest.raises(NotAllowed) as exc:
        billing.create_refund(order_in(fresh_seeded_url, "pending"), "5", "x", idempotency_key="k4")
    assert exc.value.reason == "not_paid"
    for bad in ("0", "-3", "abc"):
        with pytest.raises(InvalidRequest):
            billing.create_refund(order_id, bad, "x", idempotency_key="k5")
    with pytest.raises(InvalidRequest):
        billing.create_refund(order_id, "1", "x", idempotency_key="")
    with pytest.raises(NotFound):
        billing.create_refund("ORD-99999", "1", "x", idempotency_key="k6")


def test_refund_lifecycle_updates_the_invoice(fresh_seeded_url):
    billing = SQLBilling(fresh_seeded_url, clock=clock)
    order_id = order_in(fresh_seeded_url, "delivered", "AND id NOT IN (SELECT order_id FROM refunds)")
    refund = billing.create_refund(order_id, "5.00", "goodwill", idempotency_key="life-1")
    with pytest.raises(NotAllowed):
        billing.set_refund_status(refund.id, "issued")  # needs approval first
    assert billing.set_refund_status(refund.id, "approved").status == "approved"
    issued = billing.set_refund_status(refund.id, "issued")
    assert issued.status == "issued" and issued.issued_at == NOW
    assert billing.get_invoice(scalar(fresh_seeded_url, "SELECT id FROM invoices WHERE order_id = :o", o=order_id)).status == "partially_refunded"
    assert billing.payment_status(order_id).amount_refunded == Decimal("5.00")
    with pytest.raises(InvalidRequest):
        billing.set_refund_status(refund.id, "lost")
    with pytest.raises(NotFound):
        billing.set_refund_status("RFD-99999", "approved")


def test_get_refund_and_refunds_for_order(seeded_url):
    billing = SQLBilling(seeded_url)
    refund_id, order_id = row(seeded_url, "SELECT id, order_id FROM refunds ORDER BY id LIMIT 1")
    refund = billing.get_refund(refund_id)
    assert refund.order_id == order_id and refund.amount > 0 and refund.idempotency_key
    assert refund_id in [r.id for r in billing.refunds_for_order(order_id)]
    assert billing.get_refund("RFD-99999") is None
    assert billing.refunds_for_order(order_in(seeded_url, "processing")) == []
    with pytest.raises(NotFound):
        billing.refunds_for_order("ORD-99999")


# --------------------------------------------------------------------------- ticketing


def test_create_ticket(fresh_seeded_url):
    ticketing = SQLTicketing(fresh_seeded_url, clock=clock)
    order_id, cid = row(fresh_seeded_url, "SELECT id, customer_id FROM orders WHERE status = 'delivered' ORDER BY id LIMIT 1")
    before = scalar(fresh_seeded_url, "SELECT COUNT(*) FROM tickets")
    ticket = ticketing.create_ticket(
        cid, "Zipper broke", "The zipper on my jacket broke.", category="Damaged_Item", priority="high",
        order_id=order_id, conversation_id="conv-9",
    )
    assert ticket.id == f"TCK-{before + 1:05d}"
    assert (ticket.status, ticket.priority, ticket.category, ticket.order_id) == ("open", "high", "damaged_item", order_id)
    assert [(msg.author, msg.body) for msg in ticket.messages] == [("customer", "The zipper on my jacket broke.")]
    assert ticketing.get_ticket(ticket.id) == ticket

    other = scalar(fresh_seeded_url, "SELECT id FROM customers WHERE id <> :c ORDER BY id LIMIT 1", c=cid)
    with pytest.raises(InvalidRequest):
        ticketing.create_ticket(other, "s", "b", order_id=order_id)
    with pytest.raises(InvalidRequest):
        ticketing.create_ticket(cid, "s", "b", priority="asap")
    with pytest.raises(InvalidRequest):
        ticketing.create_ticket(cid, " ", "b")
    with pytest.raises(NotFound):
        ticketing.create_ticket("CUS-9999", "s", "b")


def test_add_message(fresh_seeded_url):
    ticketing = SQLTicketing(fresh_seeded_url, clock=clock)
    resolved = scalar(fresh_seeded_url, "SELECT id FROM tickets WHERE status = 'resolved' ORDER BY id LIMIT 1")
    count = len(ticketing.get_ticket(resolved).messages)
    reopened = ticketing.add_message(resolved, "Actually it broke again.")
    assert reopened.status == "open" and len(reopened.messages) == count + 1
    assert reopened.messages[-1] == i.TicketMessage(author="customer", body="Actually it broke again.", time=NOW)
    replied = ticketing.add_message(resolved, "We'll send a new one.", author="agent")
    assert replied.status == "open" and replied.messages[-1].author == "agent"
    closed = scalar(fresh_seeded_url, "SELECT id FROM tickets WHERE status = 'closed' ORDER BY id LIMIT 1")
    with pytest.raises(NotAllowed):
        ticketing.add_message(closed, "hello?")
    with pytest.raises(InvalidRequest):
        ticketing.add_message(resolved, "x", author="robot")
    with pytest.raises(NotFound):
        ticketing.add_message("TCK-99999", "hello")


def test_get_and_list_tickets(seeded_url):
    ticketing = SQLTicketing(seeded_url)
    tid, cid = row(seeded_url, "SELECT id, customer_id FROM tickets ORDER BY id LIMIT 1")
    ticket = ticketing.get_ticket(tid)
    assert ticket.customer_id == cid and ticket.messages and ticket.messages[0].author == "customer"
    assert ticketing.get_ticket("TCK-99999") is None
    listed = ticketing.list_tickets(cid)
    assert tid in [t.id for t in listed]
    assert all(t.status == ticket.status for t in ticketing.list_tickets(cid, status=ticket.status))
    with pytest.raises(NotFound):
        ticketing.list_tickets("CUS-9999")


# --------------------------------------------------------------------------- scheduling


def test_available_slots(seeded_url):
    scheduling = SQLScheduling(seeded_url, clock=clock)
    slots = scheduling.available_slots("fitting", limit=500)
    assert slots and all(s.type == "fitting" and s.start > NOW and s.available > 0 for s in slots)
    assert [s.start for s in slots] == sorted(s.start for s in slots)
    assert slots[0].start.date() >= TODAY + timedelta(days=1)
    day = TODAY + timedelta(days=2)
    one_day = scheduling.available_slots("repair", start=day, end=day)
    assert one_day and all(s.start.date() == day for s in one_day)
    assert len(scheduling.available_slots("bike_service", limit=3)) == 3
    with pytest.raises(InvalidRequest):
        scheduling.available_slots("massage")


def _open_slot(url, type_, capacity):
    return scalar(
        url,
        "SELECT id FROM appointment_slots WHERE type = :t AND capacity = :c AND booked = 0 ORDER BY start_at LIMIT 1",
        t=type_, c=capacity,
    )


def test_book_reschedule_and_cancel(fresh_seeded_url):
    scheduling = SQLScheduling(fresh_seeded_url, clock=clock)
    cid = idle_active_customer(fresh_seeded_url)
    before = scalar(fresh_seeded_url, "SELECT COUNT(*) FROM appointments")
    slot_id = _open_slot(fresh_seeded_url, "fitting", 2)
    booked = scheduling.book(cid, slot_id, notes="Boots for wide feet")
    assert booked.id == f"APT-{before + 1:05d}" and booked.status == "booked" and booked.slot.booked == 1
    assert scheduling.book(cid, slot_id) == booked  # booking the same slot again is a no-op
    assert scheduling.get_appointment(booked.id) == booked
    assert booked.id in [a.id for a in scheduling.list_appointments(cid)]

    other_slot = scalar(
        fresh_seeded_url, "SELECT id FROM appointment_slots WHERE type = 'fitting' AND booked = 0 AND id <> :s ORDER BY start_at DESC LIMIT 1", s=slot_id
    )
    moved = scheduling.reschedule(booked.id, other_slot)
    assert moved.slot.id == other_slot and moved.slot.booked == 1
    assert scalar(fresh_seeded_url, "SELECT booked FROM appointment_slots WHERE id = :s", s=slot_id) == 0
    with pytest.raises(NotAllowed) as exc:
        scheduling.reschedule(booked.id, _open_slot(fresh_seeded_url, "repair", 1))
    assert exc.value.reason == "slot_type_mismatch"

    cancelled = scheduling.cancel(booked.id, reason="travelling")
    assert cancelled.status == "cancelled" and cancelled.cancelled_at == NOW and "travelling" in cancelled.notes
    assert cancelled.slot.booked == 0
    assert scheduling.cancel(booked.id).status == "cancelled"  # idempotent
    assert booked.id not in [a.id for a in scheduling.list_appointments(cid)]
    assert booked.id in [a.id for a in scheduling.list_appointments(cid, include_cancelled=True)]
    with pytest.raises(NotAllowed):
        scheduling.reschedule(booked.id, slot_id)


def test_scheduling_refusals(fresh_seeded_url):
    scheduling = SQLScheduling(fresh_seeded_url, clock=clock)
    first, second = [r[0] for r in _two_idle_customers(fresh_seeded_url)]
    repair = _open_slot(fresh_seeded_url, "repair", 1)
    scheduling.book(first, repair)
    with pytest.raises(NotAllowed) as exc:
        scheduling.book(second, repair)
    assert exc.value.reason == "slot_full"
    closed = scalar(fresh_seeded_url, "SELECT id FROM customers WHERE status = 'closed' ORDER BY id LIMIT 1")
    with pytest.raises(NotAllowed):
        scheduling.book(closed, _open_slot(fresh_seeded_url, "fitting", 2))
    later = SQLScheduling(fresh_seeded_url, clock=lambda: NOW + timedelta(days=40))
    with pytest.raises(NotAllowed) as exc:
        later.book(first, _open_slot(fresh_seeded_url, "fitting", 2))
    assert exc.value.reason == "slot_in_past"
    with pytest.raises(NotFound):
        scheduling.book("CUS-9999", repair)
    with pytest.raises(NotFound):
        scheduling.book(first, 999999)
    with pytest.raises(NotFound):
        scheduling.reschedule("APT-99999", repair)
    with pytest.raises(NotFound):
        scheduling.cancel("APT-99999")
    assert scheduling.get_appointment("APT-99999") is None
    with pytest.raises(NotFound):
        scheduling.list_appointments("CUS-9999")


def _two_idle_customers(url):
    with db.engine_for(url).connect() as conn:
        return conn.execute(sa.text("SELECT id FROM customers WHERE status = 'active' ORDER BY id LIMIT 2")).all()


def test_concurrent_bookings_never_overfill_a_slot(fresh_seeded_url):
    scheduling = SQLScheduling(fresh_seeded_url, clock=clock)
    slot_id = _open_slot(fresh_seeded_url, "fitting", 2)
    with db.engine_for(fresh_seeded_url).connect() as conn:
        customers = [r[0] for r in conn.execute(sa.text("SELECT id FROM customers WHERE status = 'active' ORDER BY id LIMIT 6"))]
    outcomes = []

    def book(cid):
        try:
            outcomes.append(scheduling.book(cid, slot_id).id)
        except NotAllowed as exc:
            outcomes.append(exc.reason)

    threads = [threading.Thread(target=book, args=(cid,)) for cid in customers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(o.startswith("APT-") for o in outcomes) == [False] * 4 + [True] * 2
    assert outcomes.count("slot_full") == 4
    assert scalar(fresh_seeded_url, "SELECT booked FROM appointment_slots WHERE id = :s", s=slot_id) == 2
