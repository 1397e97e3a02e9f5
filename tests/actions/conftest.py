"""Back-office databases for the tests: SQLite files under tmp_path and, when
``DESK_TEST_POSTGRES_URL`` names a database (e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/desk_test``),
PostgreSQL, each test in a schema of its own that is dropped afterwards.

``seeded_url`` is one seeded database per backend shared by the tests that only read;
``fresh_seeded_url`` is a private seeded copy for tests that write; ``empty_url`` is unmigrated.
"""

import shutil
import uuid

import pytest
import sqlalchemy as sa
from backoffice_helpers import BACKENDS, PG_URL, TODAY
from sqlalchemy.engine import make_url

from actions.backoffice import db
from actions.backoffice.seed import seed


@pytest.fixture(autouse=True)
def _close_engines():
    yield
    db.dispose_engines()


class PgSchemas:
    """Creates throw-away schemas in the test database; a URL per schema pins its search_path."""

    def __init__(self) -> None:
        self.base = db.normalise_url(PG_URL)
        self.admin = sa.create_engine(self.base, isolation_level="AUTOCOMMIT")

    def create(self) -> str:
        name = f"bo_test_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
        query = dict(self.base.query)
        query["options"] = f"-csearch_path={name}"
        return self.base.set(query=query).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        name = make_url(url).query["options"].split("=", 1)[1]
        db.dispose_engines()
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture(scope="session")
def pg_schemas():
    if not PG_URL:
        pytest.skip("set DESK_TEST_POSTGRES_URL to run on PostgreSQL")
    schemas = PgSchemas()
    yield schemas
    schemas.admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """A seeded SQLite file, checkpointed so that copying the one file copies the database."""
    path = tmp_path_factory.mktemp("template") / "backoffice.db"
    url = f"sqlite:///{path}"
    seed(url, today=TODAY)
    db.dispose_engines()  # the last connection to close checkpoints and removes the WAL
    assert not path.with_name(path.name + "-wal").exists()
    return path


@pytest.fixture(scope="session", params=BACKENDS)
def seeded_url(request, sqlite_template, tmp_path_factory):
    """A seeded database shared by read-only tests."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("shared") / "backoffice.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    schemas = request.getfixturevalue("pg_schemas")
    url = schemas.create()
    seed(url, today=TODAY)
    yield url
    schemas.drop(url)


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def empty_url(backend, tmp_path, request):
    """A database with nothing in it."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'backoffice.db'}"
        return
    schemas = request.getfixturevalue("pg_schemas")
    url = schemas.create()
    yield url
    schemas.drop(url)


@pytest.fixture
def fresh_seeded_url(backend, tmp_path, request):
    """A private seeded database for a test that writes."""
    if backend == "sqlite":
        path = tmp_path / "backoffice.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    schemas = request.getfixturevalue("pg_schemas")
    url = schemas.create()
    seed(url, today=TODAY)
    yield url
    schemas.drop(url)


@pytest.fixture
def migrated_url(empty_url):
    db.migrate(empty_url)
    return empty_url


# --------------------------------------------------------------------------- tools on a real action server
#
# The tool tests talk to `python -m rasa_sdk --actions actions` over HTTP, with request bodies
# shaped like Rasa 3.6's (next_action, sender_id, tracker, version, domain). The back office is
# seeded for the real current date, since the action server runs on the real clock.

import json as _json
import os as _os
import re as _re
import socket as _socket
import subprocess as _subprocess
import sys as _sys
import tempfile as _tempfile
import time as _time
from datetime import datetime as _datetime
from datetime import timedelta as _timedelta
from datetime import timezone as _timezone
from pathlib import Path as _Path
from zoneinfo import ZoneInfo as _ZoneInfo

import httpx as _httpx

TOOLS_REPO = _Path(__file__).resolve().parents[2]
TOOLS_DOMAIN = {
    "version": "3.1",
    "intents": ["inform", "affirm", "greet", "track_order", "cancel_order", "get_refund", "edit_account"],
    "entities": ["order_id", "email", "phone", "code", "amount", "date", "time"],
    "slots": {
        "order_id": {"type": "text", "influence_conversation": False, "mappings": [{"type": "from_entity", "entity": "order_id"}]},
        "email": {"type": "text", "influence_conversation": False, "mappings": [{"type": "from_entity", "entity": "email"}]},
        "customer_id": {"type": "text", "influence_conversation": False, "mappings": [{"type": "custom"}]},
    },
    "forms": {
        "cancel_order_form": {"required_slots": ["order_id"]},
        "refund_form": {"required_slots": ["order_id", "amount"]},
        "appointment_form": {"required_slots": ["appointment_type", "date", "time"]},
        "edit_account_form": {"required_slots": ["new_email"]},
    },
    "actions": [],
}


