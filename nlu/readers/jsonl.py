"""JSON Lines: one ``{"text", "intent", "entities"?}`` object a line (the benchmark format).

Entity offsets must match their value exactly (``text[start:end] == value``).
"""

from __future__ import annotations

import json

from nlu.readers.checks import entity_from_dict
from nlu.readers.errors import TrainingDataError
from nlu.training_data import Example, TrainingData

_KEYS = ("text", "intent", "entities")


def read(text: str, path: str) -> TrainingData:
    data = TrainingData()
    # Split on "\n" only: JSON strings may hold a raw U+2028, which str.splitlines() breaks on.
    for line, raw in enumerate(text.split("\n"), start=1):
        if raw.strip():
            data.examples.append(_example(raw, path, line))
    return data


def _example(raw: str, path: str, line: int) -> Example:
    def fail(message: str) -> TrainingDataError:
        return TrainingDataError(path, line, message)

    try:
        obj = json.loads(raw)
    except json.JSONDecodeError as e:
        raise fail(f"invalid JSON: {e.msg} (column {e.colno})") from None
    except RecursionError:
        raise fail("invalid JSON: nested too deeply") from None
    except ValueError:  # an integer longer than Python converts (sys.get_int_max_str_digits())
        raise fail("invalid JSON: a number too long to read") from None
    if not isinstance(obj, dict):
        raise fail("expected a JSON object")
    for key in obj:
        if key not in _KEYS:
            raise fail(f"unknown key {key!r} (expected {', '.join(_KEYS)})")
    text = obj.get("text")
    if not (isinstance(text, str) and text.strip()):
        raise fail("'text' must be a non-empty string")
    intent = obj.get("intent")
    if intent is None:
        raise fail("example under no intent")
    if not (isinstance(intent, str) and intent.strip()):
        raise fail("'intent' must be a non-empty string")
    entities = obj.get("entities", [])
    if not isinstance(entities, list):
        raise fail("'entities' must be an array")
    return Example(
        text,
        intent,
        tuple(entity_from_dict(e, text, path, line, value_is_span=True) for e in entities),
        f"{path}:{line}",
    )
