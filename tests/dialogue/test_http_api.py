"""The HTTP API over a real socket: parse, trackers, messages, resume, status, and authentication.

The server runs the real engine on a copy of the shop project (``tests/fixtures/shop_project``).
``shop_project`` and ``load_shop`` are shared with the other server tests.
"""

from __future__ import annotations

import json
import shutil
import socket
import time
from pathlib import Path

import httpx
import jwt
import pytest

from dialogue.auth import AuthSettings
from dialogue.server import ServerSettings, ServerThread, build_app

SHOP = Path(__file__).resolve().parents[1] / "fixtures" / "shop_project"

TOKEN = "a-test-token-that-nobody-guesses"
JWT_SECRET = "a-jwt-secret-long-enough-for-hs256-signing"
RASA_TRACKER_KEYS = [
    "sender_id",
    "slots",
    "latest_message",
    "latest_event_time",
    "followup_action",
    "paused",
    "events",
    "latest_input_channel",
    "active_loop",
    "latest_action",
    "latest_action_name",
]


def bearer(username: str, role: str, secret: str = JWT_SECRET, **claims) -> dict:
    token = jwt.encode({"user": {"username": username, "role": role}, **claims}, secret, algorithm="HS256")
    return {"Authorization": f"Bearer {token}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def shop_project(tmp_path_factory) -> Path:
    """A fresh copy of the shop project with a trained NLU model (trained once per test run)."""
    models = tmp_path_factory.getbasetemp() / "shop-project-models"
    if not models.is_dir():
        from nlu import train

        staging = tmp_path_factory.mktemp("shop-models-training")
        train(SHOP / "data", SHOP / "config.yml", staging)
        shutil.copytree(staging, models)
    project = tmp_path_factory.mktemp("shop-project")
    shutil.copytree(SHOP, project, dirs_exist_ok=True, ignore=shutil.ignore_patterns("models", "*.db", "__pycache__"))
    shutil.copytree(models, project / "models")
    return project


def load_shop(project: Path, action_server_url: str | None = None):
    """The real assistant on ``project``: an SQLite tracker store in the project directory."""
    from dialogue.project import load_assistant

    endpoints = {"tracker_store": {"type": "sql", "dialect": "sqlite", "db": "desk.db"}}
    return load_assistant(project, endpoints=endpoints, action_server_url=action_server_url)


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    settings = ServerSettings(auth=AuthSettings(token=TOKEN, jwt_secret=JWT_SECRET))
    with ServerThread(build_app(load_shop(shop_project(tmp_path_factory)), settings)) as server:
        server.client = httpx.Client(base_url=server.url, timeout=30)
        yield server
        server.client.close()


@pytest.fixture(scope="module")
def open_api(tmp_path_factory):
    """A server with no authentication configured."""
    with ServerThread(build_app(load_shop(shop_project(tmp_path_factory)))) as server:
        yield server


def chat(api, sender: str, message: str) -> list[dict]:
    reply = api.client.post("/webhooks/rest/webhook", json={"sender": sender, "message": message})
    assert reply.status_code == 200
    return reply.json()


def tracker(api, conversation_id: str, include_events: str = "ALL") -> httpx.Response:
    return api.client.get(f"/conversations/{conversation_id}/tracker", params={"token": TOKEN, "include_events": include_events})


# ---------------------------------------------------------------------------- open endpoints


def test_health_version_openapi_need_no_auth(api):
    assert api.client.get("/health").json() == {"status": "ok"}
    version = api.client.get("/version").json()
    assert list(version) == ["version", "minimum_compatible_version"]
    spec = api.client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    for path in ("/model/parse", "/conversations/{conversation_id}/tracker", "/webhooks/rest/webhook", "/status"):
        assert path in spec["paths"]


def test_status(api):
    assert api.client.get("/status").status_code == 401
    status = api.client.get("/status", params={"token": TOKEN}).json()
    assert list(status) == ["model_file", "model_id", "num_active_training_jobs"]
    assert status["model_file"].endswith(".tar.gz") and status["model_id"]
    assert status["num_active_training_jobs"] == 0


def test_parse(api):
    reply = api.client.post("/model/parse", params={"token": TOKEN}, json={"text": "where is my order ORD-12345"})
    assert reply.status_code == 200
    body = reply.json()
    assert body["text"] == "where is my order ORD-12345"
    assert body["intent"]["name"] == "track_order"
    assert any(e["entity"] == "order_id" and e["value"] == "ORD-12345" for e in body["entities"])
    assert {"intent", "entities", "intent_ranking"} <= set(body)
    # parsing touches no conversation
    assert tracker(api, "default").status_code == 404


# ---------------------------------------------------------------------------- trackers


def test_tracker_has_rasas_keys_in_rasas_order(api):
    chat(api, "t1", "hi")
    reply = tracker(api, "t1")
    assert reply.status_code == 200
    state = reply.json()
    assert list(state) == RASA_TRACKER_KEYS
    assert state["sender_id"] == "t1" and state["paused"] is False
    assert state["latest_input_channel"] == "rest"
    assert state["latest_message"]["intent"]["name"] == "greet"
    assert any(e["event"] == "user" and e["text"] == "hi" for e in state["events"])
    assert any(e["event"] == "bot" for e in state["events"])
    # the raw body keeps the order too
    assert reply.text.index('"sender_id"') < reply.text.index('"slots"') < reply.text.index('"latest_action_name"')


@pytest.mark.parametrize("conversation_id", ["user@example.com", "a b", "ünï", "x/y", "+4912345"])
def test_conversation_ids_are_percent_decoded(api, conversation_id):
    from urllib.parse import quote

    chat(api, conversation_id, "hi")
    reply = api.client.get(f"/conversations/{quote(conversation_id, safe='')}/tracker", params={"token": TOKEN})
    assert reply.status_code == 200 and reply.json()["sender_id"] == conversation_id


@pytest.mark.parametrize("verbosity", ["ALL", "AFTER_RESTART", "APPLIED", "all", "after_restart"])
def test_tracker_event_verbosity(api, verbosity):
    chat(api, "t2", "hi")
    state = tracker(api, "t2", verbosity).json()
    assert isinstance(state["events"], list) and state["events"]


def test_tracker_without_events(api):
    chat(api, "t3", "hi")
    assert tracker(api, "t3", "NONE").json()["events"] is None


def test_tracker_default_verbosity_is_after_restart(api):
    chat(api, "t4", "hi")
    default = api.client.get("/conversations/t4/tracker", params={"token": TOKEN}).json()
    assert default == tracker(api, "t4", "AFTER_RESTART").json()


# ---------------------------------------------------------------------------- messages and resume


def test_messages_endpoint_logs_a_user_message_without_a_reply(api):
    reply = api.client.post(
        "/conversations/m1/messages", params={"token": TOKEN}, json={"text": "logged only", "sender": "user"}
    )
    assert reply.status_code == 200
    state = reply.json()
    assert list(state) == RASA_TRACKER_KEYS
    assert [e["text"] for e in state["events"] if e["event"] == "user"] == ["logged only"]
    assert not [e for e in state["events"] if e["event"] == "bot"]


def test_resume_after_handoff(api):
    assert chat(api, "h1", "I want to talk to a human")
    assert chat(api, "h1", "hello?") == []
    assert tracker(api, "h1").json()["paused"] is True
    reply = api.client.post("/conversations/h1/resume", params={"token": TOKEN}, json={"agent": "alice"})
    assert reply.status_code == 200
    state = reply.json()
    assert state["paused"] is False
    assert any(e["event"] == "resume" for e in state["events"])
    assert chat(api, "h1", "hi") != []
    # resuming a conversation that is not paused, or does not exist
    assert api.client.post("/conversations/h1/resume", params={"token": TOKEN}).status_code == 409
    assert api.client.post("/conversations/nobody/resume", params={"token": TOKEN}).status_code == 404


# ---------------------------------------------------------------------------- authentication


PROTECTED = [
    ("GET", "/status", None),
    ("POST", "/model/parse", {"text": "hi"}),
    ("GET", "/conversations/a1/tracker", None),
    ("POST", "/conversations/a1/messages", {"text": "hi", "sender": "user"}),
    ("POST", "/conversations/a1/resume", None),
]


@pytest.mark.parametrize("method, path, body", PROTECTED)
def test_protected_endpoints_refuse_missing_or_wrong_credentials(api, method, path, body):
    chat(api, "a1", "hi")
    for params, headers in [
        ({}, {}),
        ({"token": "wrong"}, {}),
        ({"token": ""}, {}),
        ({}, {"Authorization": f"Bearer {TOKEN}"}),
        ({}, bearer("admin", "admin", secret="another-secret-that-is-long-enough-too")),
        ({}, {"Authorization": "Bearer not.a.jwt"}),
        ({}, bearer("admin", "admin", exp=int(time.time()) - 60)),
    ]:
        reply = api.client.request(method, path, params=params, headers=headers, json=body)
        assert reply.status_code == 401, (params, headers)
        error = reply.json()
        assert error["status"] == "failure" and error["reason"] == "NotAuthenticated" and error["code"] == 401


def test_jwt_roles(api):
    chat(api, "alice", "hi")
    chat(api, "bob", "hi")
    admin = bearer("root", "admin")
    assert api.client.get("/conversations/bob/tracker", headers=admin).status_code == 200
    assert api.client.get("/status", headers=admin).status_code == 200
    user = bearer("alice", "user")
    assert api.client.get("/conversations/alice/tracker", headers=user).status_code == 200
    forbidden = api.client.get("/conversations/bob/tracker", headers=user)
    assert forbidden.status_code == 403 and forbidden.json()["reason"] == "NotAuthorized"
    assert api.client.get("/status", headers=user).status_code == 403
    assert api.client.get("/conversations/bob/tracker", headers=bearer("x", "guest")).status_code == 403


def test_without_configured_auth_only_parse_is_open(open_api):
    with httpx.Client(base_url=open_api.url) as client:
        assert client.post("/model/parse", json={"text": "hi"}).status_code == 200
        client.post("/webhooks/rest/webhook", json={"sender": "o1", "message": "hi"})
        for method, path, body in PROTECTED:
            if path == "/model/parse":
                continue
            reply = client.request(method, path.replace("a1", "o1"), json=body, params={"token": "anything"})
            assert reply.status_code == 401
            assert "--auth-token" in reply.json()["message"]


# ---------------------------------------------------------------------------- bad input


BAD_REQUESTS = [
    # (method, path, body bytes, expected status)
    ("POST", "/model/parse", b"{not json", 400),
    ("POST", "/model/parse", b"", 400),
    ("POST", "/model/parse", b'{"message": "hi"}', 400),
    ("POST", "/model/parse", b'{"text": 42}', 400),
    ("POST", "/model/parse", b"[1, 2]", 400),
    ("POST", "/model/parse", ('{"text": "' + "a" * 5001 + '"}').encode(), 413),
    ("POST", "/conversations/known/messages", b"{not json", 400),
    ("POST", "/conversations/known/messages", b'{"sender": "user"}', 400),
    ("POST", "/conversations/known/messages", b'{"text": "hi"}', 400),
    ("POST", "/conversations/known/messages", b'{"text": "hi", "sender": "bot"}', 400),
    ("POST", "/conversations/known/messages", b'{"text": 7, "sender": "user"}', 400),
    ("POST", "/conversations/known/messages", b'{"text": "hi", "sender": "user", "parse_data": [1]}', 400),
    ("POST", "/conversations/known/messages", ('{"text": "' + "b" * 5001 + '", "sender": "user"}').encode(), 413),
    ("POST", "/conversations/known/messages?include_events=SOME", b'{"text": "hi", "sender": "user"}', 400),
    ("POST", "/conversations/" + "x" * 300 + "/messages", b'{"text": "hi", "sender": "user"}', 400),
    ("POST", "/conversations/known/resume", b"{not json", 400),
    ("POST", "/conversations/known/resume", b'{"agent": 5}', 400),
    ("POST", "/conversations/known/resume", b"[]", 400),
    ("GET", "/conversations/known/tracker?include_events=SOME", b"", 400),
    ("GET", "/conversations/unknown-conversation/tracker", b"", 404),
    ("POST", "/conversations/unknown-conversation/resume", b"", 404),
    ("POST", "/webhooks/rest/webhook", b'{"sender": "known", "message": 3}', 400),
    ("POST", "/webhooks/rest/webhook", ('{"sender": "known", "message": "' + "c" * 5001 + '"}').encode(), 413),
    ("POST", "/model/parse", b'{"text": "' + b"d" * 1_100_000 + b'"}', 413),
    ("GET", "/no/such/endpoint", b"", 404),
    ("DELETE", "/conversations/known/tracker", b"", 405),
]


def test_bad_requests_get_json_errors_and_change_nothing(api):
    chat(api, "known", "hi")
    before = tracker(api, "known").json()
    for method, path, content, status in BAD_REQUESTS:
        separator = "&" if "?" in path else "?"
        reply = api.client.request(
            method, f"{path}{separator}token={TOKEN}", content=content, headers={"content-type": "application/json"}
        )
        assert reply.status_code == status, (method, path, content[:60], reply.text[:200])
        error = reply.json()
        assert error["error"] and error["status"] == "failure" and error["code"] == status
        assert api.client.get("/health").status_code == 200
    assert tracker(api, "known").json() == before
    assert tracker(api, "unknown-conversation").status_code == 404
    assert tracker(api, "x" * 300).status_code == 400


def test_unauthenticated_requests_change_nothing(api):
    chat(api, "known2", "hi")
    before = tracker(api, "known2").json()
    api.client.post("/conversations/known2/messages", json={"text": "sneaky", "sender": "user"})
    api.client.post("/conversations/known2/messages", json={"text": "sneaky", "sender": "user"}, headers=bearer("known2", "guest"))
    api.client.post("/conversations/ghost/messages", json={"text": "sneaky", "sender": "user"}, params={"token": "nope"})
    assert tracker(api, "known2").json() == before
    assert tracker(api, "ghost").status_code == 404


def test_error_body_is_rasas_error_object(api):
    reply = api.client.post("/model/parse", params={"token": TOKEN}, content=b"{", headers={"content-type": "application/json"})
    assert list(reply.json()) == ["version", "status", "message", "reason", "details", "help", "code", "error"]
    assert json.loads(reply.text)["reason"] == "BadRequest"
