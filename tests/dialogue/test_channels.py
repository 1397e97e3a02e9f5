"""The channels over real sockets: REST, socket.io and the plain websocket.

The end-to-end conversations run the real engine on the shop project, with its rasa-sdk action
server as a child process. A scripted assistant stands in for the engine where only a channel's
rendering of bot messages is under test (every output kind, paused conversations, bad input).
"""

from __future__ import annotations

import asyncio
import json

import httpx
import jwt
import pytest
import socketio
import websockets

from dialogue.channels import rest
from dialogue.channels import socketio as socketio_channel
from dialogue.server import ServerSettings, ServerThread, build_app

PARAGRAPHS = "First paragraph.\n\nSecond paragraph."
WIDGET_SECRET = "a-widget-secret-long-enough-for-hs256"
FORM_BUTTONS = [
    {"title": "Small", "payload": '/choose{"size": "small"}'},
    {"title": "Large", "payload": '/choose{"size": "large"}'},
]


class ScriptedAssistant:
    """The engine's interface with fixed replies: what each channel renders is easy to predict."""

    def __init__(self) -> None:
        self.conversations: dict[str, dict] = {}
        self.received: list = []

    def _conversation(self, sender_id: str) -> dict:
        return self.conversations.setdefault(sender_id, {"events": [], "paused": False, "channel": None})

    async def handle_message(self, message) -> list[dict]:
        self.received.append(message)
        conversation = self._conversation(message.sender_id)
        conversation["events"].append({"event": "user", "text": message.text, "metadata": message.metadata or {}})
        conversation["channel"] = message.input_channel
        if conversation["paused"]:
            return []
        me = message.sender_id
        text = message.text
        if text == "form":
            replies = [{"recipient_id": me, "text": "Which size?", "buttons": FORM_BUTTONS}]
        elif text.startswith("/choose"):
            size = json.loads(text[len("/choose") :])["size"]
            replies = [{"recipient_id": me, "text": f"You chose {size}."}]
        elif text == "image":
            replies = [{"recipient_id": me, "text": "Here it is:", "image": "https://example.com/cat.png"}]
        elif text == "paragraphs":
            replies = [{"recipient_id": me, "text": PARAGRAPHS}]
        elif text == "custom":
            replies = [{"recipient_id": me, "custom": {"data": {"kind": "card", "id": 7}}}]
        elif text == "attachment":
            replies = [{"recipient_id": me, "attachment": {"type": "video", "payload": {"src": "https://example.com/v.mp4"}}}]
        elif text == "quick":
            replies = [{"recipient_id": me, "text": "Pick", "quick_replies": [{"title": "A", "payload": "/a"}]}]
        elif text == "handoff":
            conversation["paused"] = True
            replies = [{"recipient_id": me, "text": "An agent will take over."}]
        elif text == "hostile":
            replies = [
                {"recipient_id": me, "text": '<img src=x onerror="window.pwned=1">'},
                {"recipient_id": me, "image": "javascript:window.pwned=1"},
            ]
        else:
            replies = [{"recipient_id": me, "text": f"echo: {text}"}]
        for reply in replies:
            conversation["events"].append({"event": "bot", "text": reply.get("text")})
        return replies

    async def tracker_state(self, sender_id: str, events: str = "all") -> dict | None:
        if sender_id not in self.conversations:
            return None
        conversation = self.conversations[sender_id]
        return {
            "sender_id": sender_id,
            "slots": {},
            "latest_message": {},
            "latest_event_time": None,
            "followup_action": None,
            "paused": conversation["paused"],
            "events": None if events == "none" else list(conversation["events"]),
            "latest_input_channel": conversation["channel"],
            "active_loop": {},
            "latest_action": {},
            "latest_action_name": None,
        }

    async def add_message(self, sender_id: str, text: str, sender: str = "user", parse_data: dict | None = None) -> dict:
        self._conversation(sender_id)["events"].append({"event": "user", "text": text, "parse_data": parse_data})
        return await self.tracker_state(sender_id)

    async def resume(self, sender_id: str, agent: str | None = None) -> bool:
        if sender_id not in self.conversations:
            return False
        self.conversations[sender_id]["paused"] = False
        self.conversations[sender_id]["events"].append({"event": "resume", "agent": agent})
        return True

    def parse(self, text: str) -> dict:
        return {"text": text, "intent": {"name": "greet", "confidence": 1.0}, "entities": [], "intent_ranking": []}

    async def aclose(self) -> None:
        pass


