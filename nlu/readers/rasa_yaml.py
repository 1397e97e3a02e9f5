"""Rasa 3.x YAML training data: the ``nlu:`` section.

Reads the composed node tree rather than constructed Python values: every node keeps its
line, and scalars stay the text that was written (YAML 1.1 would make an intent named
``yes`` the boolean True).
"""

from __future__ import annotations

import re

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from nlu.readers.annotations import parse_annotated
from nlu.readers.checks import add_entity_synonyms, check_regex
from nlu.readers.errors import TrainingDataError
from nlu.training_data import Example, TrainingData

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_NULL_TAG = "tag:yaml.org,2002:null"
MAX_DEPTH = 100  # nesting levels of a file, aliases expanded
MAX_NODES = 1_000_000  # values in a file, aliases expanded

# Keys of Rasa training-data and domain files; all but `nlu` are someone else's business.
_TOP_LEVEL_KEYS = frozenset(
    {"version", "nlu", "responses", "stories", "rules"}
    | {"intents", "entities", "slots", "actions", "forms", "session_config", "e2e_actions"}
)
_ITEM_KEYS = {
    "intent": ("intent", "examples", "metadata"),
    "synonym": ("synonym", "examples"),
    "regex": ("regex", "examples"),
    "lookup": ("lookup", "examples"),
}
# Characters YAML does not allow in a stream (checked here to report them by line).
_NOT_PRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)


def read(text: str, path: str) -> TrainingData | None:
    """The NLU data of a YAML file, or None when it has no ``nlu:`` key (stories, domain...)."""
    root = _compose(text, path)
    if not isinstance(root, MappingNode):
        return None
    top = _fields(root, path)
    if "nlu" not in top:
        return None
    for name, (key, _) in top.items():
        if name not in _TOP_LEVEL_KEYS:
            raise TrainingDataError(path, _line(key), f"unknown top-level key {name!r}")
    nlu = top["nlu"][1]
    data = TrainingData()
    if _is_null(nlu):
        return data
    if not isinstance(nlu, SequenceNode):
        raise TrainingDataError(path, _line(nlu), "`nlu` must be a list of items")
    for item in nlu.value:
        _read_item(item, path, data)
    return data


def _compose(text: str, path: str) -> Node | None:
    bad = _NOT_PRINTABLE.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        message = f"invalid YAML: character {bad.group()!r} is not allowed"
        raise TrainingDataError(path, line, message)
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        problem = e.problem or e.context or "syntax error"
        # libyaml may place an error at the end of the stream, past the last line.
        line = min(mark.line + 1, text.count("\n") + 1) if mark else None
        raise TrainingDataError(path, line, f"invalid YAML: {problem}") from None
    except yaml.YAMLError as e:
        raise TrainingDataError(path, None, f"invalid YAML: {e}") from None
    except RecursionError:
        raise TrainingDataError(path, None, "invalid YAML: nested too deeply") from None
    if root is not None:
        _check_expansion(root, path)
    return root


