"""Checks shared by the readers: entity objects of the JSON formats, synonyms implied by
entities, regex patterns."""

from __future__ import annotations

import re

from nlu.readers.errors import TrainingDataError
from nlu.training_data import Entity

_ENTITY_KEYS = frozenset({"start", "end", "value", "entity", "role", "group"})
_EXPECTED = ", ".join(sorted(_ENTITY_KEYS))


def entity_from_dict(
    raw: object, text: str, path: str, line: int, *, value_is_span: bool
) -> Entity:
    """Validate one ``{"start", "end", "entity", "value"?, "role"?, "group"?}`` object.

    ``value`` defaults to the span. With ``value_is_span`` a value other than
    ``text[start:end]`` is an error; otherwise it is a canonical value (a synonym).
    """

    def fail(message: str) -> TrainingDataError:
        return TrainingDataError(path, line, message)

    if not isinstance(raw, dict):
        raise fail("an entity must be a JSON object")
    if not raw.keys() <= _ENTITY_KEYS:
        unknown = min(raw.keys() - _ENTITY_KEYS)
        raise fail(f"unknown key {unknown!r} in an entity (expected {_EXPECTED})")
    start, end, entity = raw.get("start"), raw.get("end"), raw.get("entity")
    if type(start) is not int or type(end) is not int:
        raise fail(f"entity offsets must be integers, got start={start!r} end={end!r}")
    if not 0 <= start < end <= len(text):
        raise fail(f"entity offsets {start}..{end} are outside the text (length {len(text)})")
    span = text[start:end]
    value, role, group = raw.get("value"), raw.get("role"), raw.get("group")
    if value is None:
        value = span
    for key, field in (("entity", entity), ("value", value), ("role", role), ("group", group)):
        if not (isinstance(field, str) and field) and (field is not None or key == "entity"):
            raise fail(f"entity {key!r} must be a non-empty string, got {field!r}")
    if value_is_span and value != span:
        raise fail(
            f"entity offsets do not match the text: text[{start}:{end}] is {span!r}, "
            f"value is {value!r}"
        )
    return Entity(start, end, value, entity, role, group)


def add_entity_synonyms(text: str, entities: tuple[Entity, ...], synonyms: dict[str, str]) -> None:
    """An entity whose value differs from its span makes the span a synonym of the value."""
    for entity in entities:
        span = text[entity.start : entity.end]
        if span != entity.value:
            synonyms[span.lower()] = entity.value


def check_regex(pattern: str, path: str, line: int) -> None:
    """Patterns are compiled by Python's ``re`` later on; a bad one is an error in its file."""
    try:
        re.compile(pattern)
    except (re.error, OverflowError, RecursionError) as e:
        raise TrainingDataError(path, line, f"invalid regex {pattern!r}: {e}") from None