@pytest.fixture(scope="module")
def scripted():
    assistant = ScriptedAssistant()
    credentials = {"socketio": {"session_persistence": True}}
    with ServerThread(build_app(assistant, ServerSettings(credentials=credentials))) as server:
        server.assistant = assistant
        yield server


# ---------------------------------------------------------------------------- REST


def rest_turn(url: str, sender: str, message: str, **extra) -> list[dict]:
    reply = httpx.post(f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": message, **extra})
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_rest_health(scripted):
    reply = httpx.get(f"{scripted.url}/webhooks/rest/")
    assert reply.status_code == 200 and reply.json() == {"status": "ok"}


def test_rest_text_reply_is_rasas_shape(scripted):
    reply = httpx.post(f"{scripted.url}/webhooks/rest/webhook", json={"sender": "r1", "message": "hi"})
    assert reply.headers["content-type"] == "application/json"
    assert reply.content == b'[{"recipient_id":"r1","text":"echo: hi"}]'


def test_rest_buttons_image_custom_and_paragraphs(scripted):
    assert rest_turn(scripted.url, "r2", "form") == [{"recipient_id": "r2", "text": "Which size?", "buttons": FORM_BUTTONS}]
    messages = rest_turn(scripted.url, "r2", "image")
    assert messages == [
        {"recipient_id": "r2", "text": "Here it is:"},
        {"recipient_id": "r2", "image": "https://example.com/cat.png"},
    ]
    assert [list(m) for m in messages] == [["recipient_id", "text"], ["recipient_id", "image"]]
    assert rest_turn(scripted.url, "r2", "paragraphs") == [
        {"recipient_id": "r2", "text": "First paragraph."},
        {"recipient_id": "r2", "text": "Second paragraph."},
    ]
    assert rest_turn(scripted.url, "r2", "custom") == [{"recipient_id": "r2", "custom": {"data": {"kind": "card", "id": 7}}}]
    assert rest_turn(scripted.url, "r2", "quick") == [
        {"recipient_id": "r2", "text": "Pick", "buttons": [{"title": "A", "payload": "/a"}]}
    ]


def test_rest_metadata_and_default_sender_reach_the_assistant(scripted):
    rest_turn(scripted.url, "r3", "hello", metadata={"page": "/help"})
    message = scripted.assistant.received[-1]
    assert (message.sender_id, message.text, message.input_channel, message.metadata) == ("r3", "hello", "rest", {"page": "/help"})
    reply = httpx.post(f"{scripted.url}/webhooks/rest/webhook", json={"message": "anyone?"})
    assert reply.json() == [{"recipient_id": "default", "text": "echo: anyone?"}]


def test_rest_stream_sends_one_json_object_per_line(scripted):
    reply = httpx.post(f"{scripted.url}/webhooks/rest/webhook?stream=true", json={"sender": "r4", "message": "paragraphs"})
    assert [json.loads(line) for line in reply.text.splitlines()] == [
        {"recipient_id": "r4", "text": "First paragraph."},
        {"recipient_id": "r4", "text": "Second paragraph."},
    ]


def test_rest_paused_conversation_gets_an_empty_array(scripted):
    assert rest_turn(scripted.url, "r5", "handoff") == [{"recipient_id": "r5", "text": "An agent will take over."}]
    assert rest_turn(scripted.url, "r5", "still there?") == []


@pytest.mark.parametrize(
    "content, status",
    [
        (b"{not json", 400),
        (b"", 400),
        (b"[1, 2]", 400),
        (b'{"sender": "bad1"}', 400),
        (b'{"sender": "bad1", "message": 42}', 400),
        (b'{"sender": "bad1", "message": null}', 400),
        (b'{"sender": ["x"], "message": "hi"}', 400),
        (b'{"sender": "", "message": "hi"}', 400),
        (b'{"sender": "bad1", "message": "hi", "metadata": "x"}', 400),
        (('{"sender": "bad1", "message": "' + "a" * 5001 + '"}').encode(), 413),
        (b'{"sender": "bad1", "message": "' + b"a" * 1_100_000 + b'"}', 413),
    ],
)
def test_rest_bad_requests(scripted, content, status):
    before = len(scripted.assistant.received)
    reply = httpx.post(f"{scripted.url}/webhooks/rest/webhook", content=content, headers={"content-type": "application/json"})
    assert reply.status_code == status
    assert reply.json()["error"]
    assert len(scripted.assistant.received) == before
    assert "bad1" not in scripted.assistant.conversations
    assert httpx.get(f"{scripted.url}/health").status_code == 200


def test_message_of_exactly_the_limit_is_accepted(scripted):
    assert rest_turn(scripted.url, "r6", "a" * 5000) == [{"recipient_id": "r6", "text": "echo: " + "a" * 5000}]


# ---------------------------------------------------------------------------- output rendering


def test_collect_follows_rasas_collecting_output_channel():
    message = {
        "recipient_id": "u",
        "text": "Look",
        "buttons": [{"title": "Yes", "payload": "/affirm"}],
        "image": "https://e.com/a.png",
        "attachment": "https://e.com/a.pdf",
        "custom": {"x": 1},
        "elements": [{"title": "T", "subtitle": "S"}],
    }
    assert rest.collect("u", [message]) == [
        {"recipient_id": "u", "text": "Look", "buttons": [{"title": "Yes", "payload": "/affirm"}]},
        {"recipient_id": "u", "custom": {"x": 1}},
        {"recipient_id": "u", "image": "https://e.com/a.png"},
        {"recipient_id": "u", "attachment": "https://e.com/a.pdf"},
        {"recipient_id": "u", "text": "T : S", "buttons": []},
    ]
    assert rest.collect("u", [{"text": ""}]) == []
    # already collected messages come out unchanged
    collected = rest.collect("u", [{k: v for k, v in message.items() if k != "elements"}])
    assert rest.collect("u", collected) == collected


def test_socketio_emits_follow_rasas_socketio_output():
    emitted = list(
        socketio_channel.emits(
            [
                {"recipient_id": "u", "text": "One\n\nTwo", "buttons": [{"title": "Yes", "payload": "/affirm"}]},
                {"recipient_id": "u", "image": "https://e.com/a.png"},
                {"recipient_id": "u", "attachment": {"type": "file", "payload": {"src": "https://e.com/a.pdf"}}},
                {"recipient_id": "u", "custom": {"data": {"card": 1}}},
                {"recipient_id": "u", "custom": {"no_data": 1}},
                {"recipient_id": "u", "elements": [{"title": "T"}]},
            ]
        )
    )
    assert emitted == [
        {"text": "One", "quick_replies": []},
        {"text": "Two", "quick_replies": [{"content_type": "text", "title": "Yes", "payload": "/affirm"}]},
        {"attachment": {"type": "image", "payload": {"src": "https://e.com/a.png"}}},
        {"attachment": {"type": "file", "payload": {"src": "https://e.com/a.pdf"}}},
        {"card": 1},
        {"attachment": {"type": "template", "payload": {"template_type": "generic", "elements": {"title": "T"}}}},
    ]


# ---------------------------------------------------------------------------- socket.io


class WidgetClient:
    """A socket.io client that behaves like the rasa-webchat widget."""

    def __init__(self, url: str, path: str = "/socket.io", transports=("websocket",), auth=None):
        self.url, self.path, self.transports, self.auth = url, path, list(transports), auth
        self.client = socketio.AsyncClient(reconnection=False)
        self.events: asyncio.Queue = asyncio.Queue()
        self.client.on("session_confirm", lambda data: self.events.put_nowait(("session_confirm", data)))
        self.client.on("bot_uttered", lambda data: self.events.put_nowait(("bot_uttered", data)))

    async def __aenter__(self) -> "WidgetClient":
        await self.client.connect(self.url, socketio_path=self.path, transports=self.transports, auth=self.auth)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.client.disconnect()

    async def next(self, timeout: float = 10.0):
        return await asyncio.wait_for(self.events.get(), timeout)

    async def utter(self, message: str, session_id: str, count: int, **extra) -> list:
        await self.client.emit("user_uttered", {"message": message, "session_id": session_id, **extra})
        return [await self.next() for _ in range(count)]

    async def silent_for(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self.events.get(), seconds)
        except asyncio.TimeoutError:
            return True
        return False


def test_socketio_session_and_widget_keys(scripted):
    async def chat():
        async with WidgetClient(scripted.url) as widget:
            await widget.client.emit("session_request", {"session_id": "s1"})
            assert await widget.next() == ("session_confirm", "s1")
            assert await widget.utter("hi", "s1", 1) == [("bot_uttered", {"text": "echo: hi"})]
            assert await widget.utter("form", "s1", 1) == [
                (
                    "bot_uttered",
                    {
                        "text": "Which size?",
                        "quick_replies": [
                            {"content_type": "text", "title": "Small", "payload": '/choose{"size": "small"}'},
                            {"content_type": "text", "title": "Large", "payload": '/choose{"size": "large"}'},
                        ],
                    },
                )
            ]
            assert await widget.utter('/choose{"size": "small"}', "s1", 1) == [("bot_uttered", {"text": "You chose small."})]
            assert await widget.utter("image", "s1", 2) == [
                ("bot_uttered", {"text": "Here it is:"}),
                ("bot_uttered", {"attachment": {"type": "image", "payload": {"src": "https://example.com/cat.png"}}}),
            ]
            assert await widget.utter("paragraphs", "s1", 2) == [
                ("bot_uttered", {"text": "First paragraph."}),
                ("bot_uttered", {"text": "Second paragraph."}),
            ]
            assert await widget.utter("custom", "s1", 1) == [("bot_uttered", {"kind": "card", "id": 7})]

    asyncio.run(chat())
    message = scripted.assistant.received[-1]
    assert (message.sender_id, message.input_channel) == ("s1", "socketio")


def test_socketio_generates_a_session_id_and_reads_custom_data(scripted):
    async def chat():
        # the widget's default: a long-polling handshake, then an upgrade to websocket
        async with WidgetClient(scripted.url, transports=("polling", "websocket")) as widget:
            await widget.client.emit("session_request", {})
            kind, session_id = await widget.next()
            assert kind == "session_confirm" and isinstance(session_id, str) and len(session_id) == 32
            await widget.utter("hello", session_id, 1, customData={"language": "en"})
            return session_id

    session_id = asyncio.run(chat())
    message = scripted.assistant.received[-1]
    assert (message.sender_id, message.metadata) == (session_id, {"language": "en"})


def test_socketio_session_persists_across_connections(scripted):
    async def chat():
        async with WidgetClient(scripted.url) as widget:
            await widget.client.emit("session_request", {"session_id": "s-persist"})
            await widget.next()
            await widget.utter("first", "s-persist", 1, metadata={"n": 1})
        async with WidgetClient(scripted.url) as widget:
            await widget.client.emit("session_request", {"session_id": "s-persist"})
            await widget.next()
            await widget.utter("second", "s-persist", 1)

    asyncio.run(chat())
    texts = [e["text"] for e in scripted.assistant.conversations["s-persist"]["events"] if e["event"] == "user"]
    assert texts == ["first", "second"]
    assert scripted.assistant.conversations["s-persist"]["events"][0]["metadata"] == {"n": 1}


def test_socketio_bad_messages_are_dropped(scripted):
    async def chat():
        async with WidgetClient(scripted.url) as widget:
            await widget.client.emit("session_request", {"session_id": "s-bad"})
            await widget.next()
            before = len(scripted.assistant.received)
            await widget.client.emit("user_uttered", {"message": "no session"})
            await widget.client.emit("user_uttered", {"message": 5, "session_id": "s-bad"})
            await widget.client.emit("user_uttered", "just a string")
            await widget.client.emit("user_uttered", {"message": "x" * 5001, "session_id": "s-bad"})
            assert await widget.silent_for(0.5)
            assert len(scripted.assistant.received) == before
            # the connection still works
            assert await widget.utter("ok", "s-bad", 1) == [("bot_uttered", {"text": "echo: ok"})]

    asyncio.run(chat())


def test_socketio_without_session_persistence_uses_the_socket_id():
    assistant = ScriptedAssistant()
    with ServerThread(build_app(assistant)) as server:

        async def chat():
            async with WidgetClient(server.url) as widget:
                await widget.client.emit("session_request", {"session_id": "ignored"})
                assert await widget.next() == ("session_confirm", "ignored")
                assert await widget.utter("hi", "ignored", 1) == [("bot_uttered", {"text": "echo: hi"})]
                return widget.client.get_sid()

        sid = asyncio.run(chat())
    assert list(assistant.conversations) == [sid]


def test_socketio_jwt_and_custom_event_names():
    assistant = ScriptedAssistant()
    credentials = {
        "socketio": {
            "user_message_evt": "user_says",
            "bot_message_evt": "bot_says",
            "session_persistence": True,
            "socketio_path": "/chat.io",
            "jwt_key": WIDGET_SECRET,
            "jwt_method": "HS256",
        }
    }
    with ServerThread(build_app(assistant, ServerSettings(credentials=credentials))) as server:

        async def refused(auth):
            widget = WidgetClient(server.url, path="/chat.io", auth=auth)
            with pytest.raises(socketio.exceptions.ConnectionError):
                await widget.__aenter__()

        async def chat():
            await refused(None)
            await refused({"token": "not a jwt"})
            await refused({"token": jwt.encode({"user": "x"}, WIDGET_SECRET[::-1], algorithm="HS256")})
            token = jwt.encode({"user": "x"}, WIDGET_SECRET, algorithm="HS256")
            widget = WidgetClient(server.url, path="/chat.io", auth={"token": f"Bearer {token}"})
            received = asyncio.Queue()
            widget.client.on("bot_says", lambda data: received.put_nowait(data))
            async with widget:
                await widget.client.emit("session_request", {"session_id": "j1"})
                assert await widget.next() == ("session_confirm", "j1")
                await widget.client.emit("user_says", {"message": "hi", "session_id": "j1"})
                assert await asyncio.wait_for(received.get(), 10) == {"text": "echo: hi"}

        asyncio.run(chat())
        assert httpx.get(f"{server.url}/webhooks/socketio/").json() == {"status": "ok"}
    assert list(assistant.conversations) == ["j1"]


# ---------------------------------------------------------------------------- plain websocket


def ws_url(url: str) -> str:
    return url.replace("http://", "ws://") + "/websocket"


def test_websocket_turns(scripted):
    async def chat():
        async with websockets.connect(ws_url(scripted.url)) as ws:
            await ws.send(json.dumps({"sender": "w1", "message": "form", "metadata": {"a": 1}}))
            assert json.loads(await ws.recv()) == [{"recipient_id": "w1", "text": "Which size?", "buttons": FORM_BUTTONS}]
            await ws.send(json.dumps({"sender": "w1", "message": FORM_BUTTONS[1]["payload"]}))
            assert json.loads(await ws.recv()) == [{"recipient_id": "w1", "text": "You chose large."}]
            # without a sender: the connection's own conversation
            await ws.send(json.dumps({"message": "hi"}))
            first = json.loads(await ws.recv())
            await ws.send(json.dumps({"message": "again"}))
            second = json.loads(await ws.recv())
            assert first[0]["recipient_id"] == second[0]["recipient_id"] != "w1"
            assert second == [{"recipient_id": first[0]["recipient_id"], "text": "echo: again"}]

    asyncio.run(chat())
    message = scripted.assistant.received[-3]
    assert (message.sender_id, message.input_channel) == ("w1", "websocket")


def test_websocket_bad_frames_get_errors_and_the_connection_stays_open(scripted):
    async def chat():
        async with websockets.connect(ws_url(scripted.url)) as ws:
            before = len(scripted.assistant.received)
            for frame, code in [
                ("not json", 400),
                ("[1]", 400),
                (json.dumps({"sender": "w2"}), 400),
                (json.dumps({"sender": "w2", "message": 1}), 400),
                (json.dumps({"sender": "w2", "message": "x" * 5001}), 413),
            ]:
                await ws.send(frame)
                reply = json.loads(await ws.recv())
                assert reply["code"] == code and reply["error"]
            assert len(scripted.assistant.received) == before
            await ws.send(json.dumps({"sender": "w2", "message": "fine"}))
            assert json.loads(await ws.recv()) == [{"recipient_id": "w2", "text": "echo: fine"}]

    asyncio.run(chat())


# ---------------------------------------------------------------------------- the real engine

WELCOME = "Welcome to Shop! I can track or cancel orders and answer questions about returns."
REFUND = "You can return any item within 30 days for a full refund."
ASK_RETURN = "Would you like me to start a return?"


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    from test_http_api import free_port, load_shop, shop_project

    from dialogue.server import ActionServerProcess

    project = shop_project(tmp_path_factory)
    with ActionServerProcess(project, free_port()) as actions:
        settings = ServerSettings(credentials={"socketio": {"session_persistence": True}})
        with ServerThread(build_app(load_shop(project, actions.url), settings)) as server:
            yield server


def test_shop_over_rest(shop):
    reply = httpx.post(f"{shop.url}/webhooks/rest/webhook", json={"sender": "e1", "message": "hi"})
    assert reply.content == json.dumps([{"recipient_id": "e1", "text": WELCOME}], separators=(",", ":")).encode()
    assert rest_turn(shop.url, "e1", "what is your refund policy") == [
        {"recipient_id": "e1", "text": REFUND},
        {
            "recipient_id": "e1",
            "text": ASK_RETURN,
            "buttons": [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}],
        },
    ]
    # the button's payload runs a custom action on the action server
    assert rest_turn(shop.url, "e1", "/affirm") == [
        {"recipient_id": "e1", "text": "I've started a return; the label is on its way by email."}
    ]