def _free_port() -> int:
    with _socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ToolReply:
    """The action server's answer: HTTP status, events, the texts said, slots set, follow-up action."""

    def __init__(self, response: _httpx.Response) -> None:
        self.status_code = response.status_code
        self.body = response.json() if response.content else {}
        self.events = self.body.get("events", []) if isinstance(self.body, dict) else []
        self.texts = [r.get("text") or "" for r in self.body.get("responses", [])] if isinstance(self.body, dict) else []
        self.text = "\n".join(self.texts)
        self.slots = {e["name"]: e["value"] for e in self.events if e.get("event") == "slot"}
        self.followup = next((e["name"] for e in self.events if e.get("event") == "followup"), None)

    def __repr__(self) -> str:
        return f"<ToolReply {self.status_code} {self.text!r} slots={self.slots} followup={self.followup}>"


class ToolServer:
    """A rasa-sdk action server process serving `actions` against one back-office database."""

    def __init__(self, url: str, env: dict | None = None) -> None:
        self.db_url = url
        self.port = _free_port()
        self.webhook = f"http://127.0.0.1:{self.port}/webhook"
        self.log = _tempfile.NamedTemporaryFile(prefix="tools-action-server-", suffix=".log", delete=False)
        environ = {**_os.environ, "PYTHONUNBUFFERED": "1", "DESK_BACKOFFICE_URL": url, "DESK_LINK_SECRET": "test-link-secret"}
        environ.pop("DESK_POLICY_FILE", None)
        environ.update(env or {})
        self.process = _subprocess.Popen(
            [_sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port", str(self.port)],
            cwd=TOOLS_REPO, stdout=self.log, stderr=_subprocess.STDOUT, env=environ,
        )
        self.client = _httpx.Client(timeout=60)
        deadline = _time.monotonic() + 90
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the action server exited: {self.log_text()[-3000:]}")
            try:
                if self.client.get(f"http://127.0.0.1:{self.port}/health", timeout=1).status_code == 200:
                    break
            except _httpx.HTTPError:
                pass
            if _time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the action server did not answer /health within 90 s")
            _time.sleep(0.2)
        self.engine = sa.create_engine(db.normalise_url(url))
        self.claimed: set[str] = set()

    def log_text(self) -> str:
        return _Path(self.log.name).read_text(errors="replace")

    def stop(self) -> None:
        self.client.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except _subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if hasattr(self, "engine"):
            self.engine.dispose()
        self.log.close()
        _Path(self.log.name).unlink(missing_ok=True)

    # ---------------------------------------------------------------- Rasa's request

    @staticmethod
    def request(action, sender, *, intent="inform", text="", entities=None, slots=None, active_loop=None,
                message_id=None, candidates=None, domain=None):
        """The body Rasa 3.6 POSTs to /webhook: the session so far and the latest user message."""
        now = _time.time()
        message_id = message_id or f"msg-{_time.time_ns()}"
        slots = dict(slots or {})
        parse = {
            "intent": {"name": intent, "confidence": 0.97},
            "entities": [{"entity": k, "value": v, "start": 0, "end": 0, "extractor": "RegexEntityExtractor"}
                         for k, v in (entities or {}).items()],
            "text": text, "message_id": message_id, "metadata": {},
            "intent_ranking": [{"name": intent, "confidence": 0.97}],
        }
        meta = {"model_id": "test", "assistant_id": "northwind-outfitters"}
        events = [
            {"event": "action", "timestamp": now - 5, "metadata": meta, "name": "action_session_start", "policy": None,
             "confidence": 1.0, "action_text": None, "hide_rule_turn": False},
            {"event": "session_started", "timestamp": now - 5, "metadata": meta},
        ]
        events += [{"event": "slot", "timestamp": now - 4, "name": k, "value": v} for k, v in slots.items()]
        if active_loop:
            events.append({"event": "active_loop", "timestamp": now - 3, "name": active_loop})
            if "requested_slot" not in slots:
                events.append({"event": "slot", "timestamp": now - 3, "name": "requested_slot", "value": None})
        events += [
            {"event": "action", "timestamp": now - 2, "metadata": meta, "name": "action_listen", "policy": None,
             "confidence": None, "action_text": None, "hide_rule_turn": False},
            {"event": "user", "timestamp": now - 1, "metadata": meta, "text": text, "parse_data": parse,
             "input_channel": "rest", "message_id": message_id},
            {"event": "user_featurization", "timestamp": now, "use_text_for_featurization": False},
        ]
        for k, v in (candidates or {}).items():  # slot candidates a form extracted from this message
            events.append({"event": "slot", "timestamp": now, "name": k, "value": v})
            slots[k] = v
        tracker = {
            "sender_id": sender, "slots": slots, "latest_message": parse, "latest_event_time": now,
            "followup_action": None, "paused": False, "events": events, "latest_input_channel": "rest",
            "active_loop": {"name": active_loop} if active_loop else {},
            "latest_action": {"action_name": "action_listen"}, "latest_action_name": "action_listen",
        }
        return {"next_action": action, "sender_id": sender, "tracker": tracker, "version": "3.6.21",
                "domain": domain or TOOLS_DOMAIN}

    def post(self, body) -> ToolReply:
        return ToolReply(self.client.post(self.webhook, json=body))

    def call(self, action, sender, **kwargs) -> ToolReply:
        return self.post(self.request(action, sender, **kwargs))

    # ---------------------------------------------------------------- the back office, read directly

    def rows(self, query, **params):
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.text(query), params)]

    def one(self, query, **params):
        rows = self.rows(query, **params)
        assert len(rows) == 1, rows
        return rows[0]

    def execute(self, query, **params):
        with self.engine.begin() as conn:
            conn.execute(sa.text(query), params)

    def at(self, **delta):
        """Now plus ``delta`` (``timedelta`` arguments) as a query parameter for this database's time columns."""
        moment = _datetime.now(_timezone.utc) + _timedelta(**delta)
        return moment.replace(tzinfo=None) if self.db_url.startswith("sqlite") else moment

    def customer(self, customer_id):
        return self.one("SELECT * FROM customers WHERE id = :id", id=customer_id)

    def outbox(self, recipient):
        return self.rows("SELECT * FROM outbox_messages WHERE recipient = :r ORDER BY id", r=recipient)

    def latest_code(self, email) -> str:
        messages = [m for m in self.outbox(email) if "verification code" in (m["subject"] or "")]
        assert messages, f"no code was sent to {email}"
        return _re.search(r"verification code is (\d+)", messages[-1]["body"]).group(1)

    def pick(self, query, claim=True, **params) -> dict:
        """The first row of ``query`` (which must select ``customer_id``) whose customer no test has
        claimed; ``claim`` it when the test changes the customer's data, so that such tests never
        share a customer."""
        for row in self.rows(query, **params):
            if row["customer_id"] not in self.claimed:
                if claim:
                    self.claimed.add(row["customer_id"])
                return row
        raise AssertionError(f"no unclaimed row for {query}")

    def any_customer(self) -> dict:
        """An active customer for a test that changes nothing but verification records."""
        return self.pick("SELECT id AS customer_id, email FROM customers WHERE status = 'active' ORDER BY id DESC",
                         claim=False)

    def verify(self, sender, customer_id) -> ToolReply:
        """Identify the customer by e-mail and answer the code from the outbox, as the customer would."""
        email = self.customer(customer_id)["email"]
        sent = self.call("action_identify_customer", sender, intent="track_order", text=f"it's {email}",
                         entities={"email": email})
        assert sent.slots.get("verification_status") == "code_sent", sent
        code = self.latest_code(email)
        done = self.call("action_check_verification_code", sender, text=code)
        assert done.slots.get("customer_id") == customer_id, done
        return done

    def audit(self, sender):
        rows = self.rows("SELECT * FROM audit_records WHERE conversation_id = :c ORDER BY seq", c=sender)
        for row in rows:
            if isinstance(row["parameters"], str):
                row["parameters"] = _json.loads(row["parameters"])
        return rows


