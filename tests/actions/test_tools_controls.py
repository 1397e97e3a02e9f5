"""Controls around every tool: the allowlist, form validation, errors that escalate instead of
showing a stack trace, the audit chain (tampering caught by `python -m actions.backoffice audit
verify`) and the policy file."""

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
import yaml

from actions import policy as policies
from actions.tools.approvals import AGENT_ACTIONS
from actions.controls import idempotency

REPO = Path(__file__).resolve().parents[2]


def sender():
    return f"conv-{uuid.uuid4().hex[:12]}"


def backoffice_cli(url, *args):
    env = {k: v for k, v in os.environ.items() if k != "DESK_BACKOFFICE_URL"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "actions.backoffice", *args, "--url", url], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


# --------------------------------------------------------------------------- allowlist


def test_a_tool_outside_the_allowlist_is_refused_and_audited(tools_shop):
    row = tools_shop.pick("SELECT o.id AS order_id, o.customer_id FROM orders o JOIN customers c ON c.id = o.customer_id "
                          "WHERE c.status = 'active' AND o.status = 'paid' ORDER BY o.id")
    conv = sender()
    tools_shop.verify(conv, row["customer_id"])
    refused = tools_shop.call("action_cancel_order", conv, intent="greet", text="hi there", entities={"order_id": row["order_id"]})
    assert refused.status_code == 200 and "I can't do that from here" in refused.text
    assert tools_shop.one("SELECT status FROM orders WHERE id = :o", o=row["order_id"])["status"] == "paid"
    record = tools_shop.audit(conv)[-1]
    assert (record["tool"], record["outcome"], record["parameters"]) == ("action_cancel_order", "refused", {"states": ["greet"]})
    # refusing comes first: an unverified conversation is refused too, not asked to verify
    assert "I can't do that" in tools_shop.call("action_request_refund", sender(), intent="track_order").text


def test_the_form_active_in_this_turn_allows_its_tool(tools_shop):
    row = tools_shop.pick("SELECT o.id AS order_id, o.customer_id FROM orders o JOIN customers c ON c.id = o.customer_id "
                          "WHERE c.status = 'active' AND o.status = 'pending' ORDER BY o.id")
    conv = sender()
    tools_shop.verify(conv, row["customer_id"])
    body = tools_shop.request("action_cancel_order", conv, intent="inform", text=row["order_id"], active_loop="cancel_order_form",
                              slots={"requested_slot": "order_id"}, entities={"order_id": row["order_id"]})
    # the form collected its last slot in this turn and was deactivated before the submit action ran
    body["tracker"]["events"] += [{"event": "slot", "timestamp": 1, "name": "order_id", "value": row["order_id"]},
                                  {"event": "active_loop", "timestamp": 1, "name": None}]
    body["tracker"]["active_loop"] = {}
    reply = tools_shop.post(body)
    assert reply.text == f"Done: order {row['order_id']} is cancelled."
    # a form from an earlier turn does not count
    body = tools_shop.request("action_cancel_order", conv, intent="inform", text="ok", entities={"order_id": row["order_id"]})
    body["tracker"]["events"][2:2] = [{"event": "active_loop", "timestamp": 1, "name": "cancel_order_form"},
                                      {"event": "active_loop", "timestamp": 1, "name": None}]
    assert "I can't do that" in tools_shop.post(body).text


def test_every_allowlisted_tool_is_served_and_every_served_tool_is_allowlisted(tools_shop):
    served = {a["name"] for a in httpx.get(tools_shop.webhook.replace("/webhook", "/actions")).json()}
    allowlisted = policies.load().tools()
    assert allowlisted <= served
    tools = {name for name in served if not name.startswith(("validate_", "action_ask_"))}  # form helpers need no entry
    assert tools - AGENT_ACTIONS == allowlisted


@pytest.mark.parametrize("tool", sorted(policies.load().tools() - {
    "action_identify_customer", "action_send_verification_code", "action_check_verification_code"}))
def test_every_account_tool_needs_a_verified_conversation(tools_shop, tool):
    policy = policies.load()
    intent = next(state for state, tools in sorted(policy.allowlist.items()) if tool in tools and not state.endswith("_form"))
    conv = sender()
    reply = tools_shop.call(tool, conv, intent=intent, slots={"customer_id": "CUS-0001"},
                            entities={"order_id": "ORD-10001", "invoice_id": "INV-100001", "ticket_id": "TCK-00001"})
    assert "confirm it's you" in reply.text and reply.slots == {"verification_status": "required", "customer_id": None}
    assert [(r["tool"], r["outcome"], r["customer_id"]) for r in tools_shop.audit(conv)] == [(tool, "verification_required", None)]


# --------------------------------------------------------------------------- form validation


