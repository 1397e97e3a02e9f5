"""The Northwind Outfitters demo data: deterministic, complete and consistent."""

import re
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from backoffice_helpers import NOW, TODAY

from actions.backoffice import db
from actions.backoffice import models as m
from actions.backoffice.audit import luhn_ok
from actions.backoffice.seed import AlreadySeeded, dump, seed


@pytest.fixture(scope="module")
def data(seeded_url):
    return dump(seeded_url)


def test_two_seeds_give_identical_databases(tmp_path):
    first, second = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    seed(first, today=TODAY)
    seed(second, today=TODAY)
    assert dump(first) == dump(second)


def test_seed_is_the_same_on_every_backend(data, tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    seed(url, today=TODAY)
    assert dump(url) == data


def test_another_day_shifts_times_but_keeps_ids(data, tmp_path):
    url = f"sqlite:///{tmp_path / 'later.db'}"
    seed(url, today=TODAY + timedelta(days=10))
    later = dump(url)
    assert [c["name"] for c in later["customers"]] == [c["name"] for c in data["customers"]]
    for before, after in zip(data["orders"], later["orders"]):
        assert before["id"] == after["id"] and before["status"] == after["status"]
        shift = datetime.fromisoformat(after["placed_at"]) - datetime.fromisoformat(before["placed_at"])
        assert shift == timedelta(days=10)
    assert min(s["start_at"] for s in later["appointment_slots"]) > min(s["start_at"] for s in data["appointment_slots"])


def test_seeding_twice_is_refused(fresh_seeded_url):
    with pytest.raises(AlreadySeeded):
        seed(fresh_seeded_url, today=TODAY)


def test_customers(data):
    customers = data["customers"]
    assert len(customers) == 40
    assert [c["id"] for c in customers] == [f"CUS-{n:04d}" for n in range(1, 41)]
    emails = [c["email"] for c in customers]
    assert len(set(emails)) == 40
    assert {e.rsplit("@", 1)[1] for e in emails} == {"example.com", "example.org", "example.net"}
    assert all(re.fullmatch(r"\+[1-9]\d{9,14}", c["phone"]) for c in customers)
    assert len({c["phone"] for c in customers}) == 40
    assert {c["account_type"] for c in customers} == set(m.ACCOUNT_TYPES)
    assert Counter(c["status"] for c in customers)["closed"] == 2
    assert len({c["name"].split()[0] for c in customers}) == 40
    assert any(not c["name"].isascii() for c in customers)
    addresses = defaultdict(list)
    for a in data["addresses"]:
        addresses[a["customer_id"]].append(a)
    assert all(sum(a["is_default"] for a in addresses[c["id"]]) == 1 for c in customers)
    assert {a["country"] for a in data["addresses"]} == {"US", "CA", "GB"}


def test_orders_cover_every_status_and_add_up(data):
    orders = data["orders"]
    assert len(orders) == 120
    assert {o["status"] for o in orders} == set(m.ORDER_STATUSES)
    assert all(re.fullmatch(r"ORD-\d{5}", o["id"]) for o in orders)
    assert [o["placed_at"] for o in orders] == sorted(o["placed_at"] for o in orders)  # ids in time order
    items = defaultdict(list)
    for it in data["order_items"]:
        items[it["order_id"]].append(it)
    for order in orders:
        assert items[order["id"]], order["id"]
        assert Decimal(order["total"]) == sum(Decimal(it["unit_price"]) * it["qty"] for it in items[order["id"]])
        assert datetime.fromisoformat(order["placed_at"]) <= NOW
    assert {it["state"] for it in data["order_items"]} == set(m.ITEM_STATES)
    closed = {c["id"] for c in data["customers"] if c["status"] == "closed"}
    in_progress = {"pending", "paid", "processing", "shipped", "in_transit"}
    assert not [o for o in orders if o["customer_id"] in closed and o["status"] in in_progress]


def test_shipments_and_tracking_events(data):
    by_order = {s["order_id"]: s for s in data["shipments"]}
    events = defaultdict(list)
    for e in data["tracking_events"]:
        events[e["shipment_id"]].append(e)
    for order in data["orders"]:
        shipment = by_order.get(order["id"])
        if order["status"] in ("shipped", "in_transit", "delivered", "returned"):
            assert shipment and events[shipment["id"]], order["id"]
            times = [e["occurred_at"] for e in events[shipment["id"]]]
            assert times == sorted(times) and datetime.fromisoformat(times[-1]) <= NOW
        else:
            assert shipment is None, order["id"]
        if order["status"] == "delivered":
            assert shipment["status"] == "delivered" and shipment["delivered_at"]
    assert len({s["tracking_number"] for s in data["shipments"]}) == len(data["shipments"])
    assert len({s["carrier"] for s in data["shipments"]}) >= 4


def test_billing(data):
    assert len(data["invoices"]) == 120
    assert {inv["status"] for inv in data["invoices"]} == set(m.INVOICE_STATUSES)
    assert all(re.fullmatch(r"INV-\d{6}", inv["id"]) for inv in data["invoices"])
    assert {p["method"] for p in data["payments"]} == set(m.PAYMENT_METHODS)
    for payment in data["payments"]:
        if payment["method"] in ("card", "gift_card"):
            assert re.fullmatch(r"\d{4}", payment["last4"])
        for key, value in payment.items():
            if key.endswith("_at"):
                continue
            digits = re.sub(r"\D", "", str(value))
            assert not (13 <= len(digits) <= 19 and luhn_ok(digits))  # no full card numbers anywhere
    refunds = data["refunds"]
    assert {r["status"] for r in refunds} == set(m.REFUND_STATUSES)
    assert all(re.fullmatch(r"RFD-\d{5}", r["id"]) for r in refunds)
    assert len({r["idempotency_key"] for r in refunds}) == len(refunds)
    returned = {o["id"] for o in data["orders"] if o["status"] == "returned"}
    assert returned <= {r["order_id"] for r in refunds if r["status"] == "issued"}


def test_tickets(data):
    tickets = data["tickets"]
    assert 20 <= len(tickets) <= 30
    assert {t["status"] for t in tickets} == set(m.TICKET_STATUSES)
    assert {t["priority"] for t in tickets} == set(m.TICKET_PRIORITIES)
    assert len({t["category"] for t in tickets}) >= 5
    threads = defaultdict(list)
    for msg in data["ticket_messages"]:
        threads[msg["ticket_id"]].append(msg)
    for t in tickets:
        assert threads[t["id"]][0]["author"] == "customer"
        assert "{" not in t["subject"] and all("{" not in msg["body"] for msg in threads[t["id"]])


def test_appointment_slots_for_the_next_30_days(data):
    slots = data["appointment_slots"]
    assert {s["type"] for s in slots} == set(m.APPOINTMENT_TYPES)
    starts = [datetime.fromisoformat(s["start_at"]) for s in slots]
    assert min(starts) > NOW and max(starts) < NOW + timedelta(days=31)
    assert len({d.date() for d in starts}) >= 24
    booked = Counter(a["slot_id"] for a in data["appointments"] if a["status"] == "booked")
    assert booked and all(s["booked"] == booked.get(s["id"], 0) <= s["capacity"] for s in slots)
    assert {a["status"] for a in data["appointments"]} == set(m.APPOINTMENT_STATUSES)


def test_id_counters_continue_after_the_seed(fresh_seeded_url):
    with db.session_scope(fresh_seeded_url) as s:
        assert m.next_id(s, "CUS") == "CUS-0041"
        assert m.next_id(s, "ORD") == "ORD-10121"
        assert m.next_id(s, "INV") == "INV-100121"
        assert m.next_id(s, "APR") == "APR-00001"
