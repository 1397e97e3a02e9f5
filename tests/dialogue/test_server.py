"""The commands that run the assistant, each in its own process: ``desk run`` (spoken to over
a real socket), ``desk shell`` and ``desk data validate``, on a copy of the shop project."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from test_http_api import free_port, shop_project

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "a-token-for-the-desk-run-tests"


def desk(*args: str, **kwargs) -> list[str]:
    return [sys.executable, "-m", "dialogue.cli", *args]


def environment(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESK_")}
    return {**env, "PYTHONPATH": str(ROOT), **extra}


def use_action_port(project: Path, port: int) -> None:
    """Point the copy's endpoints.yml at a free port for its action server."""
    endpoints = project / "endpoints.yml"
    endpoints.write_text(endpoints.read_text().replace("localhost:5055", f"localhost:{port}"))


def action_server_answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    project = shop_project(tmp_path_factory)
    use_action_port(project, free_port())
    return project


def start_desk_run(project: Path, env: dict, timeout: float = 90) -> subprocess.Popen:
    """``desk run`` on ``project`` and a free port, once it answers ``/health``; ``url`` names it."""
    port = free_port()
    process = subprocess.Popen(
        desk("run", "--project", str(project), "--port", str(port)),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    process.url = f"http://127.0.0.1:{port}"
    deadline = time.time() + timeout
    while time.time() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{process.url}/health").status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    pytest.fail(process.stdout.read())


@pytest.fixture(scope="module")
def server(project):
    action_port = int((project / "endpoints.yml").read_text().split("localhost:")[1].split("/")[0])
    started = time.monotonic()
    process = start_desk_run(project, environment(DESK_AUTH_TOKEN=TOKEN))
    process.startup_seconds = time.monotonic() - started
    process.action_port = action_port
    yield process
    if process.poll() is None:
        process.terminate()
        process.wait(15)


def test_run_serves_the_project_with_its_action_server(server):
    assert action_server_answers(server.action_port)
    reply = httpx.post(f"{server.url}/webhooks/rest/webhook", json={"sender": "c1", "message": "what is your refund policy"})
    assert [m.get("text") for m in reply.json()] == [
        "You can return any item within 30 days for a full refund.",
        "Would you like me to start a return?",
    ]
    reply = httpx.post(f"{server.url}/webhooks/rest/webhook", json={"sender": "c1", "message": "/affirm"})
    assert reply.json() == [{"recipient_id": "c1", "text": "I've started a return; the label is on its way by email."}]


def test_run_starts_fast_with_a_trained_model(server):
    # the model is trained already: loading the project, the action server and the server
    assert server.startup_seconds < 30


def test_parse_status_version_health(server):
    reply = httpx.post(f"{server.url}/model/parse", params={"token": TOKEN}, json={"text": "where is my order ORD-12345"})
    assert reply.status_code == 200
    body = reply.json()
    assert body["intent"]["name"] == "track_order"
    assert any(e["entity"] == "order_id" and e["value"] == "ORD-12345" for e in body["entities"])
    assert httpx.post(f"{server.url}/model/parse", json={"text": "hi"}).status_code == 401
    assert httpx.get(f"{server.url}/health").json() == {"status": "ok"}
    assert set(httpx.get(f"{server.url}/version").json()) == {"version", "minimum_compatible_version"}
    status = httpx.get(f"{server.url}/status", params={"token": TOKEN}).json()
    assert status["model_file"].endswith(".tar.gz") and status["num_active_training_jobs"] == 0
    assert httpx.get(f"{server.url}/status").status_code == 401
    tracker = httpx.get(f"{server.url}/conversations/c1/tracker", params={"token": TOKEN}).json()
    assert tracker["sender_id"] == "c1" and tracker["slots"]["return_started"] is True


@pytest.mark.parametrize(
    "content, status",
    [
        (b"{not json", 400),
        (b'{"message": "hi"}', 400),
        (b'{"text": 42}', 400),
        (b"[1, 2]", 400),
        (('{"text": "' + "a" * 6000 + '"}').encode(), 413),
    ],
)
def test_bad_requests_get_json_errors(server, content, status):
    reply = httpx.post(
        f"{server.url}/model/parse", params={"token": TOKEN}, content=content, headers={"content-type": "application/json"}
    )
    assert reply.status_code == status
    assert "error" in reply.json()
    assert httpx.get(f"{server.url}/health").status_code == 200


def test_web_page_is_served_with_a_strict_policy(server):
    reply = httpx.get(f"{server.url}/")
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/html")
    policy = reply.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "'unsafe-inline'" not in policy
    assert "innerHTML" not in reply.text


def test_stopping_run_stops_the_action_server(server):
    server.send_signal(signal.SIGTERM)
    server.wait(15)
    output = server.stdout.read()
    assert "Starting the action server" in output and "--auth-token" not in output
    deadline = time.time() + 15
    while action_server_answers(server.action_port) and time.time() < deadline:
        time.sleep(0.2)
    assert not action_server_answers(server.action_port)


def test_run_without_auth_says_how_to_enable_the_api(tmp_path_factory):
    project = shop_project(tmp_path_factory)
    (project / "endpoints.yml").write_text("tracker_store:\n  type: in_memory\n")
    (project / "actions").rename(project / "no_actions")
    process = start_desk_run(project, environment())
    try:
        assert httpx.get(f"{process.url}/conversations/x/tracker").status_code == 401
        assert httpx.post(f"{process.url}/model/parse", json={"text": "hi"}).status_code == 200
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=15)
    assert "--auth-token" in output and "DESK_AUTH_TOKEN" in output
    assert "action server" not in output


def test_run_reports_a_missing_project():
    result = subprocess.run(desk("run", "--project", "/no/such/project"), env=environment(), capture_output=True, text=True)
    assert result.returncode == 2
    assert "no such project directory" in result.stderr


# ---------------------------------------------------------------------------- desk shell


def test_shell_chats_and_numbers_buttons(project):
    lines = "hi\nwhat is your refund policy\n1\n/stop\n"
    result = subprocess.run(
        desk("shell", "--project", str(project), "--sender", "sh1"),
        input=lines,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Welcome to Shop!" in out
    assert "Would you like me to start a return?\n  1: Yes\n  2: No\n" in out
    # typing 1 sent the first button's payload (/affirm): the custom action answered
    assert "I've started a return; the label is on its way by email." in out


# ---------------------------------------------------------------------------- desk data validate


def test_data_validate_passes_a_good_project(project):
    result = subprocess.run(desk("data", "validate"), cwd=project, env=environment(), capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert all(": warning: " in line for line in result.stdout.splitlines())
    assert "0 error(s)" in result.stderr
    # the shop project has warnings (intents without examples)
    strict = subprocess.run(desk("data", "validate", "--fail-on-warnings"), cwd=project, env=environment(), capture_output=True)
    assert strict.returncode == 1


def test_data_validate_reports_errors_with_file_and_line(tmp_path_factory):
    project = shop_project(tmp_path_factory)
    rules = project / "data" / "rules.yml"
    rules.write_text(rules.read_text() + "\n  - rule: Broken\n    steps:\n      - intent: greet\n      - action: action_nobody_defined\n")
    result = subprocess.run(
        desk("data", "validate", "--domain", str(project / "domain.yml"), "--data", str(project / "data")),
        env=environment(),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    errors = [line for line in result.stdout.splitlines() if ": error: " in line]
    assert errors and all(line.startswith(str(rules) + ":") for line in errors)
    assert any("action_nobody_defined" in line for line in errors)
