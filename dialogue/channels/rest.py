"""Rasa's REST channel: ``POST /webhooks/rest/webhook`` and ``GET /webhooks/rest/``.

Request::

    {"sender": "u1", "message": "hi", "metadata": {...}, "input_channel": "rest"}

``sender`` defaults to ``"default"`` (as in Rasa), ``metadata`` and ``input_channel`` are
optional. The reply is a JSON array of bot messages, each one in the shape of Rasa's
``CollectingOutputChannel``: ``recipient_id`` first, then only the keys present among ``text``,
``image``, ``buttons``, ``attachment``, ``custom``::

    [{"recipient_id": "u1", "text": "Hey! How are you?"},
     {"recipient_id": "u1", "image": "https://example.com/cat.png"}]

``?stream=true`` streams the same messages, one JSON object per line, as Rasa does.
The array is empty while a human agent has the conversation (after a handoff). A sender or
client address over its rate limit gets 429 with ``Retry-After``.

The same request and reply shapes serve the plain websocket channel (:mod:`.websocket`).
"""

from __future__ import annotations

import json
import logging
from typing import Any, Iterable, Mapping

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from dialogue.channels import BadInput, metadata, outputs, sender_id, text_parts, user_text
from dialogue.guardrails.limits import MessageLimits

logger = logging.getLogger(__name__)

NAME = "rest"


def _message(recipient_id: str, text=None, image=None, buttons=None, attachment=None, custom=None) -> dict:
    """One collected message: Rasa's key order, ``None`` values left out."""
    message = {
        "recipient_id": recipient_id,
        "text": text,
        "image": image,
        "buttons": buttons,
        "attachment": attachment,
        "custom": custom,
    }
    return {key: value for key, value in message.items() if value is not None}


def collect(recipient_id: str, bot_messages: Iterable[Mapping[str, Any]]) -> list[dict]:
    """The REST reply for a turn's bot messages (Rasa's ``CollectingOutputChannel``)."""
    collected: list[dict] = []
    for bot_message in bot_messages:
        recipient = bot_message.get("recipient_id") or recipient_id
        for out in outputs(bot_message):
            if out.kind == "text":
                collected.extend(_message(recipient, text=part) for part in text_parts(out.value))
            elif out.kind == "buttons":
                collected.append(_message(recipient, text=out.text, buttons=out.value))
            elif out.kind == "custom":
                collected.append(_message(recipient, custom=out.value))
            elif out.kind == "image":
                collected.append(_message(recipient, image=out.value))
            elif out.kind == "attachment":
                collected.append(_message(recipient, attachment=out.value))
            elif out.kind == "elements":  # the default output channel: a text with buttons each
                for element in out.value:
                    element = element if isinstance(element, Mapping) else {}
                    text = f"{element.get('title', '')} : {element.get('subtitle', '')}"
                    collected.append(_message(recipient, text=text, buttons=element.get("buttons", [])))
    return collected


def read_request(body: Any, limits: MessageLimits, channel: str = NAME) -> dict:
    """The keyword arguments of a ``UserMessage`` from a REST (or websocket) request body.

    Raises :class:`BadInput` for anything but ``{"sender"?, "message", "metadata"?,
    "input_channel"?}`` with the right types.
    """
    if not isinstance(body, dict):
        raise BadInput('expected a JSON object like {"sender": "user1", "message": "hi"}')
    if "message" not in body:
        raise BadInput('missing "message"')
    text = user_text(body["message"], "message", limits)
    input_channel = body.get("input_channel")
    if input_channel is not None and not isinstance(input_channel, str):
        raise BadInput('"input_channel" must be a string')
    input_channel = input_channel or channel
    return {
        "text": text,
        "sender_id": sender_id(body.get("sender")),
        "input_channel": input_channel,
        "metadata": metadata(body.get("metadata")),
    }


def blueprint() -> Blueprint:
    from dialogue.server import error, json_body, make_user_message, rate_limit, too_many_requests

    bp = Blueprint("rest_webhook", url_prefix="/webhooks/rest")

    @bp.get("/")
    async def health(request: Request) -> HTTPResponse:
        return json_response({"status": "ok"})

    @bp.post("/webhook")
    async def receive(request: Request) -> HTTPResponse | None:
        ctx = request.app.ctx
        try:
            fields = read_request(json_body(request), ctx.settings.limits)
        except BadInput as e:
            return error(e.status, e.message)
        refusal = await rate_limit(request, fields["sender_id"])
        if refusal is not None:
            return too_many_requests(refusal)
        try:
            replies = await ctx.assistant.handle_message(make_user_message(**fields))
        except Exception:  # as Rasa: log it and answer with what was collected (nothing)
            logger.exception("an error occurred while handling a message of conversation %r", fields["sender_id"])
            replies = []
        messages = collect(fields["sender_id"], replies)
        if request.args.get("stream", "").lower() in ("true", "1", "yes"):
            stream = await request.respond(content_type="text/event-stream")
            for message in messages:
                await stream.send(json.dumps(message) + "\n")
            await stream.eof()
            return None
        return json_response(messages)

    return bp