def _tools_database(backend, request, name):
    """A freshly migrated and seeded database for the tool tests: (url, cleanup)."""
    from actions.backoffice.seed import seed as _seed

    today = _datetime.now(_ZoneInfo("America/Los_Angeles")).date()
    if backend == "sqlite":
        path = _Path(_tempfile.mkdtemp(prefix=f"tools-{name}-")) / "backoffice.db"
        url = f"sqlite:///{path}"
        _seed(url, today=today)
        db.dispose_engines()
        return url, lambda: shutil.rmtree(path.parent, ignore_errors=True)
    schemas = request.getfixturevalue("pg_schemas")
    url = schemas.create()
    _seed(url, today=today)
    db.dispose_engines()
    return url, lambda: schemas.drop(url)


@pytest.fixture(scope="session", params=BACKENDS)
def tools_shop(request):
    """One seeded back office per backend and an action server on it, shared by the tool tests
    (each test works on customers of its own: :meth:`ToolServer.pick`)."""
    url, cleanup = _tools_database(request.param, request, "shared")
    server = ToolServer(url)
    server.backend = request.param
    yield server
    server.stop()
    cleanup()


@pytest.fixture
def tools_server_for(request):
    """Start action servers on databases of their own: ``tools_server_for(backend, seeded=True)``."""
    started = []

    def start(backend, *, seeded=True, env=None):
        if seeded:
            url, cleanup = _tools_database(backend, request, "own")
        elif backend == "sqlite":
            path = _Path(_tempfile.mkdtemp(prefix="tools-empty-")) / "backoffice.db"
            url, cleanup = f"sqlite:///{path}", (lambda: shutil.rmtree(path.parent, ignore_errors=True))
        else:
            schemas = request.getfixturevalue("pg_schemas")
            url = schemas.create()
            cleanup = lambda: schemas.drop(url)  # noqa: E731
        server = ToolServer(url, env=env)
        server.backend = backend
        started.append((server, cleanup))
        return server

    yield start
    for server, cleanup in started:
        server.stop()
        cleanup()
