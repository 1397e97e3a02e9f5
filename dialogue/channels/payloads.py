"""Checks on the JSON clients send: the document itself, and NLU parse data given instead of a parse.

Both raise :class:`dialogue.channels.BadInput` (400), so nothing malformed reaches the assistant
or its stored conversations: a document nested deeper than the interpreter can decode, or
holding ``NaN``/``Infinity`` (which no tracker store can write back as JSON), and parse data
whose intent or entities are not shaped as a ``/model/parse`` result (the policies read them on
every later turn of the conversation).
"""

from __future__ import annotations

import json
import math
from numbers import Real
from typing import Any

from dialogue.channels import BadInput, metadata

MAX_DEPTH = 32  # nesting levels of a client's JSON document


def checked(value: Any, what: str) -> Any:
    """``value``, decoded by someone else's JSON parser, when it holds only what :func:`decode`
    accepts: no ``NaN`` or infinite number, at most :data:`MAX_DEPTH` levels (checked
    iteratively, so any depth is safe to measure)."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise BadInput(f"{what} holds {item}, which JSON does not allow")
        if isinstance(item, (list, dict)):
            if depth > MAX_DEPTH:
                raise BadInput(f"{what} nests deeper than {MAX_DEPTH} levels")
            pending.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return value


def decode(raw: str | bytes, what: str = "the request body") -> Any:
    """A client's JSON document; :class:`BadInput` when it is not strict JSON or nests too deeply."""
    try:
        value = json.loads(raw)
    except RecursionError:
        raise BadInput(f"{what} nests deeper than {MAX_DEPTH} levels") from None
    except (TypeError, ValueError):  # UnicodeDecodeError is a ValueError
        raise BadInput(f"{what} is not valid JSON") from None
    return checked(value, what)


def _number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _check_entity(entity: Any) -> str | None:
    if not isinstance(entity, dict):
        return "an entity must be a JSON object"
    if not isinstance(entity.get("entity"), str):
        return 'an entity needs a string "entity"'
    for key in ("start", "end"):
        if key in entity and (not isinstance(entity[key], int) or isinstance(entity[key], bool)):
            return f'an entity\'s "{key}" must be an integer'
    for key in ("role", "group", "extractor"):
        if entity.get(key) is not None and not isinstance(entity[key], str):
            return f'an entity\'s "{key}" must be a string'
    if "confidence" in entity and not _number(entity["confidence"]):
        return 'an entity\'s "confidence" must be a number'
    return None


def _check_intent(intent: Any) -> str | None:
    if not isinstance(intent, dict):
        return "an intent must be a JSON object"
    if intent.get("name") is not None and not isinstance(intent["name"], str):
        return 'an intent\'s "name" must be a string'
    if "confidence" in intent and not _number(intent["confidence"]):
        return 'an intent\'s "confidence" must be a number'
    return None


def _problem(data: dict) -> str | None:
    if data.get("intent") is not None and (problem := _check_intent(data["intent"])):
        return problem
    for key, check in (("intent_ranking", _check_intent), ("entities", _check_entity)):
        if key not in data:
            continue
        if not isinstance(data[key], list):
            return f'"{key}" must be a list'
        if problem := next(filter(None, map(check, data[key])), None):
            return problem
    for key in ("text", "message_id"):
        if data.get(key) is not None and not isinstance(data[key], str):
            return f'"{key}" must be a string'
    if data.get("metadata") is not None and not isinstance(data["metadata"], dict):
        return '"metadata" must be a JSON object'
    return None


def parse_data(value: Any, field: str = "parse_data") -> dict | None:
    """Parse data from a client (``/model/parse``'s shape), checked; ``None`` when absent."""
    value = metadata(value, field)  # a JSON object or None
    if value is not None and (problem := _problem(value)):
        raise BadInput(f'"{field}": {problem}')
    return value
