"""Identification and step-up verification through a real action server: look-up by e-mail, phone
and order number, codes that are wrong, expired or tried too often, and a verification that belongs
to one conversation and lapses."""

import uuid

import pytest


def sender():
    return f"conv-{uuid.uuid4().hex[:12]}"


def test_lookup_reveals_only_a_masked_address_and_the_code_is_stored_hashed(tools_shop):
    customer = tools_shop.any_customer()
    conv = sender()
    reply = tools_shop.call("action_identify_customer", conv, intent="track_order", text=f"it's {customer['email']}",
                            entities={"email": customer["email"]})
    assert reply.status_code == 200
    local, domain = customer["email"].split("@")
    assert f"{local[0]}***@{domain}" in reply.text
    assert customer["email"] not in reply.text and customer["customer_id"] not in reply.text
    assert reply.slots == {"verification_status": "code_sent"}  # no customer_id before the code
    code = tools_shop.latest_code(customer["email"])
    assert len(code) == 6 and code.isdigit()
    row = tools_shop.one("SELECT * FROM verification_challenges WHERE conversation_id = :c", c=conv)
    assert row["customer_id"] == customer["customer_id"] and code not in row["code_hash"] and row["code_hash"] != code
    done = tools_shop.call("action_check_verification_code", conv, text=f"the code is {code}")
    assert done.slots == {"verification_status": "verified", "customer_id": customer["customer_id"]}
    assert "verified" in done.text


@pytest.mark.parametrize("how", ["phone", "order_id"])
def test_lookup_by_phone_or_order_number(tools_shop, how):
    customer = tools_shop.any_customer()
    row = tools_shop.one("SELECT phone FROM customers WHERE id = :id", id=customer["customer_id"])
    if how == "phone":
        national = row["phone"][2:] if row["phone"].startswith("+1") else row["phone"]
        entities = {"phone": national if row["phone"].startswith("+1") else row["phone"]}
    else:
        order = tools_shop.rows("SELECT id FROM orders WHERE customer_id = :c", c=customer["customer_id"])
        if not order:
            pytest.skip("this customer has no orders")
        entities = {"order_id": order[0]["id"].lower().replace("-", "")}
    conv = sender()
    reply = tools_shop.call("action_identify_customer", conv, intent="track_order", entities=entities)
    assert reply.slots.get("verification_status") == "code_sent", reply
    assert tools_shop.one("SELECT customer_id FROM verification_challenges WHERE conversation_id = :c",
                          c=conv)["customer_id"] == customer["customer_id"]


@pytest.mark.parametrize(
    "entities, says",
    [
        ({"email": "not-an-email"}, "doesn't look like an e-mail address"),
        ({"phone": "12"}, "doesn't look like a phone number"),
        ({"order_id": "ORD-12"}, "doesn't look like an order number"),
        ({}, "What's the e-mail address, phone number or order number"),
        ({"email": "nobody-here@example.com"}, "couldn't find an account with that e-mail address"),
        ({"order_id": "ORD-99999"}, "couldn't find an account with that order number"),
    ],
)
def test_lookup_failures_are_explained(tools_shop, entities, says):
    conv = sender()
    reply = tools_shop.call("action_identify_customer", conv, intent="track_order", entities=entities)
    assert reply.status_code == 200 and says in reply.text
    assert "verification_status" not in reply.slots
    assert not tools_shop.rows("SELECT id FROM verification_challenges WHERE conversation_id = :c", c=conv)
    assert tools_shop.audit(conv)[-1]["outcome"] in ("invalid", "missing", "not_found")


def test_closed_account_gets_no_code(tools_shop):
    closed = tools_shop.one("SELECT id, email FROM customers WHERE status = 'closed' ORDER BY id LIMIT 1")
    reply = tools_shop.call("action_identify_customer", sender(), intent="track_order", entities={"email": closed["email"]})
    assert "closed" in reply.text and "verification_status" not in reply.slots


