"""The HTTP server, started as `desk run` in its own process and spoken to over a real socket."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(trained_model_path):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "dialogue.cli", "run", "--model", str(trained_model_path), "--port", str(port)],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(f"{url}/health").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail(process.stdout.read().decode())
    yield url
    process.terminate()
    process.wait(10)


def test_parse_returns_rasa_shape(server):
    reply = httpx.post(f"{server}/model/parse", json={"text": "where is my order ORD-12345"})
    assert reply.status_code == 200
    body = reply.json()
    assert body["intent"]["name"] == "track_order"
    assert body["text"] == "where is my order ORD-12345"
    assert any(e["entity"] == "order_id" and e["value"] == "ORD-12345" for e in body["entities"])
    assert 1 <= len(body["intent_ranking"]) <= 10


def test_status_version_health(server):
    assert httpx.get(f"{server}/health").json() == {"status": "ok"}
    assert set(httpx.get(f"{server}/version").json()) == {"version", "minimum_compatible_version"}
    status = httpx.get(f"{server}/status").json()
    assert status["model_file"].endswith(".tar.gz") and status["num_active_training_jobs"] == 0


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
    reply = httpx.post(f"{server}/model/parse", content=content, headers={"content-type": "application/json"})
    assert reply.status_code == status
    assert "error" in reply.json()
    assert httpx.get(f"{server}/health").status_code == 200
