"""``desk retention apply`` and ``desk gdpr export|erase`` on a project with an SQLite tracker
store and a seeded SQLite back office, each command in a process of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from dialogue import events as ev
from dialogue.stores import SQLTrackerStore
from dialogue.stores.handoff import SQLHandoffStore

REPO = Path(__file__).resolve().parents[2]
DAY = 86400


def desk(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DESK_BACKOFFICE_URL"}
    return subprocess.run([sys.executable, "-m", "dialogue.cli", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def conversation(store: SQLTrackerStore, sender_id: str, text: str) -> None:
    store.append(sender_id, [ev.action_executed("action_listen", timestamp=time.time()),
                             ev.user_uttered(text, {"text": text, "intent": {"name": "greet", "confidence": 1.0}, "entities": []},
                                             "rest", None, None, timestamp=time.time())])


@pytest.fixture(scope="module")
def backoffice(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('bo') / 'backoffice.db'}"
    seeded = desk("backoffice", "seed", "--url", url, "--today", "2025-06-02")
    assert seeded.returncode == 0, seeded.stderr
    return url


@pytest.fixture
def project(tmp_path) -> Path:
    (tmp_path / "domain.yml").write_text('version: "3.1"\nintents: [greet]\n')
    (tmp_path / "config.yml").write_text(textwrap.dedent("""
        privacy:
          retention_days: {conversations: 30, handoffs: 30, outbox: 30, audit: null}
        """))
    (tmp_path / "endpoints.yml").write_text("tracker_store:\n  type: sql\n  db: tracker.db\n")
    return tmp_path


def test_retention_deletes_only_old_conversations_and_handoffs(project, backoffice):
    store = SQLTrackerStore(f"sqlite:///{project / 'tracker.db'}")
    handoffs = SQLHandoffStore(engine=store.engine)
    for sender_id in ("old", "recent"):
        conversation(store, sender_id, "hello")
    handoffs.record("old", {"reason": "test", "created_at": time.time() - 40 * DAY})
    handoffs.record("recent", {"reason": "test", "created_at": time.time() - DAY})
    with store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE conversations SET updated_at = :t WHERE sender_id = 'old'"), {"t": time.time() - 40 * DAY})
    store.close()

    dry = desk("retention", "apply", "--dry-run", "--project", str(project), "--url", backoffice)
    assert dry.returncode == 0, dry.stderr
    counted = json.loads(dry.stdout)
    assert counted["conversations"] == 1 and counted["handoffs"] == 1 and counted["audit_records"] == 0
    assert counted["retention_days"] == {"conversations": 30, "handoffs": 30, "outbox": 30, "audit": None}

    done = desk("retention", "apply", "--project", str(project), "--url", backoffice)
    assert done.returncode == 0, done.stderr
    assert {k: v for k, v in json.loads(done.stdout).items() if k != "dry_run"} == {
        k: v for k, v in counted.items() if k != "dry_run"}
    store = SQLTrackerStore(f"sqlite:///{project / 'tracker.db'}")
    try:
        assert store.keys() == ["recent"]
        assert [h["sender_id"] for h in SQLHandoffStore(engine=store.engine).pending()] == ["recent"]
    finally:
        store.close()
    again = json.loads(desk("retention", "apply", "--dry-run", "--project", str(project), "--url", backoffice).stdout)
    assert again["conversations"] == again["handoffs"] == again["outbox_messages"] == 0


def test_gdpr_export_then_erase(project, backoffice):
    from actions.backoffice.audit import AuditLog
    from actions.backoffice.db import dispose_engines

    customer = "CUS-0001"
    AuditLog(backoffice).append("conv-ana", customer, "action_order_status", {"order_id": "ORD-10001"}, "ok", 3)
    dispose_engines()
    store = SQLTrackerStore(f"sqlite:///{project / 'tracker.db'}")
    conversation(store, "conv-ana", "where is my order?")
    conversation(store, "someone-else", "hello")
    store.close()

    exported = desk("gdpr", "export", "--customer", customer, "--project", str(project), "--url", backoffice)
    assert exported.returncode == 0, exported.stderr
    data = json.loads(exported.stdout)
    assert data["backoffice"]["customer"]["id"] == customer and "@" in data["backoffice"]["customer"]["email"]
    assert [c["sender_id"] for c in data["conversations"]] == ["conv-ana"]
    assert [e["text"] for e in data["conversations"][0]["events"] if e["event"] == "user"] == ["where is my order?"]

    erased = desk("gdpr", "erase", "--customer", customer, "--project", str(project), "--url", backoffice)
    assert erased.returncode == 0, erased.stderr
    summary = json.loads(erased.stdout)
    assert summary["deleted"]["conversations"] == 1 and summary["pseudonym"].startswith("ERASED-")
    verified = desk("audit", "verify", "--url", backoffice)
    assert verified.returncode == 0 and "audit log OK" in verified.stdout, verified.stderr
    after = json.loads(desk("gdpr", "export", "--customer", customer, "--project", str(project), "--url", backoffice).stdout)
    assert after["conversations"] == [] and after["backoffice"]["customer"]["name"] == "Erased customer"
    store = SQLTrackerStore(f"sqlite:///{project / 'tracker.db'}")
    try:
        assert store.keys() == ["someone-else"]
    finally:
        store.close()
    unknown = desk("gdpr", "erase", "--customer", "CUS-99999", "--project", str(project), "--url", backoffice)
    assert unknown.returncode == 2 and "no customer CUS-99999" in unknown.stderr


def test_analytics_export_masks_names_and_contact_details(project, pii_masker):
    store = SQLTrackerStore(f"sqlite:///{project / 'tracker.db'}")
    conversation(store, "c1", "I'm Jane Doe, write to jane.doe@example.com about my parcel")
    conversation(store, "c2", "hello")
    store.close()
    out = project / "conversations.jsonl"
    done = desk("export", "conversations", "--project", str(project), "--out", str(out))
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [c["sender_id"] for c in lines] == ["c1", "c2"]
    user = [e for e in lines[0]["events"] if e["event"] == "user"][0]
    assert user["text"] == "I'm <PERSON>, write to <EMAIL_ADDRESS> about my parcel"
    assert lines[0]["latest_message"]["text"] == user["text"]
    assert "Jane Doe" not in out.read_text()
