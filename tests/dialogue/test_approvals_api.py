"""Approval decisions over the Desk server's HTTP API, forwarded to a real rasa-sdk action server.

The back office is a migrated and seeded SQLite file; the held refunds are created with the
back office's own API, as ``action_request_refund`` does above the approval threshold.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlalchemy as sa

from dialogue.action_client import ActionServerClient
from dialogue.auth import AuthSettings
from dialogue.domain import Domain
from dialogue.engine import Assistant
from dialogue.server import AGENT_SENDER_PREFIX, ActionServerProcess, ServerSettings, ServerThread, build_app

REPO = Path(__file__).resolve().parents[2]
TOKEN = "approvals-test-token"
DOMAIN = {"version": "3.1", "intents": ["greet"], "responses": {"utter_greet": [{"text": "Hello!"}]}}
DELIVERED = (
    "SELECT o.id AS order_id, o.customer_id, o.total FROM orders o JOIN customers c ON c.id = o.customer_id "
    "JOIN invoices i ON i.order_id = o.id "
    "WHERE c.status = 'active' AND o.status = 'delivered' AND i.status = 'paid' AND o.total > 50 "
    "AND NOT EXISTS (SELECT 1 FROM refunds r WHERE r.order_id = o.id) ORDER BY o.id"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def hold_refund(rt, row: dict, conversation_id: str):
    """A refund in ``pending_approval`` and its approval request, as the refund tool records them."""
    from actions.controls import approvals

    refund = rt.backoffice.billing.create_refund(
        row["order_id"], Decimal("25.00"), "damaged", idempotency_key=f"test-{uuid.uuid4().hex}",
        conversation_id=conversation_id, status="pending_approval",
    )
    approval, created = approvals.request(
        rt, conversation_id=conversation_id, customer_id=row["customer_id"], tool="action_request_refund",
        parameters={"kind": approvals.KIND_REFUND, "refund_id": refund.id, "order_id": row["order_id"],
                    "amount": str(refund.amount), "reason": "damaged"},
        dedupe=refund.id, amount=refund.amount, currency=refund.currency,
    )
    assert created
    return approval, refund


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    from actions.backoffice import db
    from actions.backoffice.seed import seed
    from actions.runtime import build

    url = f"sqlite:///{tmp_path_factory.mktemp('approvals') / 'backoffice.db'}"
    seed(url, today=datetime.now(ZoneInfo("America/Los_Angeles")).date())
    rt = build(url)
    engine = sa.create_engine(db.normalise_url(url))
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(sa.text(DELIVERED))]
    picked = []
    for row in rows:  # two orders of different customers
        if all(row["customer_id"] != p["customer_id"] for p in picked):
            picked.append(row)
        if len(picked) == 2:
            break
    assert len(picked) == 2, rows
    held = [hold_refund(rt, row, f"customer-{uuid.uuid4().hex[:8]}") for row in picked]
    db.dispose_engines()

    saved = os.environ.get("DESK_BACKOFFICE_URL")
    os.environ["DESK_BACKOFFICE_URL"] = url
    try:
        actions = ActionServerProcess(REPO, free_port(), startup_timeout=90).start()
    finally:
        if saved is None:
            os.environ.pop("DESK_BACKOFFICE_URL")
        else:
            os.environ["DESK_BACKOFFICE_URL"] = saved
    domain = Domain(DOMAIN)
    client = ActionServerClient(actions.url, domain.as_dict(), domain.fingerprint(), timeout=60)
    settings = ServerSettings(auth=AuthSettings(token=TOKEN))
    try:
        with ServerThread(build_app(Assistant(domain, action_client=client), settings)) as server:
            server.http = httpx.Client(base_url=server.url, timeout=60, params={"token": TOKEN})
            server.anonymous = httpx.Client(base_url=server.url, timeout=60)
            server.engine = engine
            server.held = held
            for approval, _ in held:  # the customers' conversations exist on the Desk server
                reply = server.http.post(f"/conversations/{approval.conversation_id}/messages",
                                         json={"text": "/greet", "sender": "user"})
                assert reply.status_code == 200, reply.text
            yield server
            server.http.close()
            server.anonymous.close()
    finally:
        actions.stop()
        engine.dispose()


def one(desk, query: str, **params) -> dict:
    with desk.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(sa.text(query), params)]
    assert len(rows) == 1, rows
    return rows[0]


def bot_texts(desk, conversation_id: str) -> list[str]:
    state = desk.http.get(f"/conversations/{conversation_id}/tracker").json()
    return [e.get("text") for e in state["events"] if e["event"] == "bot"]


def test_approvals_need_authentication(desk):
    approval, _ = desk.held[0]
    assert desk.anonymous.get("/approvals").status_code == 401
    assert desk.anonymous.post(f"/approvals/{approval.id}/approve", json={"agent": "x"}).status_code == 401
    assert desk.anonymous.get("/approvals", params={"token": "wrong"}).status_code == 401


def test_list_approve_once_and_tell_the_customer(desk):
    approval, refund = desk.held[0]
    listed = desk.http.get("/approvals")
    assert listed.status_code == 200
    ids = [a["id"] for a in listed.json()["approvals"]]
    assert approval.id in ids and desk.held[1][0].id in ids
    shown = next(a for a in listed.json()["approvals"] if a["id"] == approval.id)
    assert shown["status"] == "pending" and shown["conversation_id"] == approval.conversation_id
    assert shown["parameters"]["refund_id"] == refund.id and "dedupe" not in shown["parameters"]

    done = desk.http.post(f"/approvals/{approval.id}/approve", json={"agent": "agent.smith", "reason": "photos ok"})
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["executed"] is True and body["approval"]["status"] == "executed", body
    assert body["conversation_id"] == approval.conversation_id and body["customer_notified"] is True
    assert refund.id in body["customer_message"] and "approved" in body["customer_message"]
    assert one(desk, "SELECT status FROM refunds WHERE id = :r", r=refund.id)["status"] == "approved"
    row = one(desk, "SELECT status, decided_by FROM approval_requests WHERE id = :a", a=approval.id)
    assert row == {"status": "executed", "decided_by": "agent.smith"}

    again = desk.http.post(f"/approvals/{approval.id}/approve", json={"agent": "agent.jones"})
    assert again.status_code == 409 and again.json()["reason"] == "Conflict"
    other_way = desk.http.post(f"/approvals/{approval.id}/reject", json={"agent": "agent.jones", "reason": "no"})
    assert other_way.status_code == 409
    assert one(desk, "SELECT decided_by FROM approval_requests WHERE id = :a", a=approval.id)["decided_by"] == "agent.smith"
    mails = one(desk, "SELECT COUNT(*) AS n FROM outbox_messages WHERE subject LIKE '%has been approved%' "
                      "AND body LIKE :r", r=f"%{refund.id}%")
    assert mails["n"] == 1  # carried out and announced once

    assert bot_texts(desk, approval.conversation_id).count(body["customer_message"]) == 1
    assert approval.id not in [a["id"] for a in desk.http.get("/approvals").json()["approvals"]]


def test_reject_tells_the_customer(desk):
    approval, refund = desk.held[1]
    bad = desk.http.post(f"/approvals/{approval.id}/reject", json={"reason": "no agent"})
    assert bad.status_code == 400
    done = desk.http.post(f"/approvals/{approval.id}/reject", json={"agent": "agent.smith", "reason": "worn outside"})
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["executed"] is False and body["approval"]["status"] == "rejected"
    assert "worn outside" in body["customer_message"] and body["customer_notified"] is True
    assert one(desk, "SELECT status FROM refunds WHERE id = :r", r=refund.id)["status"] == "rejected"
    assert body["customer_message"] in bot_texts(desk, approval.conversation_id)
    assert desk.http.post(f"/approvals/{approval.id}/reject", json={"agent": "a", "reason": "x"}).status_code == 409


def test_unknown_approval_is_404(desk):
    reply = desk.http.post("/approvals/APR-99999/approve", json={"agent": "agent.smith"})
    assert reply.status_code == 404 and "APR-99999" in reply.json()["message"]


def test_the_agent_actions_refuse_customer_conversations(desk):
    """Called without the agent marker (as a customer's conversation would be), nothing is decided."""
    approval, _ = desk.held[1]
    client = desk.app.ctx.assistant.action_client
    tracker = {"sender_id": "customer-1", "slots": {}, "events": [], "paused": False, "followup_action": None,
               "active_loop": {}, "latest_action_name": "action_listen",
               "latest_message": {"text": "", "metadata": {"approval_id": approval.id, "approve": True, "agent": "me"}}}
    reply = httpx.post(client.url, json={"next_action": "action_decide_approval", "sender_id": "customer-1",
                                         "tracker": tracker, "version": "3.6.21", "domain": DOMAIN}, timeout=60)
    customs = [r["custom"] for r in reply.json()["responses"] if r.get("custom")]
    assert customs == [{"error": {"reason": "forbidden", "message": "only agents may decide approval requests"}}]


def test_channels_refuse_the_agent_prefix(desk):
    sender = AGENT_SENDER_PREFIX + "mallory"
    rest = desk.anonymous.post("/webhooks/rest/webhook", json={"sender": sender, "message": "hi"})
    assert rest.status_code == 400 and AGENT_SENDER_PREFIX in rest.json()["message"]
    tracker = desk.http.get(f"/conversations/{sender}/tracker")
    assert tracker.status_code == 400
    added = desk.http.post(f"/conversations/{sender}/messages", json={"text": "hi", "sender": "user"})
    assert added.status_code == 400
    assert desk.anonymous.post("/webhooks/rest/webhook", json={"sender": "ok-user", "message": "/greet"}).status_code == 200


def test_action_server_down_is_502(desk):
    domain = Domain(DOMAIN)
    client = ActionServerClient(f"http://127.0.0.1:{free_port()}/webhook", domain.as_dict(), domain.fingerprint())
    settings = ServerSettings(auth=AuthSettings(token=TOKEN))
    with ServerThread(build_app(Assistant(domain, action_client=client), settings)) as server:
        listed = httpx.get(f"{server.url}/approvals", params={"token": TOKEN}, timeout=30)
        decided = httpx.post(f"{server.url}/approvals/APR-00001/approve", params={"token": TOKEN},
                             json={"agent": "agent.smith"}, timeout=30)
    for reply in (listed, decided):
        assert reply.status_code == 502 and reply.json()["status"] == "failure"
