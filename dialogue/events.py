"""Conversation events as plain dicts, serialised exactly as Rasa 3.6 serialises them.

An event *is* its wire format (as in rasa-sdk): a ``dict`` whose keys and key order match
``Event.as_dict()`` of Rasa 3.6, so trackers, tracker stores, the HTTP API and the action
server all exchange the same objects without conversion.

Layout of every event::

    {"event": <type name>, "timestamp": <float seconds>, ["metadata": {...}], <type fields...>}

``metadata`` sits right after ``timestamp`` only when it is non-empty. ``user`` and ``bot``
events always carry ``metadata``; when it is empty it comes last (Rasa adds it with
``dict.update`` after the base keys). Use :func:`add_metadata` to add keys (e.g. ``model_id``
and ``assistant_id``) so that the key order stays Rasa's.

Events are treated as immutable once built: trackers and stores keep references to them.

Events coming from an action server go through :func:`validate_event`, which rejects anything
malformed with a ``ValueError`` and returns the event in canonical form (Rasa re-serialises the
events it receives, so e.g. rasa-sdk's ``{"event": "action", "name": ..., "timestamp": None}``
becomes a complete ``action`` event with a timestamp).
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime
from typing import Any, Iterable, Mapping

ACTION_LISTEN_NAME = "action_listen"
ACTION_SESSION_START_NAME = "action_session_start"
SHOULD_NOT_BE_SET = "should_not_be_set"

# Type-specific fields of each event, in Rasa's serialisation order (after event/timestamp).
EVENT_FIELDS: dict[str, tuple[str, ...]] = {
    "user": ("text", "parse_data", "input_channel", "message_id", "metadata"),
    "user_featurization": ("use_text_for_featurization",),
    "entities": ("entities",),
    "bot": ("text", "data", "metadata"),
    "slot": ("name", "value"),
    "restart": (),
    "rewind": (),
    "reset_slots": (),
    "reminder": ("intent", "date_time", "entities", "name", "kill_on_user_msg"),
    "cancel_reminder": (),  # Rasa serialises only the base keys for this event
    "undo": (),
    "export": (),  # likewise: the path is not serialised
    "followup": ("name",),
    "pause": (),
    "resume": (),
    "action": ("name", "policy", "confidence", "action_text", "hide_rule_turn"),
    "agent": ("text", "data"),
    "active_loop": ("name",),
    "loop_interrupted": ("is_interrupted",),
    "action_execution_rejected": ("name", "policy", "confidence"),
    "session_started": (),
}

#: Every event type name Rasa 3.6 accepts (the legacy names are converted on validation).
EVENT_TYPES: frozenset[str] = frozenset(EVENT_FIELDS)
LEGACY_EVENT_TYPES = {"form": "active_loop", "form_validation": "loop_interrupted"}

#: Keys of ``bot`` event data in the order Rasa builds it from a response.
BOT_DATA_KEYS = ("elements", "quick_replies", "buttons", "attachment", "image", "custom")


def _now(timestamp: float | None) -> float:
    # Rasa: ``self.timestamp = timestamp or time.time()``
    return timestamp or time.time()


def _build(type_name: str, timestamp: float | None, meta: Mapping[str, Any] | None, /, **fields: Any) -> dict:
    event: dict[str, Any] = {"event": type_name, "timestamp": _now(timestamp)}
    if meta:
        event["metadata"] = fields["metadata"] if "metadata" in fields else dict(meta)
    event.update(fields)
    return event


def canonical(event: Mapping[str, Any]) -> dict:
    """Return ``event`` with Rasa's keys in Rasa's order (unknown keys dropped, missing ones ``None``).

    Assumes the event has already been validated; does not fill in a missing timestamp.
    """
    type_name = event["event"]
    metadata = event.get("metadata") or {}
    out: dict[str, Any] = {"event": type_name, "timestamp": event.get("timestamp")}
    if metadata:
        out["metadata"] = metadata
    for key in EVENT_FIELDS[type_name]:
        if key == "metadata":
            out["metadata"] = metadata
        elif key == "hide_rule_turn":
            out[key] = bool(event.get(key, False))
        else:
            out[key] = event.get(key)
    return out


def add_metadata(event: Mapping[str, Any], extra: Mapping[str, Any]) -> dict:
    """Return a copy of ``event`` whose metadata also holds the keys of ``extra`` it lacked.

    Mirrors how Rasa's tracker stamps ``model_id`` / ``assistant_id`` on events: existing keys
    win, new keys are appended in ``extra``'s order, and the result keeps Rasa's key order.
    """
    metadata = dict(event.get("metadata") or {})
    changed = False
    for key, value in extra.items():
        if key not in metadata:
            metadata[key] = value
            changed = True
    if not changed:
        return dict(event)
    return canonical({**event, "metadata": metadata})


# --------------------------------------------------------------------------- constructors


def parse_data_for(
    text: str | None,
    parse_data: Mapping[str, Any] | None = None,
    message_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> dict:
    """The ``parse_data`` Rasa stores on a user event: base keys first, then the NLU result's."""
    given = dict(parse_data or {})
    intent = given.get("intent") or {}
    out: dict[str, Any] = {
        "intent": intent,
        "entities": list(given.get("entities") or []),
        "text": text,
        "message_id": message_id,
        "metadata": dict(metadata or {}),
    }
    out.update(given)
    return out


