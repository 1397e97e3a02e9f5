"""Billing tools through a real action server: invoices, payment status, refunds by policy with the
approval gate (approve and reject, in code and on the command line), retried refunds and the
payment-method link."""

import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
import sys
import uuid
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from actions.backoffice.interfaces import Conflict
from actions.controls import approvals

REPO = Path(__file__).resolve().parents[2]

DELIVERED = ("SELECT o.id AS order_id, o.customer_id, o.total, o.currency FROM orders o "
             "JOIN customers c ON c.id = o.customer_id "
             "WHERE c.status = 'active' AND o.status = 'delivered' AND {where} "
             "AND NOT EXISTS (SELECT 1 FROM refunds r WHERE r.order_id = o.id) "
             "AND NOT EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = o.id AND i.state NOT IN ('new', 'opened')) "
             "ORDER BY o.id")


def sender():
    return f"conv-{uuid.uuid4().hex[:12]}"


def delivered_days_ago(shop, order_id, days):
    shop.execute("UPDATE shipments SET delivered_at = :t WHERE order_id = :o", t=shop.at(days=-days), o=order_id)


def refund_order(shop, where):
    row = shop.pick(DELIVERED.format(where=where))
    delivered_days_ago(shop, row["order_id"], 3)
    conv = sender()
    shop.verify(conv, row["customer_id"])
    return row, conv


def cli(shop, *args):
    env = {k: v for k, v in os.environ.items() if k != "DESK_BACKOFFICE_URL"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "actions.approvals", *args, "--url", shop.db_url], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=120)


def test_invoice_lookup_send_a_copy_and_payment_status(tools_shop):
    row = tools_shop.pick(DELIVERED.format(where="1 = 1"), claim=False)
    invoice = tools_shop.one("SELECT id, amount FROM invoices WHERE order_id = :o", o=row["order_id"])
    conv = sender()
    tools_shop.verify(conv, row["customer_id"])
    by_number = tools_shop.call("action_invoice_lookup", conv, intent="get_invoice", entities={"invoice_id": invoice["id"].lower()})
    assert by_number.text.startswith(f"Invoice {invoice['id']} for order {row['order_id']}:") and "paid" in by_number.text
    by_order = tools_shop.call("action_invoice_lookup", conv, intent="check_invoice", entities={"order_id": row["order_id"]})
    assert by_order.text == by_number.text and by_order.slots["invoice_id"] == invoice["id"]
    listed = tools_shop.call("action_invoice_lookup", conv, intent="get_invoice")
    assert "Your latest invoices" in listed.text

    email = tools_shop.customer(row["customer_id"])["email"]
    before = len(tools_shop.outbox(email))
    sent = tools_shop.call("action_send_invoice", conv, intent="get_invoice", slots={"invoice_id": invoice["id"]})
    assert f"e-mailed a copy of invoice {invoice['id']}" in sent.text and email not in sent.text
    mails = tools_shop.outbox(email)
    assert len(mails) == before + 1 and mails[-1]["subject"] == f"Your invoice {invoice['id']}"
    assert "Total:" in mails[-1]["body"]

    paid = tools_shop.call("action_payment_status", conv, intent="check_invoice", entities={"order_id": row["order_id"]})
    assert f"Order {row['order_id']} is paid in full" in paid.text


def test_invoice_validation_and_ownership(tools_shop):
    row = tools_shop.pick(DELIVERED.format(where="1 = 1"), claim=False)
    theirs = tools_shop.one("SELECT id FROM invoices WHERE customer_id <> :c ORDER BY id LIMIT 1", c=row["customer_id"])
    conv = sender()
    tools_shop.verify(conv, row["customer_id"])
    bad = tools_shop.call("action_invoice_lookup", conv, intent="get_invoice", entities={"invoice_id": "INV-12"})
    assert "doesn't look like an invoice number" in bad.text
    other = tools_shop.call("action_send_invoice", conv, intent="get_invoice", entities={"invoice_id": theirs["id"]})
    assert other.text == f"I couldn't find invoice {theirs['id']} on your account. Could you check the number?"
    ask = tools_shop.call("action_send_invoice", conv, intent="get_invoice")
    assert "Which invoice" in ask.text
    assert [r["outcome"] for r in tools_shop.audit(conv)][-3:] == ["invalid", "not_found", "missing"]


