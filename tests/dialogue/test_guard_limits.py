"""Per-message limits and clean-up, unit by unit and over every channel of a real server."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import socketio
import websockets

from dialogue.guardrails.config import GuardrailsConfig
from dialogue.guardrails.limits import MessageLimits, MessageRejected
from dialogue.server import ServerSettings, ServerThread, build_app


class RecordingAssistant:
    """The engine's interface: remembers what reached it, answers with the text it got."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    async def handle_message(self, message) -> list[dict]:
        self.texts.append(message.text)
        return [{"recipient_id": message.sender_id, "text": message.text}]

    def parse(self, text: str) -> dict:
        self.texts.append(text)
        return {"text": text, "intent": {"name": "greet", "confidence": 1.0}, "entities": [], "intent_ranking": []}

    async def aclose(self) -> None:
        pass


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("where is my order?", "where is my order?"),
        ("ｉｇｎｏｒｅ ｐｒｅｖｉｏｕｓ", "ignore previous"),  # full-width letters
        ("𝐢𝐠𝐧𝐨𝐫𝐞 rules", "ignore rules"),  # mathematical bold
        ("ig\u200bnore\u200d pre\u2060vious\ufeff", "ignore previous"),  # zero-width characters
        ("refund \u202eredro\u202c please", "refund redro please"),  # bidirectional override
        ("ﬁle a complaint", "file a complaint"),  # ligature
        ("bell\x07 and\x1b[31m colours\x7f", "bell and[31m colours"),  # control characters
        ("line one\nline two\ttab\r\n", "line one\nline two\ttab\r\n"),  # kept
        ("Müller, Straße 5, café", "Müller, Straße 5, café"),
    ],
)
def test_clean(raw, clean):
    assert MessageLimits().clean(raw) == clean


@pytest.mark.parametrize(
    "raw, status, message",
    [
        ("a" * 5001, 413, "message longer than 5000 characters"),
        ("before\x00after", 400, "message contains a NUL character"),
        ("lone \ud800 surrogate", 400, "message is not valid Unicode (a lone surrogate)"),
    ],
)
def test_refused(raw, status, message):
    with pytest.raises(MessageRejected) as caught:
        MessageLimits().clean(raw)
    assert (caught.value.status, caught.value.message) == (status, message)


def test_settings_from_config():
    limits = GuardrailsConfig.from_config({"max_message_chars": 20, "normalization": None, "strip_invisible": False}).limits
    assert limits.clean("ｆｕｌｌ\u200b") == "ｆｕｌｌ\u200b"
    with pytest.raises(MessageRejected):
        limits.clean("x" * 21)
    with pytest.raises(ValueError, match="config.yml: guardrails: normalization must be one of NFC, NFKC, NFD, NFKD or null"):
        GuardrailsConfig.from_config({"normalization": "NFX"})
    with pytest.raises(ValueError, match="max_message_chars must be a whole number of at least 1"):
        GuardrailsConfig.from_config({"max_message_chars": 0})


@pytest.fixture(scope="module")
def server():
    assistant = RecordingAssistant()
    settings = ServerSettings(limits=MessageLimits(max_chars=100))
    with ServerThread(build_app(assistant, settings)) as running:
        running.assistant = assistant
        yield running


def post_raw(url: str, body: bytes) -> httpx.Response:
    return httpx.post(f"{url}/webhooks/rest/webhook", content=body, headers={"content-type": "application/json"}, timeout=30)


def test_rest_cleans_and_refuses(server):
    reply = post_raw(server.url, json.dumps({"sender": "r1", "message": "ｈｅｌｌｏ\u200b there"}).encode())
    assert reply.json() == [{"recipient_id": "r1", "text": "hello there"}]
    for body, status, error in [
        (b'{"sender": "r1", "message": "a\\u0000b"}', 400, "message contains a NUL character"),
        (b'{"sender": "r1", "message": "bad \\ud83d end"}', 400, "message is not valid Unicode (a lone surrogate)"),
        (json.dumps({"sender": "r1", "message": "x" * 101}).encode(), 413, "message longer than 100 characters"),
    ]:
        reply = post_raw(server.url, body)
        assert reply.status_code == status and reply.json()["error"] == error
    assert "a\x00b" not in server.assistant.texts


def test_model_parse_sees_the_cleaned_text(server):
    reply = httpx.post(f"{server.url}/model/parse", json={"text": "ｗｈｅｒｅ is my order\u2060"})
    assert reply.status_code == 200 and reply.json()["text"] == "where is my order"
    reply = httpx.post(f"{server.url}/model/parse", content=b'{"text": "\\udc00"}', headers={"content-type": "application/json"})
    assert reply.status_code == 400


def test_websocket_cleans_and_refuses(server):
    async def chat():
        async with websockets.connect(server.url.replace("http://", "ws://") + "/websocket") as ws:
            await ws.send('{"sender": "w1", "message": "NUL \\u0000 here"}')
            refused = json.loads(await asyncio.wait_for(ws.recv(), 30))
            await ws.send(json.dumps({"sender": "w1", "message": "ﬁne\u200d"}))
            accepted = json.loads(await asyncio.wait_for(ws.recv(), 30))
            return refused, accepted

    refused, accepted = asyncio.run(chat())
    assert refused == {"error": "message contains a NUL character", "code": 400}
    assert accepted == [{"recipient_id": "w1", "text": "fine"}]


def test_socketio_drops_refused_and_cleans_accepted(server):
    async def chat():
        client = socketio.AsyncClient(reconnection=False)
        received: asyncio.Queue = asyncio.Queue()
        client.on("bot_uttered", lambda data: received.put_nowait(data))
        await client.connect(server.url, socketio_path="/socket.io", transports=["websocket"])
        try:
            await client.emit("user_uttered", {"message": "drop\x00me"})
            await client.emit("user_uttered", {"message": "ｔｈａｎｋｓ\ufeff"})
            return await asyncio.wait_for(received.get(), 30)
        finally:
            await client.disconnect()

    assert asyncio.run(chat()) == {"text": "thanks"}
    assert not any("drop" in text for text in server.assistant.texts)
