"""Ticket and appointment tools through a real action server."""

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

STORE_TZ = ZoneInfo("America/Los_Angeles")


def sender():
    return f"conv-{uuid.uuid4().hex[:12]}"


def verified_customer(shop, claim=True, where="1 = 1"):
    row = shop.pick(f"SELECT id AS customer_id, email FROM customers c WHERE status = 'active' AND {where} ORDER BY id", claim=claim)
    conv = sender()
    shop.verify(conv, row["customer_id"])
    return row, conv


# --------------------------------------------------------------------------- tickets


def test_create_ticket_add_a_message_and_look_it_up(tools_shop):
    row, conv = verified_customer(tools_shop)
    order = tools_shop.rows("SELECT id FROM orders WHERE customer_id = :c ORDER BY id", c=row["customer_id"])
    slots = {"ticket_category": "Damaged item", "ticket_priority": "high",
             "ticket_message": "The zip of my jacket broke on the first day."}
    if order:
        slots["order_id"] = order[0]["id"]
    request = tools_shop.request("action_create_ticket", conv, intent="complaint", text="the zip broke", slots=slots)
    created = tools_shop.post(request)
    assert "I've opened ticket TCK-" in created.text and "(damaged item, high priority)" in created.text
    ticket_id = created.slots["ticket_id"]
    assert tools_shop.post(request).slots["ticket_id"] == ticket_id  # a retry opens no second ticket
    ticket = tools_shop.one("SELECT * FROM tickets WHERE id = :t", t=ticket_id)
    assert (ticket["customer_id"], ticket["category"], ticket["priority"], ticket["conversation_id"]) == (
        row["customer_id"], "damaged_item", "high", conv)
    assert len(tools_shop.rows("SELECT id FROM tickets WHERE conversation_id = :c", c=conv)) == 1

    added = tools_shop.call("action_add_ticket_message", conv, intent="check_ticket_status", text="Photos are attached now.",
                            entities={"ticket_id": ticket_id.lower()})
    assert f"added your message to ticket {ticket_id}" in added.text
    assert [m["body"] for m in tools_shop.rows("SELECT body FROM ticket_messages WHERE ticket_id = :t ORDER BY id", t=ticket_id)][-1] \
        == "Photos are attached now."
    status = tools_shop.call("action_ticket_status", conv, intent="check_ticket_status", slots={"ticket_id": ticket_id})
    assert status.text.startswith(f"Ticket {ticket_id} ") and "is open" in status.text
    listed = tools_shop.call("action_ticket_status", conv, intent="check_ticket_status")
    assert ticket_id in listed.text


def test_ticket_inputs_and_ownership(tools_shop):
    row, conv = verified_customer(tools_shop, claim=False)
    bad_priority = tools_shop.call("action_create_ticket", conv, intent="complaint", text="help",
                                   slots={"ticket_priority": "whenever"})
    assert "low, normal, high or urgent" in bad_priority.text
    bad_category = tools_shop.call("action_create_ticket", conv, intent="complaint", text="help",
                                   slots={"ticket_category": "astrology"})
    assert "Which of these is it about" in bad_category.text
    bad_id = tools_shop.call("action_ticket_status", conv, intent="check_ticket_status", entities={"ticket_id": "TCK-1"})
    assert "doesn't look like a ticket number" in bad_id.text
    theirs = tools_shop.one("SELECT id FROM tickets WHERE customer_id <> :c ORDER BY id LIMIT 1", c=row["customer_id"])
    other = tools_shop.call("action_add_ticket_message", conv, intent="check_ticket_status", text="hello",
                            entities={"ticket_id": theirs["id"]})
    assert other.text == f"I couldn't find ticket {theirs['id']} on your account. Could you check the number?"
    assert not tools_shop.rows("SELECT id FROM ticket_messages WHERE ticket_id = :t AND body = 'hello'", t=theirs["id"])
    assert not tools_shop.rows("SELECT id FROM tickets WHERE conversation_id = :c", c=conv)


# --------------------------------------------------------------------------- appointments


def free_slot(shop, kind, *, after=None):
    rows = shop.rows("SELECT id, start_at FROM appointment_slots WHERE type = :t AND booked < capacity AND start_at > :now "
                     "ORDER BY start_at, id", t=kind, now=shop.at(hours=2))
    for r in rows:
        start = r["start_at"]
        start = datetime.fromisoformat(start) if isinstance(start, str) else start
        start = (start if start.tzinfo else start.replace(tzinfo=ZoneInfo("UTC"))).astimezone(STORE_TZ)
        if after is None or start.date() > after:
            return r["id"], start
    raise AssertionError(f"no free {kind} slot")


