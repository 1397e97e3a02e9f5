"""Channels: thin adapters between a wire protocol and the assistant.

Every channel turns what a client sent into a :class:`dialogue.engine.UserMessage`, hands it to
``Assistant.handle_message`` and turns the bot messages that come back into its own wire shape.

The assistant's bot messages are response dicts (``text``, ``buttons``, ``quick_replies``,
``image``, ``attachment``, ``custom``, ``elements``). Which output each one makes follows Rasa's
``OutputChannel.send_response`` exactly, in this order:

1. ``quick_replies`` (else ``buttons``) with ``text`` → one text-with-buttons output; else ``text``
   → one text output;
2. ``custom`` → one custom output;
3. ``image`` → one image output (an image is a message of its own);
4. ``attachment`` → one attachment output;
5. ``elements`` → one output per element.

Each channel then renders these outputs as Rasa's output channel of the same name does:
:mod:`dialogue.channels.rest` (REST and the plain websocket) and :mod:`dialogue.channels.socketio`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Mapping

from dialogue.guardrails.limits import MessageLimits, MessageRejected

__all__ = [
    "BadInput",
    "DEFAULT_SENDER_ID",
    "MAX_SENDER_ID_CHARS",
    "Output",
    "metadata",
    "outputs",
    "sender_id",
    "text_parts",
    "user_text",
]

DEFAULT_SENDER_ID = "default"  # Rasa's sender id when a REST request names none
MAX_SENDER_ID_CHARS = 256


@dataclass(frozen=True)
class Output:
    """One ``send_*`` call of Rasa's output channel: ``kind`` names it, ``value`` is its argument."""

    kind: str  # "text", "buttons", "custom", "image", "attachment", "elements"
    value: Any
    text: str | None = None  # the text sent with buttons


def outputs(message: Mapping[str, Any]) -> Iterator[Output]:
    """The outputs one bot message makes, in Rasa's order (see the module docstring)."""
    if message.get("quick_replies"):
        yield Output("buttons", message["quick_replies"], message.get("text"))
    elif message.get("buttons"):
        yield Output("buttons", message["buttons"], message.get("text"))
    elif message.get("text"):
        yield Output("text", message["text"])
    if message.get("custom"):
        yield Output("custom", message["custom"])
    if message.get("image"):
        yield Output("image", message["image"])
    if message.get("attachment"):
        yield Output("attachment", message["attachment"])
    if message.get("elements"):
        yield Output("elements", message["elements"])


def text_parts(text: str) -> list[str]:
    """Rasa sends a text as one message per paragraph (parts split on blank lines)."""
    return str(text).strip().split("\n\n")


class BadInput(ValueError):
    """A client sent something a channel cannot turn into a user message.

    ``status`` is the HTTP status that says why: 400 malformed, 413 too long.
    """

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def user_text(value: Any, field: str, limits: MessageLimits) -> str:
    """A message text from a client: a string within ``limits``, cleaned by them
    (:mod:`dialogue.guardrails.limits`)."""
    if not isinstance(value, str):
        raise BadInput(f'"{field}" must be a string')
    try:
        return limits.clean(value, "message")
    except MessageRejected as e:
        raise BadInput(e.message, e.status) from None


AGENT_SENDER_PREFIX = "__agent__:"  # sender ids of the server's own agent calls to the action server


def _encodable(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8 (no lone surrogate, which JSON's ``\\ud800`` can carry)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def sender_id(value: Any, field: str = "sender", default: str | None = DEFAULT_SENDER_ID) -> str:
    """A conversation id from a client: a non-empty string (or a number, as Rasa accepts).

    Ids starting with :data:`AGENT_SENDER_PREFIX` are reserved for agents' calls, so no
    customer can pose as an agent to the action server."""
    if value is None and default is not None:
        return default
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise BadInput(f'"{field}" must be a string')
    value = str(value)
    if not value:
        raise BadInput(f'"{field}" must not be empty')
    if len(value) > MAX_SENDER_ID_CHARS:
        raise BadInput(f'"{field}" longer than {MAX_SENDER_ID_CHARS} characters')
    if "\x00" in value or not _encodable(value):
        raise BadInput(f'"{field}" must be valid Unicode without NUL characters')
    if value.startswith(AGENT_SENDER_PREFIX):
        raise BadInput(f'"{field}" must not start with {AGENT_SENDER_PREFIX!r}')
    return value


def metadata(value: Any, field: str = "metadata") -> dict | None:
    """Message metadata from a client: a JSON object, or absent."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadInput(f'"{field}" must be a JSON object')
    return value
