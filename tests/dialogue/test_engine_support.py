"""Shared by the engine tests (no tests here): the shop project, its NLU model, a real rasa-sdk
action server, and helpers to run conversations.

The action server and the model are made once per test process and shared by every module
that imports this one.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

import httpx

from dialogue.engine import Assistant, UserMessage
from dialogue.project import load_assistant

PROJECT = Path(__file__).resolve().parents[1] / "fixtures" / "shop_project"

WELCOME = "Welcome to Shop! I can track or cancel orders and answer questions about returns."
GREET = "Hi again! How can I help?"
ASK_ORDER_ID = "What is your order number? It looks like ORD-12345."
INVALID_ORDER_ID = "Hmm, that doesn't look like an order number."
OPENING_HOURS = "Our support team is available Monday to Friday, 9:00 to 17:00."
DEFAULT = "Sorry, I didn't get that. Could you rephrase?"

_server: "ActionServer | None" = None
_model: Path | None = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ActionServer:
    """``python -m rasa_sdk --actions actions`` in the shop project (or ``project``), on a free port."""

    def __init__(self, project: Path = PROJECT) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/webhook"
        self.log = tempfile.NamedTemporaryFile(prefix="action-server-", suffix=".log", delete=False)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port", str(self.port)],
            cwd=project,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the action server exited: {Path(self.log.name).read_text()[-2000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the action server did not answer /health within 60 s")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


def action_server() -> ActionServer:
    global _server
    if _server is None:
        _server = ActionServer()
        atexit.register(_server.stop)
    return _server


def model_path() -> Path:
    """The shop's NLU model, trained once per test process (a few seconds)."""
    global _model
    if _model is None:
        from nlu import train

        out = Path(tempfile.mkdtemp(prefix="shop-models-"))
        atexit.register(shutil.rmtree, out, True)
        _model, _ = train(PROJECT / "data", PROJECT / "config.yml", out)
    return _model


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += minutes * 60


def make_assistant(
    tmp_path: Path,
    url: str | None = None,
    timeout: float = 5.0,
    clock: Callable[[], float] | None = None,
    db: str = "tracker.db",
) -> Assistant:
    endpoints = {
        "action_endpoint": {"url": url or "http://127.0.0.1:9/webhook", "timeout": timeout},
        "tracker_store": {"type": "sql", "dialect": "sqlite", "db": str(tmp_path / db)},
        "lock_store": {"type": "in_memory"},
    }
    assistant = load_assistant(PROJECT, model_path=model_path(), endpoints=endpoints)
    if clock is not None:
        assistant.clock = clock
    return assistant


def run(tmp_path: Path, scenario: Callable[[Assistant], Awaitable[Any]], **options: Any) -> Any:
    """Run ``scenario(assistant)`` in a fresh event loop with a fresh assistant."""

    async def main() -> Any:
        assistant = make_assistant(tmp_path, **options)
        try:
            return await scenario(assistant)
        finally:
            await assistant.aclose()

    return asyncio.run(main())


async def say(assistant: Assistant, sender_id: str, text: str, **kwargs: Any) -> list[dict]:
    return await assistant.handle_message(UserMessage(text, sender_id, **kwargs))


async def texts(assistant: Assistant, sender_id: str, text: str) -> list[str | None]:
    return [m.get("text") for m in await say(assistant, sender_id, text)]


async def events(assistant: Assistant, sender_id: str, selection: str = "all") -> list[dict]:
    state = await assistant.tracker_state(sender_id, selection)
    return [] if state is None else state["events"]


def kinds(evts: list[dict]) -> list[str]:
    """Compact view: ``action:name``, ``user:intent``, ``slot:name=value``, ``bot``, ..."""
    out = []
    for e in evts:
        kind = e["event"]
        if kind == "action":
            out.append(f"action:{e['name']}")
        elif kind == "user":
            out.append(f"user:{(e['parse_data'].get('intent') or {}).get('name')}")
        elif kind == "slot":
            out.append(f"slot:{e['name']}={e['value']}")
        elif kind == "active_loop":
            out.append(f"loop:{e['name']}")
        elif kind == "action_execution_rejected":
            out.append(f"rejected:{e['name']}")
        elif kind != "user_featurization":
            out.append(kind)
    return out