def test_book_offers_times_then_books_reschedules_and_cancels(tools_shop):
    row, conv = verified_customer(tools_shop, where="NOT EXISTS (SELECT 1 FROM appointments a WHERE a.customer_id = c.id)")
    ask = tools_shop.call("action_book_appointment", conv, intent="book_appointment", text="I need an appointment")
    assert "Which kind of appointment" in ask.text
    offered = tools_shop.call("action_book_appointment", conv, intent="book_appointment", slots={"appointment_type": "fitting"})
    assert "The next free times for a fitting are" in offered.text
    slot_id, start = free_slot(tools_shop, "fitting")
    day_offer = tools_shop.call("action_book_appointment", conv, intent="book_appointment",
                                slots={"appointment_type": "fitting", "date": start.date().isoformat()})
    assert f"{start:%H:%M}" in day_offer.text and "Which one would you like" in day_offer.text
    booked_before = tools_shop.one("SELECT booked FROM appointment_slots WHERE id = :s", s=slot_id)["booked"]
    request = tools_shop.request("action_book_appointment", conv, intent="book_appointment",
                                 slots={"appointment_type": "fitting", "date": start.date().isoformat(), "time": f"{start:%H:%M}"})
    booked = tools_shop.post(request)
    assert booked.text.startswith("Booked: your fitting on") and f"{start:%H:%M}" in booked.text
    appointment_id = booked.slots["appointment_id"]
    assert tools_shop.post(request).slots["appointment_id"] == appointment_id  # retried: one booking
    assert tools_shop.one("SELECT booked FROM appointment_slots WHERE id = :s", s=slot_id)["booked"] == booked_before + 1

    new_slot, new_start = free_slot(tools_shop, "fitting", after=start.date())
    moved = tools_shop.call("action_reschedule_appointment", conv, intent="reschedule_appointment",
                            slots={"date": new_start.date().isoformat(), "time": new_start.strftime("%-I:%M %p")})
    assert moved.text.startswith(f"Done: your fitting ({appointment_id}) is now on") and f"{new_start:%H:%M}" in moved.text
    assert tools_shop.one("SELECT slot_id FROM appointments WHERE id = :a", a=appointment_id)["slot_id"] == new_slot
    assert tools_shop.one("SELECT booked FROM appointment_slots WHERE id = :s", s=slot_id)["booked"] == booked_before

    cancelled = tools_shop.call("action_cancel_appointment", conv, intent="cancel_appointment",
                                entities={"appointment_id": appointment_id})
    assert "is cancelled" in cancelled.text
    assert tools_shop.one("SELECT status FROM appointments WHERE id = :a", a=appointment_id)["status"] == "cancelled"


def test_appointment_dates_times_and_ownership(tools_shop):
    row, conv = verified_customer(tools_shop, claim=False)
    yesterday = (datetime.now(STORE_TZ).date() - timedelta(days=1)).isoformat()
    past = tools_shop.call("action_book_appointment", conv, intent="book_appointment",
                           slots={"appointment_type": "repair", "date": yesterday, "time": "10:30"})
    assert "is in the past" in past.text
    nonsense = tools_shop.call("action_book_appointment", conv, intent="book_appointment",
                               slots={"appointment_type": "repair", "date": "the day after never"})
    assert "didn't understand that date" in nonsense.text
    _, start = free_slot(tools_shop, "repair")
    odd_time = tools_shop.call("action_book_appointment", conv, intent="book_appointment",
                               slots={"appointment_type": "repair", "date": start.date().isoformat(), "time": "03:17"})
    assert "isn't free for a gear repair" in odd_time.text and tools_shop.audit(conv)[-1]["outcome"] == "unavailable"
    kind = tools_shop.call("action_book_appointment", conv, intent="book_appointment", slots={"appointment_type": "massage"})
    assert "fittings, gear repairs and bike services" in kind.text
    bad_id = tools_shop.call("action_reschedule_appointment", conv, intent="reschedule_appointment",
                             entities={"appointment_id": "APT-1"})
    assert "doesn't look like an appointment reference" in bad_id.text
    theirs = tools_shop.one("SELECT id FROM appointments WHERE customer_id <> :c AND status = 'booked' ORDER BY id LIMIT 1",
                            c=row["customer_id"])
    other = tools_shop.call("action_cancel_appointment", conv, intent="cancel_appointment", entities={"appointment_id": theirs["id"]})
    assert other.text == f"I couldn't find appointment {theirs['id']} on your account. Could you check the number?"
    assert tools_shop.one("SELECT status FROM appointments WHERE id = :a", a=theirs["id"])["status"] == "booked"
    assert not tools_shop.rows("SELECT id FROM appointments WHERE customer_id = :c AND created_at > :t",
                               c=row["customer_id"], t=tools_shop.at(minutes=-5))
