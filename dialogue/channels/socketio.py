"""Rasa's socket.io channel, as the rasa-webchat widget and Rasa's ``SocketIOInput`` speak it.

Configured by the ``socketio:`` section of ``credentials.yml`` (Rasa's keys and defaults)::

    socketio:
      user_message_evt: user_uttered
      bot_message_evt: bot_uttered
      session_persistence: true    # the widget's session_id is the conversation id (default: false,
                                   # the socket id is)
      socketio_path: /socket.io
      namespace: null
      metadata_key: metadata       # user_uttered's metadata key (the widget's "customData" is read too)
      jwt_key: SECRET              # optional: connections must carry auth {"token": <JWT>}
      jwt_method: HS256

Events:

- client ``session_request {"session_id"}`` → server ``session_confirm`` with the session id (a
  new random one when none was sent); with ``session_persistence`` the socket joins the
  session's room, so every tab of one session sees the replies.
- client ``user_uttered {"message", "session_id", "metadata"|"customData"}`` → one server
  ``bot_uttered`` per output, each with exactly the keys the widget renders (Rasa's
  ``SocketIOOutput``):

  ========================  ==========================================================
  text                      ``{"text"}`` (one event per paragraph)
  text with buttons         ``{"text", "quick_replies": [{"content_type": "text", "title", "payload"}]}``
  image                     ``{"attachment": {"type": "image", "payload": {"src": url}}}``
  attachment                ``{"attachment": attachment}``
  elements                  ``{"attachment": {"type": "template", "payload": {"template_type": "generic", "elements": element}}}``
  custom                    the custom payload's ``data`` (Rasa emits the custom dict as ``emit``'s keyword
                            arguments, so ``custom: {data: ...}`` is what reaches the client)
  ========================  ==========================================================

With ``jwt_key`` set, a connection is refused unless its ``auth`` carries a ``token`` that
verifies with that key and ``jwt_method`` (a ``Bearer `` prefix is accepted), as in Rasa.
Malformed ``user_uttered`` data (no message, not a string, longer than the server's limit) is
dropped with a warning and never reaches the conversation. A message over a rate limit
(:mod:`dialogue.guardrails.rate_limit`) is dropped too; the sending socket gets a
``rate_limited`` event ``{"error", "code": 429, "retry_after"}`` and a ``bot_uttered`` text
asking it to wait.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping

from sanic import Blueprint, Sanic
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from dialogue.auth import decode_jwt
from dialogue.channels import BadInput, outputs, payloads, sender_id, text_parts, user_text

logger = logging.getLogger(__name__)

NAME = "socketio"
RATE_LIMIT_EVT = "rate_limited"
SLOW_DOWN_TEXT = "You are sending messages too quickly. Please wait {seconds} seconds and try again."
# emit()'s keyword arguments a custom payload may carry; Rasa passes the payload as **kwargs
_EMIT_KEYWORDS = {"data", "to", "room", "skip_sid", "namespace", "callback", "ignore_queue"}


@dataclass(frozen=True)
class SocketIOConfig:
    user_message_evt: str = "user_uttered"
    bot_message_evt: str = "bot_uttered"
    namespace: str | None = None
    session_persistence: bool = False
    socketio_path: str = "/socket.io"
    jwt_key: str | None = None
    jwt_method: str = "HS256"
    metadata_key: str = "metadata"

    @classmethod
    def from_credentials(cls, credentials: Mapping[str, Any] | None) -> "SocketIOConfig":
        credentials = credentials or {}
        if not isinstance(credentials, Mapping):
            raise ValueError("credentials.yml: the socketio section must be a mapping")
        defaults = cls()
        values = {name: credentials.get(name, getattr(defaults, name)) for name in cls.__dataclass_fields__}
        for name in ("user_message_evt", "bot_message_evt", "socketio_path", "jwt_method", "metadata_key"):
            if not isinstance(values[name], str) or not values[name]:
                raise ValueError(f"credentials.yml: socketio.{name} must be a non-empty string")
        if not values["socketio_path"].startswith("/"):
            values["socketio_path"] = "/" + values["socketio_path"]
        values["session_persistence"] = bool(values["session_persistence"])
        return cls(**values)


def emits(bot_messages: Iterable[Mapping[str, Any]]) -> Iterator[Any]:
    """The ``bot_uttered`` payloads for a turn's bot messages (Rasa's ``SocketIOOutput``)."""
    for bot_message in bot_messages:
        for out in outputs(bot_message):
            if out.kind == "text":
                for part in text_parts(out.value):
                    yield {"text": part}
            elif out.kind == "buttons":
                text = out.text if out.text is not None else ""
                # one message per paragraph; the buttons go with the last one
                parts = [{"text": part, "quick_replies": []} for part in text_parts(text)]
                for button in out.value:
                    button = button if isinstance(button, Mapping) else {}
                    parts[-1]["quick_replies"].append(
                        {"content_type": "text", "title": button.get("title"), "payload": button.get("payload")}
                    )
                yield from parts
            elif out.kind == "image":
                yield {"attachment": {"type": "image", "payload": {"src": out.value}}}
            elif out.kind == "attachment":
                yield {"attachment": out.value}
            elif out.kind == "elements":
                for element in out.value:
                    yield {"attachment": {"type": "template", "payload": {"template_type": "generic", "elements": element}}}
            elif out.kind == "custom":
                custom = out.value
                if isinstance(custom, Mapping) and "data" in custom and set(custom) <= _EMIT_KEYWORDS:
                    yield custom["data"]
                else:
                    logger.warning(
                        "socket.io sends a custom response's 'data' (custom: {data: ...}); "
                        "this custom response has none and was not sent: %r",
                        custom,
                    )


def attach(app: Sanic, config: SocketIOConfig) -> Any:
    """Serve socket.io on ``app`` at ``config.socketio_path``; returns the ``AsyncServer``."""
    import socketio

    # Any origin may connect (cors_allowed_origins=[]), as in Rasa: the widget is embedded in
    # other sites' pages.
    sio = socketio.AsyncServer(async_mode="sanic", cors_allowed_origins=[], logger=False, engineio_logger=False)
    sio.attach(app, config.socketio_path)
    namespace = config.namespace

    @sio.on("connect", namespace=namespace)
    async def connect(sid: str, environ: dict, auth: Any = None) -> bool:
        if config.jwt_key:
            token = auth.get("token") if isinstance(auth, dict) else None
            if not decode_jwt(token, config.jwt_key, config.jwt_method):
                return False
        from dialogue.server import client_address

        request = environ.get("sanic.request")
        await sio.save_session(sid, {"address": client_address(request) if request is not None else None}, namespace=namespace)
        logger.debug("socket.io client %s connected", sid)
        return True

    @sio.on("disconnect", namespace=namespace)
    async def disconnect(sid: str, *args: Any) -> None:
        logger.debug("socket.io client %s disconnected", sid)

    @sio.on("session_request", namespace=namespace)
    async def session_request(sid: str, data: Any = None) -> None:
        data = data if isinstance(data, dict) else {}
        session_id = data.get("session_id")
        if session_id is None:
            session_id = uuid.uuid4().hex
        try:
            session_id = sender_id(session_id, "session_id", default=None)
        except BadInput as e:
            logger.warning("socket.io session_request ignored: %s", e.message)
            return
        if config.session_persistence:
            await sio.enter_room(sid, session_id, namespace=namespace)
        await sio.emit("session_confirm", session_id, room=sid, namespace=namespace)

    @sio.on(config.user_message_evt, namespace=namespace)
    async def user_uttered(sid: str, data: Any = None) -> None:
        try:
            if not isinstance(data, dict):
                raise BadInput("expected an object with a message")
            if config.session_persistence:
                if not data.get("session_id"):
                    raise BadInput("a message without a session_id; send session_request first")
                conversation = sender_id(data["session_id"], "session_id", default=None)
                if conversation not in sio.rooms(sid, namespace=namespace):
                    await sio.enter_room(sid, conversation, namespace=namespace)
            else:
                conversation = sid
            text = user_text(data.get("message"), "message", app.ctx.settings.limits)
            metadata = _metadata(data, config.metadata_key)
        except BadInput as e:
            logger.warning("socket.io %s ignored: %s", config.user_message_evt, e.message)
            return
        limiter = app.ctx.settings.rate_limiter
        if limiter is not None:
            session = await sio.get_session(sid, namespace=namespace)
            refusal = await limiter.check(conversation, session.get("address"))
            if refusal is not None:
                await sio.emit(RATE_LIMIT_EVT, {"error": refusal.message, "code": 429, "retry_after": refusal.retry_after},
                               room=sid, namespace=namespace)
                await sio.emit(config.bot_message_evt, {"text": SLOW_DOWN_TEXT.format(seconds=refusal.retry_after)},
                               room=sid, namespace=namespace)
                return
        from dialogue.server import make_user_message

        message = make_user_message(text=text, sender_id=conversation, input_channel=NAME, metadata=metadata)
        try:
            replies = await app.ctx.assistant.handle_message(message)
        except Exception:
            logger.exception("an error occurred while handling a message of conversation %r", conversation)
            return
        for payload in emits(replies):
            await sio.emit(config.bot_message_evt, payload, room=conversation, namespace=namespace)

    # Rasa's channel health check: GET /webhooks/socketio/
    bp = Blueprint("socketio_webhook", url_prefix="/webhooks/socketio")

    @bp.get("/")
    async def health(request: Request) -> HTTPResponse:
        return json_response({"status": "ok"})

    app.blueprint(bp)
    return sio


def _metadata(data: dict, key: str) -> dict:
    """The message metadata: ``data[key]`` (a JSON string is decoded), else the widget's ``customData``."""
    value = data.get(key)
    if value is None and key != "customData":
        value = data.get("customData")
    if value is None:
        return {}
    value = payloads.decode(value, f'"{key}"') if isinstance(value, str) else payloads.checked(value, f'"{key}"')
    if not isinstance(value, dict):
        raise BadInput(f'"{key}" must be an object')
    return value
