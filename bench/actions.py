"""Tool benchmark: the rasa-sdk action server as a real process, called over loopback HTTP with
Rasa's request format, on a freshly seeded SQLite back office (or PostgreSQL with ``--url``).

Measures (client-side wall time per call, after a warm-up):

- a look-up: ``action_order_status`` for one of the verified customer's orders (allowlist,
  verification check, two reads, audit append);
- a refund: ``action_request_refund`` of 0.01 below the approval threshold, each call a new user
  message (allowlist, verification, eligibility reads, refund insert and approval, audit append);
- a retried refund: the same request delivered again (answered from the idempotency key);
- audit verification: :meth:`AuditLog.verify` over 100,000 records (records/s), after appending
  them in batches (records/s).

Writes ``bench/results/actions.json`` and ``bench/results/actions.md`` and prints the table.

    python bench/actions.py                       # defaults: 300 look-ups, 300 refunds, 100,000 records
    python bench/actions.py --calls 100 --records 20000
    python bench/actions.py --url postgresql+psycopg://postgres@127.0.0.1:5432/desk_bench
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))

TARGETS = {"lookup_p50_ms": 25.0, "lookup_p99_ms": 75.0, "refund_p50_ms": 50.0, "refund_p99_ms": 150.0,
           "audit_verify_records_per_s": 20_000.0}
DOMAIN = {"version": "3.1", "intents": ["inform", "track_order", "get_refund"], "slots": {}, "actions": []}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request(action: str, sender: str, intent: str, text: str = "", entities: dict | None = None,
            message_id: str | None = None) -> dict:
    now = time.time()
    parse = {"intent": {"name": intent, "confidence": 0.97}, "text": text, "message_id": message_id or f"m-{time.time_ns()}",
             "entities": [{"entity": k, "value": v, "start": 0, "end": 0} for k, v in (entities or {}).items()],
             "metadata": {}, "intent_ranking": [{"name": intent, "confidence": 0.97}]}
    events = [
        {"event": "action", "timestamp": now - 3, "name": "action_session_start"},
        {"event": "session_started", "timestamp": now - 3},
        {"event": "action", "timestamp": now - 2, "name": "action_listen"},
        {"event": "user", "timestamp": now - 1, "text": text, "parse_data": parse, "input_channel": "rest",
         "message_id": parse["message_id"]},
        {"event": "user_featurization", "timestamp": now, "use_text_for_featurization": False},
    ]
    tracker = {"sender_id": sender, "slots": {}, "latest_message": parse, "latest_event_time": now, "followup_action": None,
               "paused": False, "events": events, "latest_input_channel": "rest", "active_loop": {},
               "latest_action": {"action_name": "action_listen"}, "latest_action_name": "action_listen"}
    return {"next_action": action, "sender_id": sender, "tracker": tracker, "version": "3.6.21", "domain": DOMAIN}


def summary(latencies: list[float]) -> dict:
    ordered = sorted(latencies)
    pick = lambda q: ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]  # noqa: E731
    return {"n": len(ordered), "p50_ms": round(pick(0.50), 2), "p90_ms": round(pick(0.90), 2), "p99_ms": round(pick(0.99), 2),
            "mean_ms": round(statistics.fmean(ordered), 2), "max_ms": round(ordered[-1], 2)}


class Server:
    def __init__(self, url: str) -> None:
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile(prefix="bench-actions-", suffix=".log", delete=False)
        env = {**os.environ, "DESK_BACKOFFICE_URL": url, "DESK_LINK_SECRET": "bench", "PYTHONUNBUFFERED": "1"}
        env.pop("DESK_POLICY_FILE", None)
        self.process = subprocess.Popen([sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port", str(self.port)],
                                        cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.client = httpx.Client(timeout=60)
        started = time.monotonic()
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(Path(self.log.name).read_text()[-3000:])
            try:
                if self.client.get(f"http://127.0.0.1:{self.port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() - started > 90:
                raise RuntimeError("the action server did not start")
            time.sleep(0.1)
        self.start_s = time.monotonic() - started

    def call(self, body: dict) -> tuple[float, dict]:
        t0 = time.perf_counter()
        response = self.client.post(f"http://127.0.0.1:{self.port}/webhook", json=body)
        elapsed = (time.perf_counter() - t0) * 1000
        response.raise_for_status()
        return elapsed, response.json()

    def stop(self) -> None:
        self.client.close()
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


def texts(reply: dict) -> str:
    return " ".join(r.get("text") or "" for r in reply.get("responses", []))


def tools_bench(url: str, calls: int, warmup: int) -> dict:
    from actions.backoffice import db

    engine = db.engine_for(url)
    with engine.begin() as conn:
        row = conn.execute(sa.text(
            "SELECT o.id, o.customer_id, c.email FROM orders o JOIN customers c ON c.id = o.customer_id "
            "WHERE c.status = 'active' AND o.status = 'delivered' AND o.total >= :least AND NOT EXISTS "
            "(SELECT 1 FROM refunds r WHERE r.order_id = o.id) AND NOT EXISTS (SELECT 1 FROM order_items i "
            "WHERE i.order_id = o.id AND i.state NOT IN ('new', 'opened')) ORDER BY o.id LIMIT 1"),
            {"least": (calls + warmup + 10) * 0.01}).one()
        order_id, customer_id, email = row
        conn.execute(sa.text("UPDATE shipments SET delivered_at = :t WHERE order_id = :o"),
                     {"t": db_now(url, days=-2), "o": order_id})
    server = Server(url)
    try:
        sender = "bench-conversation"
        server.call(request("action_identify_customer", sender, "track_order", email, {"email": email}))
        with engine.connect() as conn:
            body = conn.execute(sa.text("SELECT body FROM outbox_messages WHERE recipient = :r ORDER BY id DESC LIMIT 1"),
                                {"r": email}).scalar_one()
        code = re.search(r"verification code is (\d+)", body).group(1)
        _, reply = server.call(request("action_check_verification_code", sender, "inform", code))
        assert "verified" in texts(reply), reply

        lookup, wrong = [], 0
        for n in range(warmup + calls):
            elapsed, reply = server.call(request("action_order_status", sender, "track_order", entities={"order_id": order_id}))
            wrong += f"Order {order_id}" not in texts(reply)
            if n >= warmup:
                lookup.append(elapsed)
        refund = []
        for n in range(warmup + calls):
            elapsed, reply = server.call(request("action_request_refund", sender, "get_refund",
                                                 entities={"order_id": order_id, "amount": "0.01"}))
            wrong += "I've approved a refund" not in texts(reply)
            if n >= warmup:
                refund.append(elapsed)
        retried_body = request("action_request_refund", sender, "get_refund", entities={"order_id": order_id, "amount": "0.01"})
        server.call(retried_body)
        retried = []
        for _ in range(calls):
            elapsed, reply = server.call(retried_body)
            retried.append(elapsed)
            wrong += "I've approved a refund" not in texts(reply)
        with engine.connect() as conn:
            refunds = conn.execute(sa.text("SELECT COUNT(*) FROM refunds WHERE order_id = :o"), {"o": order_id}).scalar_one()
        return {
            "start_s": round(server.start_s, 2),
            "lookup": summary(lookup),
            "refund": summary(refund),
            "retried_refund": summary(retried),
            "refunds_created": refunds,
            "refunds_expected": warmup + calls + 1,
            "wrong_replies": wrong,
        }
    finally:
        server.stop()
        db.dispose_engines()


def db_now(url: str, **delta):
    from datetime import timedelta, timezone

    moment = datetime.now(timezone.utc) + timedelta(**delta)
    return moment.replace(tzinfo=None) if url.startswith("sqlite") else moment


def audit_bench(url: str, records: int, batch: int = 5000) -> dict:
    from actions.backoffice import db
    from actions.backoffice.audit import AuditLog

    log = AuditLog(url)
    t0 = time.perf_counter()
    for start in range(0, records, batch):
        log.append_many(
            (f"bench-{k // 20}", f"CUS-{k % 40 + 1:04d}", "action_order_status", {"order_id": f"ORD-{10001 + k % 120}"}, "ok", 12)
            for k in range(start, min(records, start + batch))
        )
    append_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = log.verify()
    verify_s = time.perf_counter() - t0
    db.dispose_engines()
    assert result.ok and result.checked >= records, result
    return {"records": result.checked, "append_s": round(append_s, 2), "append_records_per_s": round(records / append_s),
            "verify_s": round(verify_s, 3), "verify_records_per_s": round(result.checked / verify_s)}


def markdown(result: dict) -> str:
    t = result["targets"]
    tools, audit = result["tools"], result["audit"]

    def met(ok: bool) -> str:
        return "yes" if ok else "no"

    rows = [
        ("action server start-up (s)", f"{tools['start_s']}", "—", "—"),
        ("look-up (action_order_status): p50 / p99 ms", f"{tools['lookup']['p50_ms']} / {tools['lookup']['p99_ms']}",
         f"≤ {t['lookup_p50_ms']:g} / ≤ {t['lookup_p99_ms']:g}",
         met(tools['lookup']['p50_ms'] <= t['lookup_p50_ms'] and tools['lookup']['p99_ms'] <= t['lookup_p99_ms'])),
        ("refund (action_request_refund, approved): p50 / p99 ms", f"{tools['refund']['p50_ms']} / {tools['refund']['p99_ms']}",
         f"≤ {t['refund_p50_ms']:g} / ≤ {t['refund_p99_ms']:g}",
         met(tools['refund']['p50_ms'] <= t['refund_p50_ms'] and tools['refund']['p99_ms'] <= t['refund_p99_ms'])),
        ("retried refund (idempotent replay): p50 / p99 ms",
         f"{tools['retried_refund']['p50_ms']} / {tools['retried_refund']['p99_ms']}", "—", "—"),
        (f"audit verify, {audit['records']:,} records (records/s)", f"{audit['verify_records_per_s']:,}",
         f"≥ {t['audit_verify_records_per_s']:,.0f}", met(audit['verify_records_per_s'] >= t['audit_verify_records_per_s'])),
        (f"audit append in batches of 5,000 (records/s)", f"{audit['append_records_per_s']:,}", "—", "—"),
    ]
    table = "| measure | value | target | met |\n|---|---|---|---|\n" + "".join(f"| {a} | {b} | {c} | {d} |\n" for a, b, c, d in rows)
    m = result["machine"]
    table += (f"\nBack office: {result['backend']}. Calls measured: {tools['lookup']['n']} each, after "
              f"{result['warmup']} warm-up calls. Refund rows: {tools['refunds_created']} created for "
              f"{tools['refunds_expected']} distinct requests plus {tools['retried_refund']['n']} retries. "
              f"Wrong replies: {tools['wrong_replies']}. Machine: {m['cpus']} CPUs, Python {m['python']}, load average "
              f"(1/5/15 min) before / after: {m['load_before']} / {m['load_after']}.\n")
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300, help="measured calls per tool")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--records", type=int, default=100_000, help="audit records to verify")
    parser.add_argument("--url", help="an empty PostgreSQL database to use instead of a temporary SQLite file")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    from actions.backoffice import db
    from actions.backoffice.seed import seed

    load_before = [round(x, 2) for x in os.getloadavg()]
    work = Path(tempfile.mkdtemp(prefix="bench-actions-"))
    try:
        today = datetime.now(ZoneInfo("America/Los_Angeles")).date()
        tools_url = args.url or f"sqlite:///{work / 'tools.db'}"
        if args.url:
            db.drop_all(tools_url)
        seed(tools_url, today=today)
        db.dispose_engines()
        tools = tools_bench(tools_url, args.calls, args.warmup)
        audit_url = args.url or f"sqlite:///{work / 'audit.db'}"
        if args.url:
            db.drop_all(audit_url)
        db.migrate(audit_url)
        audit = audit_bench(audit_url, args.records)
        if args.url:
            db.drop_all(args.url)
            db.dispose_engines()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {
        "backend": "PostgreSQL" if args.url else "SQLite (file, WAL)",
        "warmup": args.warmup,
        "tools": tools,
        "audit": audit,
        "targets": TARGETS,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_before": load_before,
                    "load_after": [round(x, 2) for x in os.getloadavg()]},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "actions.json").write_text(json.dumps(result, indent=2) + "\n")
    table = markdown(result)
    (args.out / "actions.md").write_text("# Tools on the action server\n\n" + table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
