"""The REST webhook, the websocket, socket.io and the other JSON endpoints fed generated garbage.

Bodies and frames come from hypothesis: random bytes, JSON of any shape (deeply nested, huge,
``NaN``), and REST requests whose fields hold lone surrogates, NUL bytes, control characters
and values of the wrong type. Whatever arrives, the server answers 2xx or a 4xx with a JSON
error body (never 5xx), the websocket answers every frame and stays open, socket.io ignores what
it cannot use and still answers, and the server serves a normal conversation afterwards.
"""

from __future__ import annotations

import asyncio
import json
import logging
from urllib.parse import quote_from_bytes

import httpx
import pytest
import websockets
from fuzz_inputs import fuzz_settings
from hypothesis import example, given
from hypothesis import strategies as st
from test_channels import WidgetClient
from test_http_api import load_shop, shop_project

from dialogue.auth import AuthSettings
from dialogue.server import ServerSettings, ServerThread, build_app

TOKEN = "a-channel-fuzzing-token"
JWT_SECRET = "a-channel-fuzzing-jwt-secret-long-enough"
FUZZ = fuzz_settings(60)

# Text with what breaks encoders and stores: lone surrogates, NUL, controls, invisible characters.
NASTY = st.text(
    alphabet=st.one_of(
        st.characters(codec=None),
        st.sampled_from(["\ud800", "\udfff", "\x00", "\x1b", "\u202e", "\ufeff", "\n"]),
    ),
    max_size=40,
)
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), NASTY
)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(NASTY, inner, max_size=4),
                    max_leaves=20)
NESTED = st.builds(lambda depth, opener: opener * depth, st.integers(30, 5000), st.sampled_from(["[", '{"a":']))
RAW = st.one_of(
    st.binary(max_size=200),
    NESTED.map(str.encode),
    st.sampled_from([b"NaN", b'{"message": "hi", "metadata": {"x": 1e999}}', b"-Infinity", b"1" * 5000, b"\xff\xfe{}",
                     b'{"message": "hi"' + b" " * 1_200_000 + b"}"]),
)
REST_REQUEST = st.fixed_dictionaries(
    {"message": st.one_of(NASTY, JSON, st.just("x" * 5001))},
    optional={"sender": st.one_of(NASTY, JSON), "metadata": JSON, "input_channel": st.one_of(NASTY, JSON)},
)
PARSE_DATA = st.one_of(
    JSON,
    st.fixed_dictionaries({}, optional={"intent": JSON, "entities": JSON, "intent_ranking": JSON, "text": JSON,
                                        "metadata": JSON, "message_id": JSON}),
)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    assistant = load_shop(shop_project(tmp_path_factory))
    with ServerThread(build_app(assistant, ServerSettings(auth=AuthSettings(token=TOKEN, jwt_secret=JWT_SECRET)))) as running:
        running.client = httpx.Client(base_url=running.url, timeout=30, params={"token": TOKEN})
        yield running
        running.client.close()


def assert_answered(reply: httpx.Response) -> None:
    assert reply.status_code < 500, reply.text
    if reply.status_code >= 400:
        assert reply.headers["content-type"].startswith("application/json"), reply.headers
        assert reply.json()["code"] == reply.status_code


def assert_still_serves(server) -> None:
    assert server.client.get("/health").json() == {"status": "ok"}
    reply = server.client.post("/webhooks/rest/webhook", json={"sender": "after-fuzz", "message": "hi"})
    assert reply.status_code == 200 and reply.json(), reply.text


@pytest.mark.parametrize("path", ["/webhooks/rest/webhook", "/model/parse", "/conversations/fuzz/messages",
                                  "/conversations/fuzz/resume"])
def test_raw_bodies_get_json_errors(server, path):
    @FUZZ
    @given(body=RAW)
    def post(body):
        assert_answered(server.client.post(path, content=body, headers={"content-type": "application/json"}))

    post()
    assert_still_serves(server)