def test_refund_below_the_threshold_is_approved_and_a_retry_refunds_once(tools_shop):
    row, conv = refund_order(tools_shop, "o.total <= 200")
    request = tools_shop.request("action_request_refund", conv, intent="get_refund", text=f"refund {row['order_id']}",
                                 entities={"order_id": row["order_id"]}, message_id="m-refund-1")
    first = tools_shop.post(request)
    assert "I've approved a refund of" in first.text
    second = tools_shop.post(request)  # the action server's reply was lost and Rasa sent it again
    assert second.text == first.text
    refunds = tools_shop.rows("SELECT amount, status, idempotency_key, conversation_id FROM refunds WHERE order_id = :o",
                              o=row["order_id"])
    assert len(refunds) == 1
    assert Decimal(str(refunds[0]["amount"])) == Decimal(str(row["total"])) and refunds[0]["status"] == "approved"
    assert refunds[0]["idempotency_key"].startswith("desk-") and refunds[0]["conversation_id"] == conv
    # the customer repeats the request in a new message: nothing more can be refunded
    again = tools_shop.call("action_request_refund", conv, intent="get_refund", entities={"order_id": row["order_id"]})
    assert "already under way" in again.text
    assert len(tools_shop.rows("SELECT id FROM refunds WHERE order_id = :o", o=row["order_id"])) == 1
    assert [r["outcome"] for r in tools_shop.audit(conv)][-3:] == ["ok", "ok", "not_eligible"]


def test_the_same_refund_delivered_twice_at_once_refunds_once(tools_shop):
    row, conv = refund_order(tools_shop, "o.total <= 200")
    request = tools_shop.request("action_request_refund", conv, intent="get_refund", entities={"order_id": row["order_id"]})
    with ThreadPoolExecutor(2) as pool:
        replies = list(pool.map(lambda _: httpx.post(tools_shop.webhook, json=request, timeout=60).json(), range(2)))
    texts = [r["responses"][0]["text"] for r in replies]
    assert texts[0] == texts[1] and "I've approved a refund" in texts[0]
    assert len(tools_shop.rows("SELECT id FROM refunds WHERE order_id = :o", o=row["order_id"])) == 1


def test_partial_refund_and_amount_checks(tools_shop):
    row, conv = refund_order(tools_shop, "o.total > 30 AND o.total <= 200")
    total = Decimal(str(row["total"]))
    for amount, says in [("-5", "more than zero"), ("0", "more than zero"), ("lots", "doesn't look like an amount"),
                         (str(total + 1), "more than order")]:
        reply = tools_shop.call("action_request_refund", conv, intent="get_refund",
                                slots={"order_id": row["order_id"], "amount": amount})
        assert says in reply.text, (amount, reply)
    reply = tools_shop.call("action_request_refund", conv, intent="get_refund",
                            slots={"order_id": row["order_id"], "amount": "$20.00"})
    assert "I've approved a refund of $20.00" in reply.text or "refund of CA$20.00" in reply.text or "£20.00" in reply.text
    rest = total - Decimal("20.00")
    too_much = tools_shop.call("action_request_refund", conv, intent="get_refund",
                               slots={"order_id": row["order_id"], "amount": str(rest + Decimal("1.00"))})
    assert "The most I can refund" in too_much.text
    amounts = [Decimal(str(r["amount"])) for r in tools_shop.rows("SELECT amount FROM refunds WHERE order_id = :o", o=row["order_id"])]
    assert amounts == [Decimal("20.00")]


def test_refunds_outside_the_rules_are_refused(tools_shop):
    row, conv = refund_order(tools_shop, "o.total <= 200")
    delivered_days_ago(tools_shop, row["order_id"], 31)
    late = tools_shop.call("action_request_refund", conv, intent="get_refund", entities={"order_id": row["order_id"]})
    assert "outside our 30-day return window" in late.text
    tools_shop.execute("UPDATE order_items SET state = 'returned' WHERE order_id = :o", o=row["order_id"])
    delivered_days_ago(tools_shop, row["order_id"], 2)
    returned = tools_shop.call("action_request_refund", conv, intent="get_refund", entities={"order_id": row["order_id"]})
    assert "already been returned" in returned.text
    assert not tools_shop.rows("SELECT id FROM refunds WHERE order_id = :o", o=row["order_id"])

    shipped = tools_shop.pick("SELECT o.id AS order_id, o.customer_id FROM orders o JOIN customers c ON c.id = o.customer_id "
                              "WHERE c.status = 'active' AND o.status = 'in_transit' ORDER BY o.id", claim=False)
    conv = sender()
    tools_shop.verify(conv, shipped["customer_id"])
    on_its_way = tools_shop.call("action_request_refund", conv, intent="get_refund", entities={"order_id": shipped["order_id"]})
    assert "still on its way" in on_its_way.text
    assert tools_shop.audit(conv)[-1]["outcome"] == "not_eligible"


