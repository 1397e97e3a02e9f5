"""A plain websocket channel at ``/websocket``: the REST channel's shapes over one connection.

The client sends one JSON text frame per user message::

    {"sender": "u1", "message": "hi", "metadata": {...}}

``sender`` is optional: without it the conversation is the connection's own (a random id fixed
for the connection's lifetime; the replies' ``recipient_id`` names it). For every message the
server answers with one JSON array, exactly what ``POST /webhooks/rest/webhook`` would return
(``[]`` while a human agent has the conversation). Messages are handled in the order sent.

A frame the server cannot use gets a JSON object instead of an array, and the connection stays
open::

    {"error": "message longer than 5000 characters", "code": 413}

``code`` is the HTTP status the REST channel would have answered (400 malformed, 413 too long,
429 over a rate limit, with ``"retry_after"`` seconds).
The web chat page served at ``/`` speaks this protocol.
"""

from __future__ import annotations

import json
import logging
import uuid

from sanic import Blueprint
from sanic.request import Request

from dialogue.channels import BadInput, payloads
from dialogue.channels.rest import collect, read_request

logger = logging.getLogger(__name__)

NAME = "websocket"


def blueprint() -> Blueprint:
    from dialogue.server import make_user_message, rate_limit

    bp = Blueprint("websocket_channel")

    @bp.websocket("/websocket")
    async def conversation(request: Request, ws) -> None:
        ctx = request.app.ctx
        own_sender = uuid.uuid4().hex
        async for frame in ws:
            try:
                body = payloads.decode(frame, "a frame")
                if isinstance(body, dict) and body.get("sender") is None:
                    body = {**body, "sender": own_sender}
                fields = read_request(body, ctx.settings.limits, channel=NAME)
            except BadInput as e:
                await ws.send(json.dumps({"error": e.message, "code": e.status}))
                continue
            refusal = await rate_limit(request, fields["sender_id"])
            if refusal is not None:
                await ws.send(json.dumps({"error": refusal.message, "code": 429, "retry_after": refusal.retry_after}))
                continue
            try:
                replies = await ctx.assistant.handle_message(make_user_message(**fields))
            except Exception:
                logger.exception("an error occurred while handling a message of conversation %r", fields["sender_id"])
                replies = []
            await ws.send(json.dumps(collect(fields["sender_id"], replies), ensure_ascii=False))

    return bp
