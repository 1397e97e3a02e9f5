"""Hypothesis strategies for fuzzing the file readers: garbage, and valid files slightly broken.

``mutated(text, tokens)`` edits a valid file the way people and tools break them: lines deleted,
duplicated, swapped, re-indented or truncated, and fragments of the format's own syntax (or
random text) inserted, so most examples still get deep into the reader. ``json_mutated(doc)``
and ``yaml_mutated(doc)`` replace a random part of a document's tree with a random value, so the
file stays well-formed and only its content is wrong.
"""

from __future__ import annotations

import json
import os
from typing import Any

import yaml
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st



def fuzz_settings(examples: int) -> settings:
    """Bounded and repeatable: the same ``examples`` on every run ($DESK_FUZZ_EXAMPLES sets
    another count, for a longer hunt)."""
    examples = int(os.environ.get("DESK_FUZZ_EXAMPLES", examples))
    return settings(max_examples=examples, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


FUZZ = fuzz_settings(150)  # a few seconds per reader

ODD_TEXT = ["\x00", "\ud800", "\ufeff", "\u2028", "\x85", "\t", "\r", "\x1b", "é", "😀", "9" * 5000, "1e999", ""]
YAML_TOKENS = [
    "- ", ": ", "  ", "    ", "[", "]", "{", "}", ",", "&a ", "*a", "&a [*a]", "&a {k: *a}", "<<: *a", "? ", "|",
    "|-", ">", "'", '"', "#", "~", "null", "yes", "no", "3.1", ".inf", ".nan", "0o17", "0x1F", "2026-01-01",
    "!!binary ", "!!python/object/apply:os.system ['true']", "!!int x", "!!map", "!!set {a}", "!foo ", "---", "...",
    "%YAML 1.1", "key: value", "intent: greet", "examples: |", "- intent:", "steps:", "- action: x", "- or:",
    "slot_was_set:", "entities:", "- [a](b)", "[x]{\"entity\": 1}", "(", ")", "\\", "{{ policy.x }}", *ODD_TEXT,
]
JSON_TOKENS = ["{", "}", "[", "]", ",", ":", '"', "\\", "\\u", "\\ud800", "null", "true", "-0", "NaN", "Infinity",
               "1e999", "[" * 3000, '{"a":' * 3000, '"text"', '"intent"', '"entities"', '"start"', *ODD_TEXT]

fragments = st.text(max_size=12)


def _fragment(tokens: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(tokens), fragments)


@st.composite
def mutated(draw, text: str, tokens: list[str] = YAML_TOKENS) -> str:
    """``text`` with one to four line-level edits (see the module docstring)."""
    lines = text.split("\n")
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(lines) - 1)) if lines else 0
        edit = draw(st.sampled_from(["delete", "duplicate", "swap", "insert", "replace", "indent", "truncate"]))
        if not lines:
            lines = [draw(_fragment(tokens))]
        elif edit == "delete":
            del lines[at]
        elif edit == "duplicate":
            lines.insert(at, lines[at])
        elif edit == "swap":
            other = draw(st.integers(0, len(lines) - 1))
            lines[at], lines[other] = lines[other], lines[at]
        elif edit == "insert":
            column = draw(st.integers(0, len(lines[at])))
            lines[at] = lines[at][:column] + draw(_fragment(tokens)) + lines[at][column:]
        elif edit == "replace":
            lines[at] = draw(_fragment(tokens))
        elif edit == "indent":
            shift = draw(st.integers(-4, 4))
            lines[at] = " " * shift + lines[at] if shift >= 0 else lines[at][-shift:]
        else:
            lines = lines[: at + 1]
            lines[at] = lines[at][: draw(st.integers(0, len(lines[at])))]
    return "\n".join(lines)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def _replace_somewhere(draw, doc: Any) -> Any:
    """``doc`` with one node (possibly the root) replaced by a random JSON value."""
    if isinstance(doc, (dict, list)) and doc and draw(st.booleans()):
        keys = list(doc) if isinstance(doc, dict) else list(range(len(doc)))
        key = draw(st.sampled_from(keys))
        copy = dict(doc) if isinstance(doc, dict) else list(doc)
        copy[key] = _replace_somewhere(draw, doc[key])
        return copy
    return draw(json_values)


@st.composite
def json_mutated(draw, doc: Any) -> str:
    """``doc`` as JSON text with a random part replaced, then maybe text-level edits too."""
    text = json.dumps(_replace_somewhere(draw, doc), indent=2)
    return draw(mutated(text, JSON_TOKENS)) if draw(st.booleans()) else text


@st.composite
def yaml_mutated(draw, doc: Any) -> str:
    """``doc`` (a loaded YAML file) written back with a random part replaced."""
    return yaml.safe_dump(_replace_somewhere(draw, doc), allow_unicode=True, sort_keys=False)


def as_bytes(text: str) -> bytes:
    """What a file holding ``text`` contains; lone surrogates become invalid UTF-8."""
    return text.encode("utf-8", "surrogatepass")
