"""Rate limits per sender and per client address, over real sockets: REST (429 + Retry-After),
the websocket, socket.io and /model/parse; in memory, and shared through a real Redis server."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import time
import uuid

import httpx
import pytest
import socketio
import websockets

from dialogue.guardrails.config import GuardrailsConfig, RateLimitConfig
from dialogue.guardrails.rate_limit import MemoryCounter, RateLimiter, RedisCounter, build_rate_limiter
from dialogue.server import ServerSettings, ServerThread, build_app


class EchoAssistant:
    """The engine's interface, answering every message with its own text."""

    async def handle_message(self, message) -> list[dict]:
        return [{"recipient_id": message.sender_id, "text": f"echo: {message.text}"}]

    def parse(self, text: str) -> dict:
        return {"text": text, "intent": {"name": "greet", "confidence": 1.0}, "entities": [], "intent_ranking": []}

    async def aclose(self) -> None:
        pass


def serve(limiter: RateLimiter) -> ServerThread:
    return ServerThread(build_app(EchoAssistant(), ServerSettings(rate_limiter=limiter)))


def post(url: str, sender: str, message: str = "hi") -> httpx.Response:
    return httpx.post(f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": message}, timeout=30)


def assert_too_many(reply: httpx.Response, scope: str, limit: int) -> None:
    assert reply.status_code == 429, reply.text
    retry_after = int(reply.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    body = reply.json()
    assert body["code"] == 429 and body["reason"] == "TooManyRequests" and body["status"] == "failure"
    assert body["details"] == {"scope": scope, "limit": limit, "window_seconds": 60.0, "retry_after": retry_after}
    assert f"at most {limit} every 60 seconds" in body["error"]


# ---------------------------------------------------------------------------- in memory


def test_rest_answers_429_with_retry_after_per_sender():
    with serve(RateLimiter(MemoryCounter(), per_sender=2, per_address=100, window=60)) as server:
        assert [post(server.url, "ana").status_code for _ in range(2)] == [200, 200]
        assert_too_many(post(server.url, "ana"), "sender", 2)
        assert post(server.url, "ben").json() == [{"recipient_id": "ben", "text": "echo: hi"}]


def test_rest_limit_per_client_address_spans_senders():
    with serve(RateLimiter(MemoryCounter(), per_sender=100, per_address=3, window=60)) as server:
        assert [post(server.url, f"s{i}").status_code for i in range(3)] == [200, 200, 200]
        assert_too_many(post(server.url, "s4"), "address", 3)
        reply = httpx.post(f"{server.url}/model/parse", json={"text": "hi"})
        assert_too_many(reply, "address", 3)


def test_websocket_gets_an_error_frame_and_stays_open():
    async def chat(url):
        async with websockets.connect(url.replace("http://", "ws://") + "/websocket") as ws:
            replies = []
            for text in ("one", "two", "three", "four"):
                await ws.send(json.dumps({"sender": "wsuser", "message": text}))
                replies.append(json.loads(await asyncio.wait_for(ws.recv(), 30)))
            return replies

    with serve(RateLimiter(MemoryCounter(), per_sender=2, per_address=100, window=60)) as server:
        replies = asyncio.run(chat(server.url))
    assert replies[:2] == [[{"recipient_id": "wsuser", "text": "echo: one"}], [{"recipient_id": "wsuser", "text": "echo: two"}]]
    for refused in replies[2:]:
        assert refused["code"] == 429 and 1 <= refused["retry_after"] <= 60 and "too many messages" in refused["error"]


def test_socketio_sender_gets_rate_limited_event_and_a_text():
    async def chat(url):
        client = socketio.AsyncClient(reconnection=False)
        received: asyncio.Queue = asyncio.Queue()
        client.on("bot_uttered", lambda data: received.put_nowait(("bot_uttered", data)))
        client.on("rate_limited", lambda data: received.put_nowait(("rate_limited", data)))
        await client.connect(url, socketio_path="/socket.io", transports=["websocket"])
        try:
            got = []
            for text in ("one", "two"):
                await client.emit("user_uttered", {"message": text})
                got.append(await asyncio.wait_for(received.get(), 30))
            got.append(await asyncio.wait_for(received.get(), 30))
            return got
        finally:
            await client.disconnect()

    with serve(RateLimiter(MemoryCounter(), per_sender=1, per_address=100, window=60)) as server:
        first, refused, text = asyncio.run(chat(server.url))
    assert first == ("bot_uttered", {"text": "echo: one"})
    assert refused[0] == "rate_limited" and refused[1]["code"] == 429 and refused[1]["retry_after"] >= 1
    assert text[0] == "bot_uttered" and "too quickly" in text[1]["text"]


def test_memory_window_starts_again_when_it_ends():
    now = [100.0]
    limiter = RateLimiter(MemoryCounter(clock=lambda: now[0]), per_sender=1, per_address=0, window=10)

    async def check():
        return await limiter.check("ana", "127.0.0.1")

    assert asyncio.run(check()) is None
    now[0] += 4
    refusal = asyncio.run(check())
    assert (refusal.scope, refusal.retry_after) == ("sender", 6)
    now[0] += 6
    assert asyncio.run(check()) is None


def test_config_reads_the_rate_limit_section(monkeypatch):
    monkeypatch.setenv("GUARD_TEST_REDIS", "redis://127.0.0.1:6390/2")
    config = GuardrailsConfig.from_config(
        {"rate_limit": {"per_sender": 5, "per_address": 0, "window_seconds": 30, "redis_url": "${GUARD_TEST_REDIS}"}}
    )
    assert config.rate_limit == RateLimitConfig(5, 0, 30, "redis://127.0.0.1:6390/2")
    assert isinstance(build_rate_limiter(config.rate_limit).counter, RedisCounter)
    assert build_rate_limiter(RateLimitConfig(per_sender=0, per_address=0)) is None
    with pytest.raises(ValueError, match=r"config.yml: `guardrails.rate_limit.per_sender` must be a number >= 0"):
        GuardrailsConfig.from_config({"rate_limit": {"per_sender": "many"}})
    with pytest.raises(ValueError, match=r"unknown key `guardrails.rate_limit.per_user`"):
        GuardrailsConfig.from_config({"rate_limit": {"per_user": 3}})
    with pytest.raises(ValueError, match=r"names environment variable 'NOT_SET_ANYWHERE'"):
        GuardrailsConfig.from_config({"rate_limit": {"redis_url": "${NOT_SET_ANYWHERE}"}})


# ---------------------------------------------------------------------------- Redis


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    """``DESK_TEST_REDIS_URL``, else a throwaway redis-server on a free loopback port."""
    if os.environ.get("DESK_TEST_REDIS_URL"):
        yield os.environ["DESK_TEST_REDIS_URL"]
        return
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("no Redis: install redis-server (apt-get install redis-server) or set DESK_TEST_REDIS_URL")
    port = _free_port()
    directory = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(directory)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            pytest.fail("redis-server did not start")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


def redis_limiter(url: str, per_sender: int) -> RateLimiter:
    return RateLimiter(RedisCounter(url), per_sender=per_sender, per_address=0, window=60)


def test_two_servers_sharing_redis_share_the_limit(redis_url):
    sender = f"shared-{uuid.uuid4().hex}"
    with serve(redis_limiter(redis_url, 3)) as first, serve(redis_limiter(redis_url, 3)) as second:
        codes = [post(server.url, sender).status_code for server in (first, second, first)]
        assert codes == [200, 200, 200]
        assert_too_many(post(second.url, sender), "sender", 3)
        assert_too_many(post(first.url, sender), "sender", 3)
        assert post(second.url, f"other-{uuid.uuid4().hex}").status_code == 200


def test_servers_without_redis_count_apart():
    sender = f"apart-{uuid.uuid4().hex}"
    memory = lambda: RateLimiter(MemoryCounter(), per_sender=1, per_address=0, window=60)  # noqa: E731
    with serve(memory()) as first, serve(memory()) as second:
        assert [post(server.url, sender).status_code for server in (first, second)] == [200, 200]


def test_redis_window_expires(redis_url):
    limiter = RateLimiter(RedisCounter(redis_url), per_sender=1, per_address=0, window=0.3)
    sender = f"expiring-{uuid.uuid4().hex}"

    async def scenario():
        try:
            first = await limiter.check(sender)
            second = await limiter.check(sender)
            await asyncio.sleep(0.5)
            third = await limiter.check(sender)
            return first, second, third
        finally:
            await limiter.aclose()

    first, second, third = asyncio.run(scenario())
    assert first is None and third is None
    assert second is not None and second.retry_after == 1


def test_unreachable_redis_lets_messages_through_and_logs_once(caplog):
    limiter = RateLimiter(RedisCounter(f"redis://127.0.0.1:{_free_port()}/0"), per_sender=1, per_address=1, window=60)

    async def scenario():
        try:
            return [await limiter.check("ana", "127.0.0.1") for _ in range(3)]
        finally:
            await limiter.aclose()

    assert asyncio.run(scenario()) == [None, None, None]
    failures = [r for r in caplog.records if "rate limits are not applied" in r.getMessage()]
    assert len(failures) == 1 and failures[0].levelname == "ERROR"
