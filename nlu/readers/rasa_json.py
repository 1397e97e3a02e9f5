"""Rasa JSON training data (``{"rasa_nlu_data": {...}}``).

Line numbers: the file is decoded with the pure-Python JSON scanner, hooked so that every
object remembers the offset of its ``{``. A problem in an object (a common example, an
entity, a synonym entry...) is reported at the line of its ``{``; a value that is not an
object is reported at the line of the object holding it. Syntax errors carry json's own line.

As in Rasa, a common example may have no intent, and an entity ``value`` other than its
span is the canonical value of that span (a synonym).
"""

from __future__ import annotations

import json
import json.decoder
import json.scanner
import re
import sys
from bisect import bisect_right

from nlu.readers.checks import add_entity_synonyms, check_regex, entity_from_dict
from nlu.readers.errors import TrainingDataError
from nlu.training_data import Example, TrainingData

# section of `rasa_nlu_data` -> keys of its entries
_SECTIONS = {
    "common_examples": ("text", "intent", "entities", "metadata"),
    "entity_synonyms": ("value", "synonyms"),
    "regex_features": ("name", "pattern"),
    "lookup_tables": ("name", "elements"),
}


class _Object(dict):
    """A decoded JSON object that remembers the offset of its ``{``."""

    offset = 0


_LONG_NUMBER = re.compile(r"\d{%d,}" % (sys.get_int_max_str_digits() + 1))


def _decode(text: str, path: str) -> object:
    def parse_object(s_and_end, *args):
        obj, end = json.decoder.JSONObject(s_and_end, *args)
        positioned = _Object(obj)
        positioned.offset = s_and_end[1] - 1
        return positioned, end

    decoder = json.JSONDecoder()
    decoder.parse_object = parse_object
    decoder.scan_once = json.scanner.py_make_scanner(decoder)
    try:
        return decoder.decode(text)
    except json.JSONDecodeError as e:
        message = f"invalid JSON: {e.msg} (column {e.colno})"
        raise TrainingDataError(path, e.lineno, message) from None
    except RecursionError:
        raise TrainingDataError(path, None, "invalid JSON: nested too deeply") from None
    except ValueError:  # an integer longer than Python converts (sys.get_int_max_str_digits())
        long_number = _LONG_NUMBER.search(text)
        line = text.count("\n", 0, long_number.start()) + 1 if long_number else None
        raise TrainingDataError(path, line, "invalid JSON: a number too long to read") from None


class _Reader:
    def __init__(self, text: str, path: str) -> None:
        self.path = path
        self.newlines = [m.start() for m in re.finditer("\n", text)]
        self.data = TrainingData()

    def line(self, obj: _Object) -> int:
        return bisect_right(self.newlines, obj.offset) + 1

    def fail(self, obj: _Object, message: str) -> TrainingDataError:
        return TrainingDataError(self.path, self.line(obj), message)

    def mapping(self, value: object, parent: _Object, what: str, keys: tuple[str, ...]) -> _Object:
        """``value`` checked to be an object with no keys but ``keys``."""
        if not isinstance(value, _Object):
            raise self.fail(parent, f"{what} must be a JSON object")
        for key in value:
            if key not in keys:
                expected = ", ".join(keys)
                raise self.fail(value, f"unknown key {key!r} in {what} (expected {expected})")
        return value

    def array(self, obj: _Object, key: str, item_type: type) -> list:
        """``obj[key]`` (default empty) checked to be an array of ``item_type``."""
        value = obj.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, item_type) for v in value):
            kind = "objects" if item_type is _Object else "strings"
            raise self.fail(obj, f"{key!r} must be an array of {kind}")
        return value

    def string(self, obj: _Object, key: str, *, required: bool = True) -> str | None:
        value = obj.get(key)
        if value is None and not required:
            return None
        if not (isinstance(value, str) and value.strip()):
            raise self.fail(obj, f"{key!r} must be a non-empty string")
        return value

    def common_example(self, raw: _Object) -> None:
        text = self.string(raw, "text")
        line = self.line(raw)
        entities = tuple(
            entity_from_dict(e, text, self.path, self.line(e), value_is_span=False)
            for e in self.array(raw, "entities", _Object)
        )
        add_entity_synonyms(text, entities, self.data.synonyms)
        intent = self.string(raw, "intent", required=False)
        self.data.examples.append(Example(text, intent, entities, f"{self.path}:{line}"))

    def synonym(self, raw: _Object) -> None:
        value = self.string(raw, "value")
        for variant in self.array(raw, "synonyms", str):
            self.data.synonyms[variant.lower()] = value

    def regex(self, raw: _Object) -> None:
        name, pattern = self.string(raw, "name"), self.string(raw, "pattern")
        check_regex(pattern, self.path, self.line(raw))
        self.data.regexes.append((name, pattern))

    def lookup(self, raw: _Object) -> None:
        name = self.string(raw, "name")
        self.data.lookups.setdefault(name, []).extend(self.array(raw, "elements", str))


def read(text: str, path: str) -> TrainingData:
    root = _decode(text, path)
    if not isinstance(root, _Object):
        line = text[: len(text) - len(text.lstrip())].count("\n") + 1
        raise TrainingDataError(path, line, "expected an object with a 'rasa_nlu_data' key")
    reader = _Reader(text, path)
    reader.mapping(root, root, "the file", ("rasa_nlu_data",))
    if "rasa_nlu_data" not in root:
        raise reader.fail(root, "expected an object with a 'rasa_nlu_data' key")
    nlu = reader.mapping(root["rasa_nlu_data"], root, "'rasa_nlu_data'", tuple(_SECTIONS))
    read_entry = {
        "common_examples": reader.common_example,
        "entity_synonyms": reader.synonym,
        "regex_features": reader.regex,
        "lookup_tables": reader.lookup,
    }
    for section, keys in _SECTIONS.items():
        for raw in reader.array(nlu, section, _Object):
            read_entry[section](reader.mapping(raw, nlu, section, keys))
    return reader.data