def test_refund_above_the_threshold_waits_for_approval_then_runs_once(tools_shop):
    row, conv = refund_order(tools_shop, "o.total > 200")
    request = tools_shop.request("action_request_refund", conv, intent="get_refund", entities={"order_id": row["order_id"]})
    reply = tools_shop.post(request)
    assert "need a quick review" in reply.text
    assert tools_shop.post(request).text == reply.text  # a retry queues nothing new
    refund = tools_shop.one("SELECT id, status FROM refunds WHERE order_id = :o", o=row["order_id"])
    assert refund["status"] == "pending_approval"
    approval = tools_shop.one("SELECT * FROM approval_requests WHERE customer_id = :c", c=row["customer_id"])
    assert approval["status"] == "pending" and approval["tool"] == "action_request_refund"
    assert reply.slots["approval_id"] == approval["id"] and approval["id"] in reply.text
    assert tools_shop.audit(conv)[-1]["outcome"] == "pending_approval"

    email = tools_shop.customer(row["customer_id"])["email"]
    before = len(tools_shop.outbox(email))
    decision = approvals.decide(approval["id"], True, "agent.smith", "checked the photos", db=tools_shop.db_url)
    assert decision.executed and decision.approval.status == "executed"
    assert tools_shop.one("SELECT status FROM refunds WHERE id = :r", r=refund["id"])["status"] == "approved"
    mails = tools_shop.outbox(email)
    assert len(mails) == before + 1 and "has been approved" in mails[-1]["subject"]
    # deciding again changes nothing and sends nothing; rejecting now is a conflict
    assert approvals.decide(approval["id"], True, "agent.jones", db=tools_shop.db_url).executed
    with pytest.raises(Conflict):
        approvals.decide(approval["id"], False, "agent.jones", "too late", db=tools_shop.db_url)
    assert len(tools_shop.outbox(email)) == before + 1
    order_id = row["order_id"]
    row = tools_shop.one("SELECT status, decided_by, executed_at FROM approval_requests WHERE id = :a", a=approval["id"])
    assert row["status"] == "executed" and row["decided_by"] == "agent.smith" and row["executed_at"] is not None
    # the customer asks again: the approved refund is reported, not repeated
    status = tools_shop.call("action_payment_status", conv, intent="track_refund", entities={"order_id": order_id})
    assert f"Refunds in progress: {refund['id']}" in status.text and "approved" in status.text


def test_refund_above_the_threshold_rejected_on_the_command_line(tools_shop):
    row, conv = refund_order(tools_shop, "o.total > 200")
    tools_shop.call("action_request_refund", conv, intent="get_refund", entities={"order_id": row["order_id"]})
    approval = tools_shop.one("SELECT id FROM approval_requests WHERE customer_id = :c", c=row["customer_id"])
    listed = cli(tools_shop, "list")
    assert listed.returncode == 0 and approval["id"] in listed.stdout and row["order_id"] in listed.stdout
    usage = cli(tools_shop, "reject", approval["id"], "--agent", "agent.smith")
    assert usage.returncode == 2 and "--reason" in usage.stderr
    done = cli(tools_shop, "reject", approval["id"], "--agent", "agent.smith", "--reason", "worn outside")
    assert done.returncode == 0, done.stderr
    assert "rejected" in done.stdout
    assert tools_shop.one("SELECT status FROM refunds WHERE order_id = :o", o=row["order_id"])["status"] == "rejected"
    mail = tools_shop.outbox(tools_shop.customer(row["customer_id"])["email"])[-1]
    assert "couldn't approve it" in mail["body"] and "worn outside" in mail["body"]
    late = cli(tools_shop, "approve", approval["id"], "--agent", "agent.jones")
    assert late.returncode == 1 and "already rejected" in late.stderr
    assert tools_shop.one("SELECT status FROM refunds WHERE order_id = :o", o=row["order_id"])["status"] == "rejected"
    missing = cli(tools_shop, "approve", "APR-99999", "--agent", "agent.jones")
    assert missing.returncode == 1 and "no approval request" in missing.stderr
    # the customer asks again with the same request: told it was reviewed, nothing new is queued
    again = tools_shop.call("action_request_refund", conv, intent="get_refund", entities={"order_id": row["order_id"]})
    assert "reviewed by our team and not approved" in again.text
    assert len(tools_shop.rows("SELECT id FROM approval_requests WHERE customer_id = :c", c=row["customer_id"])) == 1


def test_payment_method_link_is_signed_and_never_takes_card_details(tools_shop):
    from actions.controls import links

    customer = tools_shop.any_customer()
    conv = sender()
    tools_shop.verify(conv, customer["customer_id"])
    reply = tools_shop.call("action_payment_method_link", conv, intent="payment_issue",
                            text="my new card is 4111 1111 1111 1111 exp 12/29")
    assert "Please don't share card details" in reply.text and "4111" not in reply.text
    url = next(word for word in reply.text.split() if word.startswith("https://"))
    token = parse_qs(urlparse(url).query)["token"][0]
    os.environ["DESK_LINK_SECRET"] = "test-link-secret"
    try:
        assert links.verify_token(token, "payment_methods") == customer["customer_id"]
        assert links.verify_token(token, "orders") is None
        assert links.verify_token(token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "payment_methods") is None
    finally:
        del os.environ["DESK_LINK_SECRET"]
    record = tools_shop.audit(conv)[-1]
    assert record["outcome"] == "ok" and record["parameters"]["card_details_in_message"] is True
    # Not the card number nor eight of its digits, in what the records say (their hashes, times
    # and sequence numbers are digits that may hold a short run like "4111" by chance).
    said = str([(r["tool"], r["parameters"], r["outcome"]) for r in tools_shop.audit(conv)])
    assert not re.search(r"4111[ -]?1111", said)
