"""Account tools through a real action server: edits with their checks, and closure behind the
approval gate (approved and rejected)."""

import uuid

import pytest

from actions.backoffice.interfaces import InvalidRequest, NotFound
from actions.controls import approvals

IDLE = ("SELECT id AS customer_id, email, name FROM customers c WHERE status = 'active' AND NOT EXISTS "
        "(SELECT 1 FROM orders o WHERE o.customer_id = c.id AND o.status IN ('pending', 'paid', 'processing', 'shipped', 'in_transit')) "
        "ORDER BY id")
BUSY = ("SELECT DISTINCT c.id AS customer_id FROM customers c JOIN orders o ON o.customer_id = c.id "
        "WHERE c.status = 'active' AND o.status IN ('processing', 'shipped') ORDER BY c.id")


def sender():
    return f"conv-{uuid.uuid4().hex[:12]}"


def verified(shop, query):
    row = shop.pick(query)
    conv = sender()
    shop.verify(conv, row["customer_id"])
    return row, conv


def test_edit_name_email_and_phone(tools_shop):
    row, conv = verified(tools_shop, IDLE)
    ask = tools_shop.call("action_edit_account", conv, intent="edit_account", text="I want to change my details")
    assert "What would you like to change" in ask.text
    renamed = tools_shop.call("action_edit_account", conv, intent="edit_account", slots={"new_name": "Jo  Example-Smith"})
    assert renamed.text == "Done: your name is now Jo Example-Smith."
    new_email = f"new-{uuid.uuid4().hex[:6]}@example.org"
    moved = tools_shop.call("action_edit_account", conv, intent="edit_account", text=f"change my email to {new_email}",
                            entities={"email": new_email})
    assert f"your e-mail address is now n***@example.org" in moved.text and "previous address" in moved.text
    customer = tools_shop.customer(row["customer_id"])
    assert customer["name"] == "Jo Example-Smith" and customer["email"] == new_email
    notice = tools_shop.outbox(row["email"])[-1]
    assert "was changed" in notice["subject"] and new_email not in notice["body"]
    phoned = tools_shop.call("action_edit_account", conv, intent="edit_account", slots={"new_phone": "(503) 555-0199"})
    assert "now ends in 0199" in phoned.text
    assert tools_shop.customer(row["customer_id"])["phone"] == "+15035550199"
    # the verification is the conversation's, not the e-mail address's: it still holds
    assert "confirm it's you" not in tools_shop.call("action_order_status", conv, intent="track_order").text
    assert new_email not in str(tools_shop.audit(conv))


def test_edit_checks_its_inputs(tools_shop):
    row, conv = verified(tools_shop, IDLE)
    taken = tools_shop.one("SELECT email FROM customers WHERE id <> :c ORDER BY id LIMIT 1", c=row["customer_id"])["email"]
    for slots, says in [({"new_email": "nope@"}, "doesn't look like an e-mail address"),
                        ({"new_phone": "call me"}, "doesn't look like a phone number"),
                        ({"new_name": "<script>"}, "doesn't look like a name"),
                        ({"new_email": taken}, "already used by another account")]:
        reply = tools_shop.call("action_edit_account", conv, intent="edit_account", slots=slots)
        assert says in reply.text, (slots, reply)
    assert tools_shop.customer(row["customer_id"])["email"] == row["email"]
    assert [r["outcome"] for r in tools_shop.audit(conv)][-4:] == ["invalid", "invalid", "invalid", "conflict"]


def test_close_account_is_refused_while_orders_are_in_progress(tools_shop):
    row, conv = verified(tools_shop, BUSY)
    reply = tools_shop.call("action_close_account", conv, intent="delete_account", slots={"close_account_confirmed": "yes"})
    assert "still in progress" in reply.text
    assert not tools_shop.rows("SELECT id FROM approval_requests WHERE customer_id = :c", c=row["customer_id"])


def test_close_account_names_the_account_and_needs_a_yes(tools_shop):
    row, conv = verified(tools_shop, IDLE)
    question = tools_shop.call("action_ask_close_account_confirmed", conv, intent="inform")
    masked = row["email"][0] + "***@" + row["email"].split("@")[1]
    assert question.text == f"To confirm: close the Northwind account registered to {masked}? Yes or no"
    unconfirmed = tools_shop.call("action_close_account", conv, intent="delete_account", slots={"close_reason": "moving abroad"})
    assert "once you've confirmed it" in unconfirmed.text
    assert not tools_shop.rows("SELECT id FROM approval_requests WHERE customer_id = :c", c=row["customer_id"])
    assert tools_shop.audit(conv)[-1]["outcome"] == "not_confirmed"


@pytest.mark.parametrize("approve", [True, False])
def test_close_account_waits_for_a_person(tools_shop, approve):
    row, conv = verified(tools_shop, IDLE)
    request = tools_shop.request("action_close_account", conv, intent="delete_account",
                                 slots={"close_reason": "moving abroad", "close_account_confirmed": "yes"})
    held = tools_shop.post(request)
    assert "passed your request to close the account" in held.text
    assert tools_shop.post(request).slots["approval_id"] == held.slots["approval_id"]
    approval_id = held.slots["approval_id"]
    assert tools_shop.customer(row["customer_id"])["status"] == "active"  # nothing happens before a decision
    assert tools_shop.audit(conv)[-1]["outcome"] == "pending_approval"
    with pytest.raises(InvalidRequest):
        approvals.decide(approval_id, approve, "  ", db=tools_shop.db_url)
    with pytest.raises(NotFound):
        approvals.decide("APR-99999", approve, "agent.smith", db=tools_shop.db_url)
    decision = approvals.decide(approval_id, approve, "agent.smith", None if approve else "open return", db=tools_shop.db_url)
    customer = tools_shop.customer(row["customer_id"])
    mail = tools_shop.outbox(customer["email"])[-1]
    if approve:
        assert decision.executed and customer["status"] == "closed"
        assert mail["subject"] == "Your Northwind Outfitters account has been closed"
    else:
        assert not decision.executed and customer["status"] == "active"
        assert "haven't closed" in mail["body"] and "open return" in mail["body"]
    decisions = tools_shop.rows("SELECT tool, outcome, parameters FROM audit_records WHERE tool LIKE 'approval.%' "
                                "AND conversation_id = :c", c=conv)
    assert [d["outcome"] for d in decisions] == (["executed"] if approve else ["rejected"])
