"""Idempotency keys for tool calls that change something.

A key is derived from the conversation, the tool, the user message that triggered the call and
the call's normalised parameters, so the same request delivered twice (an action-server time-out
that Rasa retries, a channel that re-delivers a message) maps to the same key, and the back
office turns the second call into a replay of the first instead of a second refund.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from rasa_sdk import Tracker

PREFIX = "desk-"


def trigger_message_id(tracker: Tracker) -> str:
    """The id of the user message the call answers (its timestamp when the channel gave no id)."""
    latest = tracker.latest_message or {}
    if latest.get("message_id"):
        return str(latest["message_id"])
    for event in reversed(tracker.events or []):
        if event.get("event") == "user":
            return str(event.get("message_id") or f"t{event.get('timestamp')}")
    return "none"


def _normalise(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _normalise(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_normalise(v) for v in value]
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, str):
        return " ".join(value.split()).lower()
    return value


def key(sender_id: str, tool: str, message_id: str, params: dict[str, Any]) -> str:
    """A key of at most 69 characters (the back office takes up to 128)."""
    body = json.dumps(
        [str(sender_id), str(tool), str(message_id), _normalise(params)], sort_keys=True, separators=(",", ":")
    )
    return PREFIX + hashlib.sha256(body.encode()).hexdigest()