def test_shop_over_socketio(shop):
    async def chat():
        async with WidgetClient(shop.url) as widget:
            await widget.client.emit("session_request", {"session_id": "e2"})
            assert await widget.next() == ("session_confirm", "e2")
            assert await widget.utter("hi", "e2", 1) == [("bot_uttered", {"text": WELCOME})]
            assert await widget.utter("what is your refund policy", "e2", 2) == [
                ("bot_uttered", {"text": REFUND}),
                (
                    "bot_uttered",
                    {
                        "text": ASK_RETURN,
                        "quick_replies": [
                            {"content_type": "text", "title": "Yes", "payload": "/affirm"},
                            {"content_type": "text", "title": "No", "payload": "/deny"},
                        ],
                    },
                ),
            ]
            assert await widget.utter("/deny", "e2", 1) == [("bot_uttered", {"text": "No problem. Anything else?"})]
            assert await widget.silent_for(0.3)

    asyncio.run(chat())
    state = httpx.get(f"{shop.url}/conversations/e2/tracker").status_code
    assert state == 401  # no authentication configured: the conversation stays private


def test_shop_form_over_websocket(shop):
    async def chat():
        async with websockets.connect(ws_url(shop.url)) as ws:
            await ws.send(json.dumps({"sender": "e3", "message": "where is my order"}))
            assert json.loads(await ws.recv()) == [
                {"recipient_id": "e3", "text": "What is your order number? It looks like ORD-12345."}
            ]
            await ws.send(json.dumps({"sender": "e3", "message": "it's ORD-24680"}))
            assert json.loads(await ws.recv()) == [
                {"recipient_id": "e3", "text": "Order ORD-24680 has shipped and arrives in 2 days."}
            ]

    asyncio.run(chat())