def test_wrong_code_then_attempts_run_out_and_the_conversation_is_handed_over(tools_shop):
    customer = tools_shop.any_customer()
    conv = sender()
    tools_shop.call("action_identify_customer", conv, intent="track_order", entities={"email": customer["email"]})
    code = tools_shop.latest_code(customer["email"])
    wrong = "000000" if code != "000000" else "111111"
    first = tools_shop.call("action_check_verification_code", conv, text=wrong)
    assert "2 attempts left" in first.text and first.slots == {"verification_status": "wrong_code"}
    second = tools_shop.call("action_check_verification_code", conv, text=wrong)
    assert "1 attempt left" in second.text
    third = tools_shop.call("action_check_verification_code", conv, text=wrong)
    assert third.slots == {"verification_status": "locked"} and third.followup == "action_human_handoff"
    # even the right code is refused now, and no new code is sent during the lock-out
    late = tools_shop.call("action_check_verification_code", conv, text=code)
    assert late.slots == {"verification_status": "locked"} and "customer_id" not in late.slots
    again = tools_shop.call("action_send_verification_code", conv, intent="affirm", text="yes")
    assert again.slots == {"verification_status": "locked"} and again.followup == "action_human_handoff"
    outcomes = [r["outcome"] for r in tools_shop.audit(conv)]
    assert outcomes == ["code_sent", "wrong", "wrong", "locked", "locked", "locked"]
    assert not any(code in str(r["parameters"]) or wrong in str(r["parameters"]) for r in tools_shop.audit(conv))


def test_expired_code_offers_a_new_one_that_works(tools_shop):
    customer = tools_shop.any_customer()
    conv = sender()
    tools_shop.call("action_identify_customer", conv, intent="track_order", entities={"email": customer["email"]})
    code = tools_shop.latest_code(customer["email"])
    tools_shop.execute("UPDATE verification_challenges SET expires_at = :t WHERE conversation_id = :c",
                       t=tools_shop.at(seconds=-1), c=conv)
    expired = tools_shop.call("action_check_verification_code", conv, text=code)
    assert expired.slots == {"verification_status": "expired"} and "new one" in expired.text
    resent = tools_shop.call("action_send_verification_code", conv, intent="affirm", text="yes please")
    assert resent.slots == {"verification_status": "code_sent"}
    new_code = tools_shop.latest_code(customer["email"])
    done = tools_shop.call("action_check_verification_code", conv, entities={"code": new_code}, text=new_code)
    assert done.slots["customer_id"] == customer["customer_id"]


def test_code_without_a_challenge_and_message_without_a_code(tools_shop):
    conv = sender()
    assert tools_shop.call("action_check_verification_code", conv, text="123456").slots == {"verification_status": "no_challenge"}
    assert "6-digit code" in tools_shop.call("action_check_verification_code", conv, text="I don't have it").text


def test_verification_belongs_to_its_conversation_and_lapses(tools_shop):
    customer = tools_shop.any_customer()
    conv = sender()
    tools_shop.verify(conv, customer["customer_id"])
    ok = tools_shop.call("action_order_status", conv, intent="track_order", text="my orders")
    assert ok.status_code == 200 and "verify" not in ok.text.lower() and "confirm it's you" not in ok.text
    # another conversation that claims the customer id in a slot is not verified
    other = sender()
    forged = tools_shop.call("action_order_status", other, intent="track_order", slots={"customer_id": customer["customer_id"]})
    assert "confirm it's you" in forged.text and forged.slots["verification_status"] == "required"
    assert tools_shop.audit(other)[-1]["outcome"] == "verification_required"
    # after valid_for_minutes (15) the verification has lapsed
    tools_shop.execute("UPDATE verification_challenges SET verified_at = :t WHERE conversation_id = :c",
                       t=tools_shop.at(minutes=-16), c=conv)
    lapsed = tools_shop.call("action_order_status", conv, intent="track_order")
    assert lapsed.slots["verification_status"] == "lapsed" and "15 minutes" in lapsed.text
    resent = tools_shop.call("action_send_verification_code", conv, intent="affirm", text="yes")
    assert resent.slots == {"verification_status": "code_sent"}


def test_too_many_codes_in_an_hour(tools_shop):
    customer = tools_shop.any_customer()
    conv = sender()
    for _ in range(5):
        assert tools_shop.call("action_send_verification_code", conv, intent="affirm",
                               slots={"email": customer["email"]}).slots == {"verification_status": "code_sent"}
    sixth = tools_shop.call("action_send_verification_code", conv, intent="affirm", slots={"email": customer["email"]})
    assert sixth.slots == {"verification_status": "rate_limited"} and sixth.followup == "action_human_handoff"