def user_uttered(
    text: str | None,
    parse_data: Mapping[str, Any] | None = None,
    input_channel: str | None = None,
    message_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    timestamp: float | None = None,
) -> dict:
    """``user``: the user said something. ``parse_data`` is the NLU result (``/model/parse`` shape).

    ``metadata`` is the message's metadata; it is also the default of ``parse_data["metadata"]``.
    Stamp model ids afterwards with :func:`add_metadata`, as Rasa does.
    """
    metadata = dict(metadata or {})
    return _build(
        "user",
        timestamp,
        metadata,
        text=text,
        parse_data=parse_data_for(text, parse_data, message_id, metadata),
        input_channel=input_channel,
        message_id=message_id,
        metadata=metadata,
    )


def user_featurization(use_text_for_featurization: bool, timestamp: float | None = None, metadata=None) -> dict:
    """``user_featurization``: whether the last user message was featurised by text or intent."""
    return _build("user_featurization", timestamp, metadata, use_text_for_featurization=use_text_for_featurization)


def bot_uttered(
    text: str | None = None,
    data: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    timestamp: float | None = None,
) -> dict:
    """``bot``: the assistant said something.

    ``data`` always gets Rasa's six keys (``elements, quick_replies, buttons, attachment, image,
    custom``; missing ones ``None``), followed by any extra keys given.
    """
    given = dict(data or {})
    out_data = {key: given.pop(key, None) for key in BOT_DATA_KEYS}
    out_data.update(given)
    metadata = dict(metadata or {})
    return _build("bot", timestamp, metadata, text=text, data=out_data, metadata=metadata)


def bot_uttered_from_response(message: Mapping[str, Any], timestamp: float | None = None) -> dict:
    """``bot`` event for a response message, built like Rasa's ``create_bot_utterance``.

    The known keys go to ``data`` (``attachment`` falls back to ``image``); every other key of
    the message (``template_name``, ``utter_action``, ...) becomes the event's metadata.
    """
    rest = dict(message)
    text = rest.pop("text", None)
    data = {
        "elements": rest.pop("elements", None),
        "quick_replies": rest.pop("quick_replies", None),
        "buttons": rest.pop("buttons", None),
        "attachment": rest.pop("attachment", None) or rest.get("image", None),
        "image": rest.pop("image", None),
        "custom": rest.pop("custom", None),
    }
    return _build("bot", timestamp, rest, text=text, data=data, metadata=rest)