def _check_expansion(root: Node, path: str) -> None:
    """Refuse node trees that reading would never finish or run out of stack on, once aliases
    are expanded: an alias inside its own anchor, nesting deeper than :data:`MAX_DEPTH`, or
    more than :data:`MAX_NODES` nodes ("billion laughs")."""
    sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (nodes, height) once visited
    open_nodes: set[int] = set()  # the current path from the root
    stack: list[tuple[Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, finished = stack.pop()
        key = id(node)
        children = _children(node)
        if finished:
            open_nodes.discard(key)
            counts = [sizes[id(child)] for child in children]
            sizes[key] = (1 + sum(n for n, _ in counts), 1 + max((h for _, h in counts), default=0))
            if sizes[key][0] > MAX_NODES:
                message = f"invalid YAML: more than {MAX_NODES} values once aliases are expanded"
                raise TrainingDataError(path, _line(node), message)
            continue
        if key in open_nodes:
            raise TrainingDataError(path, _line(node), "invalid YAML: an alias refers to a collection that contains it")
        height = sizes[key][1] if key in sizes else 1
        if depth + height - 1 > MAX_DEPTH:
            raise TrainingDataError(path, _line(node), f"invalid YAML: nested deeper than {MAX_DEPTH} levels")
        if key in sizes:
            continue
        open_nodes.add(key)
        stack.append((node, depth, True))
        stack.extend((child, depth + 1, False) for child in children)


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return list(node.value) if isinstance(node, SequenceNode) else []


def _read_item(item: Node, path: str, data: TrainingData) -> None:
    """One entry of the ``nlu:`` list: an intent, synonym, regex or lookup."""
    if isinstance(item, ScalarNode):
        raise TrainingDataError(path, _line(item), "example under no intent")
    if not isinstance(item, MappingNode):
        raise TrainingDataError(path, _line(item), "an `nlu` item must be a mapping")
    fields = _fields(item, path)
    kind = next((name for name in fields if name in _ITEM_KEYS), None)
    allowed = _ITEM_KEYS[kind] if kind else ("examples", "metadata")
    for name, (key, _) in fields.items():
        if name not in allowed:
            where = f" in a `{kind}:` item" if kind else ""
            raise TrainingDataError(path, _line(key), f"unknown key {name!r}{where}")
    if kind is None:
        if "examples" in fields:
            raise TrainingDataError(path, _line(fields["examples"][0]), "example under no intent")
        message = "an `nlu` item needs one of: " + ", ".join(_ITEM_KEYS)
        raise TrainingDataError(path, _line(item), message)

    key, name_node = fields[kind]
    name = _name(name_node, kind, path)
    if "examples" not in fields or _is_null(fields["examples"][1]):
        raise TrainingDataError(path, _line(key), f"{kind} {name!r} has no examples")
    examples = fields["examples"][1]
    if kind == "intent":
        _read_intent_examples(name, examples, path, data)
        return
    if not isinstance(examples, ScalarNode):
        raise TrainingDataError(path, _line(examples), "`examples` must be a block of '- ' lines")
    values = _block_examples(examples, path)
    if not values:
        raise TrainingDataError(path, _line(key), f"{kind} {name!r} has no examples")
    for line, value in values:
        if kind == "synonym":
            data.synonyms[value.lower()] = name
        elif kind == "regex":
            check_regex(value, path, line)
            data.regexes.append((name, value))
        else:
            data.lookups.setdefault(name, []).append(value)


def _read_intent_examples(intent: str, node: Node, path: str, data: TrainingData) -> None:
    """``examples`` of an intent: a block of ``- `` lines or a list of ``{text, metadata}``."""
    if isinstance(node, ScalarNode):
        texts = _block_examples(node, path)
    elif isinstance(node, SequenceNode):
        texts = [_text_entry(entry, path) for entry in node.value]
    else:
        raise TrainingDataError(
            path,
            _line(node),
            "`examples` must be a block of '- ' lines or a list of `text:` entries",
        )
    if not texts:
        raise TrainingDataError(path, _line(node), f"intent {intent!r} has no examples")
    for line, markup in texts:
        text, entities = parse_annotated(markup, path, line)
        add_entity_synonyms(text, entities, data.synonyms)
        data.examples.append(Example(text, intent, entities, f"{path}:{line}"))


def _block_examples(node: ScalarNode, path: str) -> list[tuple[int, str]]:
    """``(line, example)`` for each ``- example`` line of a block string.

    Only a literal block (``|``) keeps the source's line breaks, so in any other style every
    example is reported at the scalar's first line.
    """
    if node.style == "|":
        first, step = node.start_mark.line + 2, 1
    else:
        first, step = node.start_mark.line + (2 if node.style == ">" else 1), 0
    examples = []
    for index, raw in enumerate(node.value.splitlines()):
        line = first + index * step
        if not raw.strip():
            continue
        if not raw.startswith("-"):
            raise TrainingDataError(path, line, f"example line must start with '- ': {raw!r}")
        example = raw[1:].strip("\n\r ")
        if not example:
            raise TrainingDataError(path, line, "empty example")
        examples.append((line, example))
    return examples


def _text_entry(entry: Node, path: str) -> tuple[int, str]:
    """``(line, text)`` of one ``{text: ..., metadata: ...}`` entry."""
    if not isinstance(entry, MappingNode):
        message = "an entry of `examples` must be a mapping with `text`"
        raise TrainingDataError(path, _line(entry), message)
    fields = _fields(entry, path)
    for name, (key, _) in fields.items():
        if name not in ("text", "metadata"):
            raise TrainingDataError(path, _line(key), f"unknown key {name!r} in an example")
    if "text" not in fields:
        raise TrainingDataError(path, _line(entry), "example without `text`")
    node = fields["text"][1]
    if not isinstance(node, ScalarNode) or _is_null(node):
        raise TrainingDataError(path, _line(node), "`text` must be a string")
    line = node.start_mark.line + (2 if node.style in ("|", ">") else 1)
    text = node.value.strip("\n\r ")
    if not text:
        raise TrainingDataError(path, line, "empty example")
    return line, text


def _fields(node: MappingNode, path: str) -> dict[str, tuple[Node, Node]]:
    """A mapping's entries by key text, as ``(key node, value node)``."""
    fields: dict[str, tuple[Node, Node]] = {}
    for key, value in node.value:
        if not isinstance(key, ScalarNode):
            raise TrainingDataError(path, _line(key), "a key must be a plain string")
        if key.value in fields:
            raise TrainingDataError(path, _line(key), f"duplicate key {key.value!r}")
        fields[key.value] = (key, value)
    return fields


def _name(node: Node, kind: str, path: str) -> str:
    if not isinstance(node, ScalarNode) or _is_null(node) or not node.value.strip():
        raise TrainingDataError(path, _line(node), f"`{kind}` needs a name")
    return node.value


def _is_null(node: Node) -> bool:
    return node.tag == _NULL_TAG


def _line(node: Node) -> int:
    return node.start_mark.line + 1
