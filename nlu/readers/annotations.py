"""Entity markup inside Rasa example text.

``[span](entity)``, ``[span](entity:value)`` and ``[span]{"entity": ..., "value": ...,
"role": ..., "group": ...}``. A ``]`` directly followed by ``(`` or ``{`` closes an
annotation, so it must parse; any other bracket is ordinary text ("press [enter]").
The span is the text after the last ``[`` before that ``]``.
"""

from __future__ import annotations

import json
from typing import Callable

from nlu.readers.errors import TrainingDataError
from nlu.training_data import Entity

_JSON_KEYS = ("entity", "value", "role", "group")
_decoder = json.JSONDecoder()
_Fail = Callable[[str], TrainingDataError]


def parse_annotated(markup: str, path: str, line: int) -> tuple[str, tuple[Entity, ...]]:
    """Return the plain text of ``markup`` and its entities, offsets into the plain text."""
    if "]" not in markup:
        return markup, ()

    def fail(message: str) -> TrainingDataError:
        return TrainingDataError(path, line, f"{message}: {markup!r}")

    pieces: list[str] = []
    entities: list[Entity] = []
    plain_len = 0  # length of "".join(pieces)
    consumed = 0  # markup before this index is in pieces
    scan = 0  # brackets before this index are settled
    while (close := markup.find("]", scan)) != -1:
        opener = markup[close + 1 : close + 2]
        if opener not in ("(", "{"):
            scan = close + 1
            continue
        start = markup.rfind("[", scan, close)
        if start == -1:
            raise fail(f"annotation {markup[close:close + 2]!r} without an opening '['")
        span = markup[start + 1 : close]
        if not span:
            raise fail("annotation with empty text")
        parse = _parse_parens if opener == "(" else _parse_json
        attrs, scan = parse(markup, close + 1, fail)
        pieces.append(markup[consumed:start])
        entity_start = plain_len + start - consumed
        pieces.append(span)
        plain_len = entity_start + len(span)
        entities.append(
            Entity(
                entity_start,
                plain_len,
                attrs.get("value", span),
                attrs["entity"],
                attrs.get("role"),
                attrs.get("group"),
            )
        )
        consumed = scan
    pieces.append(markup[consumed:])
    return "".join(pieces), tuple(entities)


def _parse_parens(markup: str, open_at: int, fail: _Fail) -> tuple[dict[str, str], int]:
    """``(entity)`` or ``(entity:value)`` at ``open_at``: its attributes and where it ends."""
    close = markup.find(")", open_at)
    if close == -1:
        raise fail("unclosed '(' in annotation")
    entity, colon, value = markup[open_at + 1 : close].partition(":")
    if not entity.strip():
        raise fail("annotation without an entity name")
    if colon and not value:
        raise fail(f"annotation '({entity}:)' with an empty value")
    return ({"entity": entity, "value": value} if colon else {"entity": entity}), close + 1


def _parse_json(markup: str, open_at: int, fail: _Fail) -> tuple[dict[str, str], int]:
    """``{"entity": ..., "value"?, "role"?, "group"?}`` at ``open_at``: its attributes and end."""
    try:
        attrs, end = _decoder.raw_decode(markup, open_at)
    except json.JSONDecodeError as e:
        raise fail(f"invalid JSON in annotation ({e.msg})") from None
    except RecursionError:
        raise fail("invalid JSON in annotation (nested too deeply)") from None
    for key, value in attrs.items():
        if key not in _JSON_KEYS:
            raise fail(f"unknown key {key!r} in annotation (expected {', '.join(_JSON_KEYS)})")
        if not (isinstance(value, str) and value):
            raise fail(f"annotation {key!r} must be a non-empty string")
    if "entity" not in attrs:
        raise fail("annotation without 'entity'")
    return attrs, end
