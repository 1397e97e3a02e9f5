"""Retention, a customer's export and erasure on a seeded back office; the audit chain still
verifies afterwards, checked by the same command line an operator runs."""

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from backoffice_helpers import NOW, clock

from actions.backoffice import db
from actions.backoffice import models as m
from actions.backoffice.audit import AuditLog
from actions.backoffice.privacy import (
    ERASE_TOOL,
    RETENTION_TOOL,
    ChainBroken,
    apply_retention,
    erase_customer,
    export_customer,
    personal_data_masker,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def mask(pii_masker):
    return personal_data_masker(ROOT / "config.yml")


def first_customer(sessions) -> m.Customer:
    with db.session_scope(sessions) as s:
        return s.scalars(sa.select(m.Customer).where(m.Customer.status == "active").order_by(m.Customer.id)).first()


def audit_rows(sessions) -> list[dict]:
    with db.session_scope(sessions) as s:
        return [dict(r) for r in s.execute(sa.select(m.AuditRecord.__table__).order_by(m.AuditRecord.seq)).mappings()]


def cli(module: str, *argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", module, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_audit_parameters_are_masked_with_the_project_types(fresh_seeded_url, mask):
    log = AuditLog(fresh_seeded_url, clock=clock, personal=mask)
    entry = log.append("c1", "CUS-00001", "action_edit_account",
                       {"note": "write to ana.lima@example.com or +1 503 555 0199", "email": "j***@example.com",
                        "order_id": "ORD-10001", "card": "4111 1111 1111 1111"}, "ok", 3)
    assert entry.parameters == {"note": "write to <EMAIL_ADDRESS> or <PHONE_NUMBER>", "email": "j***@example.com",
                                "order_id": "ORD-10001", "card": "****1111"}
    assert log.verify().ok


def test_export_holds_the_customers_records_and_conversations(fresh_seeded_url):
    sessions = db.session_factory(fresh_seeded_url)
    customer = first_customer(sessions)
    AuditLog(sessions, clock=clock).append("conv-ana", customer.id, "action_order_status", {"order_id": "ORD-10001"}, "ok", 5)
    exported = export_customer(sessions, customer.id)
    assert exported["customer"]["email"] == customer.email and exported["customer"]["name"] == customer.name
    assert exported["orders"] and all(o["customer_id"] == customer.id for o in exported["orders"])
    assert "conv-ana" in exported["conversation_ids"]
    assert [r["conversation_id"] for r in exported["audit_records"]] == ["conv-ana"]
    assert all("code_hash" not in c for c in exported["verification_challenges"])
    json.dumps(exported)  # JSON-ready
    assert export_customer(sessions, "CUS-99999") is None


def test_erase_keeps_the_audit_chain_verifying(fresh_seeded_url, mask):
    sessions = db.session_factory(fresh_seeded_url)
    customer = first_customer(sessions)
    other = "CUS-99998"
    log = AuditLog(sessions, clock=clock)
    log.append("conv-other", other, "action_order_status", {"order_id": "ORD-10002"}, "ok", 4)
    log.append("conv-ana", customer.id, "action_identify_customer", {"by": "email", "note": f"I am {customer.email}"}, "ok", 5)
    log.append("conv-other", other, "action_order_status", {"order_id": "ORD-10003"}, "ok", 4)
    before_head = log.verify()
    other_before = [(r["seq"], r["conversation_id"], r["parameters"]) for r in audit_rows(sessions) if r["customer_id"] == other]

    summary = erase_customer(sessions, customer.id, mask)

    assert "conv-ana" in summary["conversation_ids"] and summary["pseudonym"].startswith("ERASED-")
    result = log.verify()
    assert result.ok, result.problem
    rows = audit_rows(sessions)
    assert not any(r["customer_id"] == customer.id or r["conversation_id"] == "conv-ana" for r in rows)
    assert customer.email not in json.dumps([r["parameters"] for r in rows])
    mine = [r for r in rows if r["customer_id"] == summary["pseudonym"]]
    assert [r["tool"] for r in mine] == ["action_identify_customer", ERASE_TOOL]
    assert mine[-1]["parameters"]["replaced_head"] == {"seq": before_head.last_seq, "hash": before_head.last_hash}
    assert [(r["seq"], r["conversation_id"], r["parameters"]) for r in rows if r["customer_id"] == other] == other_before
    exported = export_customer(sessions, customer.id)
    assert exported["customer"]["name"] == "Erased customer" and exported["customer"]["phone"] is None
    assert exported["addresses"] == [] and exported["messages_sent"] == []
    assert all(o["ship_name"] == "Erased customer" for o in exported["orders"])
    assert exported["conversation_ids"] and not set(exported["conversation_ids"]) & set(summary["conversation_ids"])
    # the operator's check agrees
    verify = cli("actions.backoffice", "audit", "verify", "--url", fresh_seeded_url)
    assert verify.returncode == 0, verify.stderr


def test_erase_refuses_a_broken_chain_and_changes_nothing(fresh_seeded_url, mask):
    sessions = db.session_factory(fresh_seeded_url)
    customer = first_customer(sessions)
    log = AuditLog(sessions, clock=clock)
    log.append("conv-ana", customer.id, "action_order_status", {"order_id": "ORD-10001"}, "ok", 5)
    with db.session_scope(sessions, write=True) as s:
        s.execute(sa.update(m.AuditRecord.__table__).values(outcome="tampered"))
    with pytest.raises(ChainBroken):
        erase_customer(sessions, customer.id, mask)
    assert export_customer(sessions, customer.id)["customer"]["email"] == customer.email


def test_retention_deletes_only_what_is_old(fresh_seeded_url):
    sessions = db.session_factory(fresh_seeded_url)
    old, new = NOW - timedelta(days=400), NOW - timedelta(days=2)
    AuditLog(sessions, clock=lambda: old).append("c-old", None, "action_order_status", {}, "ok", 1)
    AuditLog(sessions, clock=lambda: old).append("c-old", None, "action_order_status", {}, "ok", 1)
    AuditLog(sessions, clock=lambda: new).append("c-new", None, "action_order_status", {}, "ok", 1)
    with db.session_scope(sessions, write=True) as s:
        s.execute(sa.delete(m.OutboxMessage))
        for created, sent in ((old, old), (old, None), (new, new)):
            s.add(m.OutboxMessage(channel="email", recipient="a@example.com", subject="s", body="b", created_at=created, sent_at=sent))

    dry = apply_retention(sessions, outbox_days=30, audit_days=365, dry_run=True, now=NOW)
    assert dry == {"outbox_messages": 1, "audit_records": 2}
    assert len(audit_rows(sessions)) == 3

    assert apply_retention(sessions, outbox_days=30, audit_days=365, now=NOW) == dry
    rows = audit_rows(sessions)
    assert [r["conversation_id"] for r in rows] == ["c-new", None] and rows[-1]["tool"] == RETENTION_TOOL
    with db.session_scope(sessions) as s:
        left = s.execute(sa.select(m.OutboxMessage.created_at, m.OutboxMessage.sent_at)).all()
    assert sorted(left, key=lambda r: r[0]) == [(old, None), (new, new)]  # unsent messages stay
    result = AuditLog(sessions).verify()
    assert result.ok and result.checked == 2, result.problem
    # tampering with what is left is still caught
    with db.session_scope(sessions, write=True) as s:
        s.execute(sa.update(m.AuditRecord.__table__).where(m.AuditRecord.seq == rows[0]["seq"]).values(outcome="x"))
    assert not AuditLog(sessions).verify().ok


def test_command_line_erase_prints_the_conversations_to_delete(fresh_seeded_url):
    sessions = db.session_factory(fresh_seeded_url)
    customer = first_customer(sessions)
    AuditLog(sessions, clock=clock).append("conv-cli", customer.id, "action_order_status", {}, "ok", 2)
    db.dispose_engines()
    done = cli("actions.privacy", "erase", "--customer", customer.id, "--url", fresh_seeded_url)
    assert done.returncode == 0, done.stderr
    assert "conv-cli" in json.loads(done.stdout)["conversation_ids"]
    missing = cli("actions.privacy", "export", "--customer", "CUS-99999", "--url", fresh_seeded_url)
    assert missing.returncode == 1 and "no customer CUS-99999" in missing.stderr


def test_the_action_servers_log_lines_are_masked(caplog, pii_masker, monkeypatch):
    import logging

    from actions import runtime

    monkeypatch.chdir(ROOT)  # the action server runs in the project directory
    runtime.warm_up().join()
    logging.getLogger("actions.tools.base").error("tool failed for %s", "jane.doe@example.com")
    assert "jane.doe@example.com" not in caplog.text and "tool failed for <EMAIL_ADDRESS>" in caplog.text