@pytest.mark.parametrize(
    "form, slot, value, stored, says",
    [
        ("cancel_order_form", "order_id", "ord 10005", "ORD-10005", None),
        ("cancel_order_form", "order_id", "10005", None, "doesn't look like an order number"),
        ("refund_form", "amount", "$49.90", "49.90", None),
        ("refund_form", "amount", "-3", None, "more than zero"),
        ("appointment_form", "date", "2001-01-01", None, "is in the past"),
        ("appointment_form", "time", "2:30 pm", "14:30", None),
        ("appointment_form", "appointment_type", "Bike service", "bike_service", None),
        ("edit_account_form", "new_email", "Jane@Example.COM", "jane@example.com", None),
        ("edit_account_form", "new_email", "jane@", None, "doesn't look like an e-mail address"),
    ],
)
def test_form_validation(tools_shop, form, slot, value, stored, says):
    body = tools_shop.request(f"validate_{form}", sender(), intent="inform", text=str(value), active_loop=form,
                              slots={"requested_slot": slot}, candidates={slot: value})
    reply = tools_shop.post(body)
    assert reply.status_code == 200 and reply.slots[slot] == stored
    if says:
        assert says in reply.text
    else:
        assert reply.text == ""


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_broken_back_office_is_escalated_not_shown(tools_server_for, backend):
    server = tools_server_for(backend, seeded=False)  # no schema at all: every query fails
    for action, intent in [("action_identify_customer", "track_order"), ("action_order_status", "track_order"),
                           ("action_request_refund", "get_refund")]:
        reply = server.call(action, sender(), intent=intent, entities={"email": "jane@example.com", "order_id": "ORD-10001"})
        assert reply.status_code == 200, reply.body
        assert reply.text.startswith("Sorry, something went wrong on our side")
        assert reply.followup == "action_human_handoff"
        assert not re.search(r"Traceback|sqlalchemy|sqlite3|OperationalError", str(reply.body))
    assert "OperationalError" in server.log_text()  # it is logged for the operators


# --------------------------------------------------------------------------- audit


def test_audit_chain_of_tool_calls_and_tampering_is_caught(tools_server_for, backend):
    server = tools_server_for(backend)
    customer = server.pick("SELECT id AS customer_id FROM customers WHERE status = 'active' ORDER BY id")
    conv = sender()
    server.verify(conv, customer["customer_id"])
    server.call("action_order_status", conv, intent="track_order")
    server.call("action_payment_status", conv, intent="check_invoice", entities={"order_id": "ORD-1"})
    server.call("action_cancel_order", conv, intent="greet")
    records = server.audit(conv)
    assert [(r["tool"], r["outcome"]) for r in records] == [
        ("action_identify_customer", "code_sent"), ("action_check_verification_code", "verified"),
        ("action_order_status", "listed"), ("action_payment_status", "invalid"), ("action_cancel_order", "refused"),
    ]
    assert all(r["latency_ms"] >= 0 and r["time"] is not None for r in records)
    assert {r["customer_id"] for r in records[1:4]} == {customer["customer_id"]}

    done = backoffice_cli(server.db_url, "audit", "verify")
    assert done.returncode == 0 and f"audit log OK: {len(records)} records verified" in done.stdout, done.stderr
    server.execute("UPDATE audit_records SET outcome = 'ok' WHERE seq = :s", s=records[4]["seq"])
    broken = backoffice_cli(server.db_url, "audit", "verify")
    assert broken.returncode == 1 and f"BROKEN at record {records[4]['seq']}" in broken.stderr and "altered" in broken.stderr


# --------------------------------------------------------------------------- policy and keys


def test_policy_file_matches_the_shop_facts():
    policy = policies.load()
    assert policy.path.endswith("policy.yml")
    assert policy.refund_window_days == 30 and policy.cancellation_fee == 0
    assert (policy.verification.code_length, policy.verification.code_ttl_minutes, policy.verification.max_attempts,
            policy.verification.valid_for_minutes) == (6, 5, 3, 15)
    facts = (REPO / "domain.yml").read_text()
    assert f"returns: {policy.refund_window_days} days from delivery" in facts
    assert "there is no cancellation fee" in facts


@pytest.mark.parametrize(
    "change, says",
    [
        ({"refund_approval_threshold": -1}, "refund_approval_threshold"),
        ({"verification": {"max_attempts": 0}}, "verification.max_attempts"),
        ({"payment_method_link": {"base_url": "http://insecure.example"}}, "https://"),
        ({"allowlist": {"greet": "action_cancel_order"}}, "allowlist.greet"),
        ({"store_timezone": "Mars/Olympus"}, "store_timezone"),
    ],
)
def test_policy_file_errors(tmp_path, change, says):
    data = yaml.safe_load((REPO / "policy.yml").read_text())
    data.update(change)
    path = tmp_path / "policy.yml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(policies.PolicyError, match=re.escape(says)):
        policies.load(path)


def test_policy_changes_apply_without_a_restart(tmp_path, monkeypatch):
    data = yaml.safe_load((REPO / "policy.yml").read_text())
    path = tmp_path / "policy.yml"
    path.write_text(yaml.safe_dump(data))
    monkeypatch.setenv(policies.POLICY_ENV, str(path))
    assert policies.current().refund_window_days == 30
    data["refund_window_days"] = 45
    path.write_text(yaml.safe_dump(data))
    os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 5))
    assert policies.current().refund_window_days == 45
    path.write_text("refund_window_days: [")  # broken: the last good policy stays in force
    os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 10))
    assert policies.current().refund_window_days == 45


def test_idempotency_keys():
    class T:
        latest_message = {"message_id": "m1"}
        events = []

    base = idempotency.key("c1", "action_request_refund", idempotency.trigger_message_id(T), {"order_id": "ORD-10001", "amount": None})
    assert base == idempotency.key("c1", "action_request_refund", "m1", {"order_id": "ord-10001 "})
    assert base != idempotency.key("c1", "action_request_refund", "m2", {"order_id": "ORD-10001"})
    assert base != idempotency.key("c2", "action_request_refund", "m1", {"order_id": "ORD-10001"})
    assert base != idempotency.key("c1", "action_cancel_order", "m1", {"order_id": "ORD-10001"})
    assert len(base) <= 128