def test_any_credentials_get_401(server):
    header_bytes = st.lists(st.integers(0x20, 0xFF).filter(lambda b: b != 0x7F), max_size=60).map(bytes)

    @FUZZ
    @given(authorization=header_bytes.map(lambda raw: (b"Bearer " + raw).rstrip()), token=st.binary(max_size=40))
    @example(authorization=b"Bearer \xff\xfe", token=b"\xed\xa0\x80")
    def get(authorization, token):
        reply = httpx.get(f"{server.url}/conversations/x/tracker?token={quote_from_bytes(token)}",
                          headers={"Authorization": authorization})
        assert reply.status_code == 401 and reply.json()["code"] == 401, reply.text

    get()


def test_rest_requests_with_nasty_fields(server):
    @FUZZ
    @given(request=REST_REQUEST, stream=st.booleans())
    @example(request={"message": "hi", "sender": "\ud800"}, stream=False)
    @example(request={"message": "hi", "sender": "a\x00b"}, stream=True)
    def post(request, stream):
        reply = server.client.post("/webhooks/rest/webhook", content=json.dumps(request),
                                   params={"stream": str(stream).lower()})
        assert_answered(reply)

    post()
    assert_still_serves(server)


def test_messages_with_any_parse_data_keep_the_conversation_usable(server):
    @FUZZ
    @given(parse_data=PARSE_DATA)
    @example(parse_data={"intent": "greet"})
    @example(parse_data={"entities": "x"})
    def post(parse_data):
        reply = server.client.post("/conversations/pd-fuzz/messages",
                                   content=json.dumps({"text": "hi", "sender": "user", "parse_data": parse_data}))
        assert_answered(reply)
        # whatever was accepted is stored in a shape the next turn can use
        turn = server.client.post("/webhooks/rest/webhook", json={"sender": "pd-fuzz", "message": "hi"})
        assert turn.status_code == 200 and turn.json(), turn.text

    post()


def test_websocket_answers_every_frame_and_stays_open(server):
    frames = st.one_of(RAW, JSON.map(json.dumps), REST_REQUEST.map(json.dumps), NESTED)

    async def exchange(ws, frame) -> None:
        await ws.send(frame)
        reply = json.loads(await asyncio.wait_for(ws.recv(), 30))
        assert isinstance(reply, list) or (reply["code"] in (400, 413) and reply["error"]), reply

    async def run(batch) -> None:
        url = server.url.replace("http://", "ws://") + "/websocket"
        async with websockets.connect(url, max_size=None) as ws:
            for frame in batch:
                await exchange(ws, frame)
            await exchange(ws, json.dumps({"message": "hi"}))

    @FUZZ
    @given(batch=st.lists(frames.filter(lambda f: len(f) < 1_000_000), min_size=1, max_size=5))
    @example(batch=["[" * 100_000, json.dumps({"message": "hi", "sender": "\ud800"})])
    def converse(batch):
        asyncio.run(run(batch))

    converse()
    assert_still_serves(server)


class PatientWidget(WidgetClient):
    """Waits for the namespace to connect as long as a busy server may take (the client's own wait is 1 s)."""

    async def __aenter__(self) -> "PatientWidget":
        await self.client.connect(self.url, socketio_path=self.path, transports=self.transports, wait_timeout=30)
        return self


def test_socketio_ignores_garbage_and_still_answers(server, caplog):
    events = st.fixed_dictionaries(
        {"message": st.one_of(NASTY, JSON)},
        optional={"session_id": st.one_of(NASTY, JSON),
                  "metadata": st.one_of(JSON, JSON.map(json.dumps), NESTED, st.just({"x": float("nan")}))},
    )

    async def run(batch) -> None:
        async with PatientWidget(server.url) as widget:
            for event in batch:
                await widget.client.emit("session_request", {"session_id": event.get("session_id")})
                await widget.client.emit("user_uttered", event)
        async with PatientWidget(server.url) as widget:
            await widget.client.emit("session_request", {"session_id": "sio-after-fuzz"})
            assert await widget.next() == ("session_confirm", "sio-after-fuzz")
            assert (await widget.utter("hi", "sio-after-fuzz", 1))[0][0] == "bot_uttered"

    @FUZZ
    @given(batch=st.lists(events, min_size=1, max_size=4))
    @example(batch=[{"message": "hi", "session_id": "sio-nan", "metadata": {"x": float("inf")}},
                    {"message": "hi", "session_id": "sio-deep", "metadata": "[" * 100_000}])
    def converse(batch):
        asyncio.run(run(batch))

    converse()
    assert_still_serves(server)
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