def rest_texts(server, sender: str, message: str) -> list:
    reply = httpx.post(f"{server.url}/webhooks/rest/webhook", json={"sender": sender, "message": message}, timeout=30)
    assert reply.status_code == 200
    return [m.get("text") for m in reply.json()]


def test_shop_interruption_mid_form_over_rest(shop):
    from test_engine_support import OPENING_HOURS

    ask_reason = "Why would you like to cancel order ORD-11111?"
    assert rest_texts(shop, "i1", "cancel order ORD-11111") == [ask_reason]
    # answered, then the pending slot asked again; the order number collected so far is kept
    assert rest_texts(shop, "i1", "what are your opening hours?") == [OPENING_HOURS, ask_reason]
    assert rest_texts(shop, "i1", "the price was too high") == [
        "Order ORD-11111 is cancelled (reason: the price was too high)."
    ]


def test_shop_session_expiry_over_rest(shop):
    from test_engine_support import GREET, WELCOME

    assistant = shop.app.ctx.assistant
    real_clock = assistant.clock
    offset = 0.0
    assistant.clock = lambda: real_clock() + offset
    try:
        assert rest_texts(shop, "x1", "hello") == [WELCOME]
        assert rest_texts(shop, "x1", "hello") == [GREET]
        offset = 61 * 60.0  # the shop's sessions last 60 minutes
        assert rest_texts(shop, "x1", "hello") == [WELCOME]  # a new session starts with the welcome rule
    finally:
        assistant.clock = real_clock