def action_executed(
    name: str | None,
    policy: str | None = None,
    confidence: float | None = None,
    action_text: str | None = None,
    hide_rule_turn: bool = False,
    timestamp: float | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> dict:
    """``action``: an action ran. ``name`` is ``None`` only for end-to-end ``action_text`` actions."""
    if name is None and action_text is None:
        raise ValueError("an action event needs a name or an action_text")
    return _build(
        "action",
        timestamp,
        metadata,
        name=name,
        policy=policy,
        confidence=confidence,
        action_text=action_text,
        hide_rule_turn=hide_rule_turn,
    )


def slot_set(name: str, value: Any = None, timestamp: float | None = None, metadata=None) -> dict:
    """``slot``: set slot ``name`` to ``value``."""
    return _build("slot", timestamp, metadata, name=name, value=value)


def active_loop(name: str | None, timestamp: float | None = None, metadata=None) -> dict:
    """``active_loop``: activate loop (form) ``name``, or deactivate the active one with ``None``."""
    return _build("active_loop", timestamp, metadata, name=name)


def loop_interrupted(is_interrupted: bool, timestamp: float | None = None, metadata=None) -> dict:
    """``loop_interrupted``: the active loop was (not) interrupted by an unhappy path."""
    return _build("loop_interrupted", timestamp, metadata, is_interrupted=is_interrupted)


def action_execution_rejected(
    name: str, policy: str | None = None, confidence: float | None = None, timestamp: float | None = None, metadata=None
) -> dict:
    """``action_execution_rejected``: action ``name`` refused to run (e.g. a form that can't validate)."""
    return _build("action_execution_rejected", timestamp, metadata, name=name, policy=policy, confidence=confidence)


def followup(name: str, timestamp: float | None = None, metadata=None) -> dict:
    """``followup``: force ``name`` to be the next action."""
    return _build("followup", timestamp, metadata, name=name)


def entities_added(entities: list[dict], timestamp: float | None = None, metadata=None) -> dict:
    """``entities``: add entities to the latest user message."""
    return _build("entities", timestamp, metadata, entities=list(entities))


def session_started(timestamp: float | None = None, metadata=None) -> dict:
    """``session_started``: a new conversation session begins (state is reset)."""
    return _build("session_started", timestamp, metadata)


def restarted(timestamp: float | None = None, metadata=None) -> dict:
    """``restart``: wipe the conversation state (the events are kept)."""
    return _build("restart", timestamp, metadata)


def conversation_paused(timestamp: float | None = None, metadata=None) -> dict:
    """``pause``: stop predicting actions (a human takes over)."""
    return _build("pause", timestamp, metadata)


def conversation_resumed(timestamp: float | None = None, metadata=None) -> dict:
    """``resume``: the assistant takes over again."""
    return _build("resume", timestamp, metadata)


def user_utterance_reverted(timestamp: float | None = None, metadata=None) -> dict:
    """``rewind``: undo everything back to and including the latest user message."""
    return _build("rewind", timestamp, metadata)


def action_reverted(timestamp: float | None = None, metadata=None) -> dict:
    """``undo``: undo the latest action and everything after it."""
    return _build("undo", timestamp, metadata)


def all_slots_reset(timestamp: float | None = None, metadata=None) -> dict:
    """``reset_slots``: set every slot back to its initial value."""
    return _build("reset_slots", timestamp, metadata)


# --------------------------------------------------------------------------- validation


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class _Checker:
    def __init__(self, event: Mapping[str, Any], type_name: str) -> None:
        self.event = event
        self.type_name = type_name

    def fail(self, message: str) -> None:
        raise ValueError(f"invalid '{self.type_name}' event: {message}")

    def optional_str(self, key: str) -> None:
        value = self.event.get(key)
        if value is not None and not isinstance(value, str):
            self.fail(f"'{key}' must be a string or null, got {type(value).__name__}")

    def required_str(self, key: str) -> None:
        value = self.event.get(key)
        if not isinstance(value, str) or not value:
            self.fail(f"'{key}' must be a non-empty string, got {value!r}")

    def optional_dict(self, key: str) -> None:
        value = self.event.get(key)
        if value is not None and not isinstance(value, dict):
            self.fail(f"'{key}' must be an object or null, got {type(value).__name__}")

    def optional_bool(self, key: str) -> None:
        value = self.event.get(key)
        if value is not None and not isinstance(value, bool):
            self.fail(f"'{key}' must be a boolean, got {value!r}")

    def optional_number(self, key: str) -> None:
        value = self.event.get(key)
        if value is not None and not _is_number(value):
            self.fail(f"'{key}' must be a number or null, got {value!r}")

    def entity_list(self, key: str, required: bool) -> None:
        value = self.event.get(key)
        if value is None and not required:
            return
        if not isinstance(value, list) or not all(isinstance(e, dict) for e in value):
            self.fail(f"'{key}' must be a list of objects, got {value!r}")


def validate_event(event: Any, now: float | None = None) -> dict:
    """Check an event (typically returned by an action server) and return it in canonical form.

    Raises ``ValueError`` naming the problem when the event has an unknown or missing ``event``
    name, a missing required field, a field of the wrong type, or content that cannot be
    stored as JSON. The returned dict is a new object with Rasa's keys in Rasa's order, legacy
    names converted (``form`` -> ``active_loop``, ``form_validation`` -> ``loop_interrupted``)
    and a missing timestamp set to ``now`` (default: the current time), as Rasa does when it
    deserialises events.
    """
    if not isinstance(event, Mapping):
        raise ValueError(f"an event must be an object, got {type(event).__name__}")
    type_name = event.get("event")
    if not isinstance(type_name, str):
        raise ValueError(f"an event needs an 'event' name, got {type_name!r}")
    if type_name in LEGACY_EVENT_TYPES:
        event = dict(event)
        if type_name == "form_validation":
            validate = event.get("validate", True)
            if not isinstance(validate, bool):
                raise ValueError(f"invalid 'form_validation' event: 'validate' must be a boolean, got {validate!r}")
            event["is_interrupted"] = not validate
        type_name = event["event"] = LEGACY_EVENT_TYPES[type_name]
    if type_name not in EVENT_FIELDS:
        raise ValueError(f"unknown event name '{type_name}'")

    check = _Checker(event, type_name)
    check.optional_number("timestamp")
    check.optional_dict("metadata")
    fields = dict(event)

    if type_name == "user":
        check.optional_str("text")
        check.optional_dict("parse_data")
        check.optional_str("input_channel")
        check.optional_str("message_id")
        parse_data = event.get("parse_data") or {}
        if parse_data.get("intent") is not None and not isinstance(parse_data["intent"], dict):
            check.fail("'parse_data.intent' must be an object")
        if parse_data.get("entities") is not None and (
            not isinstance(parse_data["entities"], list) or not all(isinstance(e, dict) for e in parse_data["entities"])
        ):
            check.fail("'parse_data.entities' must be a list of objects")
        fields["metadata"] = dict(event.get("metadata") or {})
        fields["parse_data"] = parse_data_for(
            event.get("text"), event.get("parse_data"), event.get("message_id"), fields["metadata"]
        )
    elif type_name == "bot":
        check.optional_str("text")
        check.optional_dict("data")
        fields["data"] = event.get("data") or {}
    elif type_name == "slot":
        check.required_str("name")
    elif type_name == "action":
        check.optional_str("name")
        check.optional_str("action_text")
        check.optional_str("policy")
        check.optional_number("confidence")
        check.optional_bool("hide_rule_turn")
        if event.get("name") is None and event.get("action_text") is None:
            check.fail("needs a 'name' (or an end-to-end 'action_text')")
    elif type_name == "active_loop":
        check.optional_str("name")
    elif type_name == "loop_interrupted":
        check.optional_bool("is_interrupted")
        fields["is_interrupted"] = bool(event.get("is_interrupted", False))
    elif type_name == "action_execution_rejected":
        check.required_str("name")
        check.optional_str("policy")
        check.optional_number("confidence")
    elif type_name == "followup":
        check.required_str("name")
    elif type_name == "entities":
        check.entity_list("entities", required=True)
    elif type_name == "user_featurization":
        check.optional_bool("use_text_for_featurization")
    elif type_name == "reminder":
        check.required_str("intent")
        check.required_str("date_time")
        try:
            raw = event["date_time"]
            fields["date_time"] = datetime.fromisoformat(raw[:-1] + "+00:00" if raw.endswith("Z") else raw).isoformat()
        except ValueError:
            check.fail(f"'date_time' must be an ISO 8601 date-time, got {event['date_time']!r}")
        check.entity_list("entities", required=False)
        check.optional_str("name")
        check.optional_bool("kill_on_user_msg")
        if event.get("name") is None:
            fields["name"] = str(uuid.uuid1())
        fields["kill_on_user_msg"] = event.get("kill_on_user_msg", True)
    elif type_name == "cancel_reminder":
        check.optional_str("name")
        check.optional_str("intent")
        check.entity_list("entities", required=False)

    fields["timestamp"] = event.get("timestamp") or (now if now is not None else time.time())
    out = canonical(fields)
    try:
        json.dumps(out, allow_nan=False)
    except (TypeError, ValueError) as exc:
        check.fail(f"cannot be stored as JSON ({exc})")
    return out


def validate_events(events: Iterable[Any], now: float | None = None) -> list[dict]:
    """Validate a list of events (all or nothing); the error names the offending position."""
    if not isinstance(events, list):
        raise ValueError(f"events must be a list, got {type(events).__name__}")
    out = []
    for i, event in enumerate(events):
        try:
            out.append(validate_event(event, now))
        except ValueError as exc:
            raise ValueError(f"event {i}: {exc}") from None
    return out
