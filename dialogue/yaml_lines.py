"""Line-aware reading of Rasa YAML files beyond NLU data: domain, stories, rules.

Works on the node tree the NLU reader composes, so every value keeps its line. Plain scalars
are read by YAML 1.2 rules, as Rasa reads them: ``yes`` is the string "yes" and ``3.1`` a
number, never a boolean or a date.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from nlu.readers import data_files
from nlu.readers.errors import TrainingDataError
from nlu.readers.rasa_yaml import _compose, _fields, _is_null, _line

__all__ = [
    "YAML_SUFFIXES",
    "Source",
    "errors_as",
    "fields",
    "is_null",
    "line",
    "read_yaml",
    "value",
    "yaml_files",
]

YAML_SUFFIXES = (".yml", ".yaml")

fields = _fields
is_null = _is_null
line = _line

_INT = re.compile(r"[-+]?[0-9]+")
_OCT = re.compile(r"0o[0-7]+")
_HEX = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_INF = re.compile(r"[-+]?\.(?:inf|Inf|INF)")
_NAN = re.compile(r"\.(?:nan|NaN|NAN)")


@dataclass(frozen=True)
class Source:
    """Where something was written: a file and a 1-based line."""

    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@contextmanager
def errors_as(error: type[TrainingDataError]) -> Iterator[None]:
    """Re-raise the NLU helpers' ``TrainingDataError`` as ``error``, keeping file and line."""
    try:
        yield
    except TrainingDataError as e:
        if isinstance(e, error):
            raise
        raise error(e.path, e.line, e.message) from None


def yaml_files(root: Path) -> list[Path]:
    """The YAML files under ``root`` in sorted order, hidden files and folders left out."""
    return data_files(root, YAML_SUFFIXES)


def read_yaml(path: Path) -> Node | None:
    """The composed node tree of a YAML file (None when empty); raises ``TrainingDataError``."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise TrainingDataError(str(path), None, "no such file or directory") from None
    except OSError as e:
        raise TrainingDataError(str(path), None, f"cannot read the file: {e.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        at = raw.count(b"\n", 0, e.start) + 1
        raise TrainingDataError(str(path), at, f"not valid UTF-8 ({e.reason})") from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _compose(text, str(path))


def value(node: Node, path: str) -> Any:
    """The Python value of a node: dicts, lists and YAML 1.2 scalars (duplicate keys fail)."""
    if isinstance(node, MappingNode):
        return {key: value(item, path) for key, (_, item) in fields(node, path).items()}
    if isinstance(node, SequenceNode):
        return [value(item, path) for item in node.value]
    return _scalar(node)


def _scalar(node: ScalarNode) -> Any:
    text = node.value
    if node.style:  # quoted or block: always a string (plain is None, or "" from libyaml)
        return text
    if text in ("", "~", "null", "Null", "NULL"):
        return None
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if _INT.fullmatch(text):
        return int(text)
    if _OCT.fullmatch(text):
        return int(text[2:], 8)
    if _HEX.fullmatch(text):
        return int(text[2:], 16)
    if _FLOAT.fullmatch(text):
        return float(text)
    if _INF.fullmatch(text):
        return float("-inf") if text.startswith("-") else float("inf")
    if _NAN.fullmatch(text):
        return float("nan")
    return text
