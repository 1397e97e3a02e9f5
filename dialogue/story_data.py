"""Rasa 3.x stories and rules (``stories:`` / ``rules:`` YAML), test stories included.

Every story, rule and step keeps the line it was written on; a bad file raises
``StoryDataError`` naming the file and line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from dialogue.yaml_lines import (
    YAML_SUFFIXES,
    Source,
    errors_as,
    fields,
    is_null,
    line,
    read_yaml,
    value,
    yaml_files,
)
from nlu.readers.annotations import parse_annotated
from nlu.readers.errors import TrainingDataError
from nlu.readers.rasa_yaml import _TOP_LEVEL_KEYS


class StoryDataError(TrainingDataError):
    """A problem in a stories or rules file, located by ``path`` and 1-based ``line``."""


class _AnyValue:
    def __repr__(self) -> str:
        return "ANY_VALUE"


# The value of a slot named without a value in ``slot_was_set``: set to anything but None.
ANY_VALUE: Any = _AnyValue()


@dataclass
class UserStep:
    """A user turn. ``user`` is the text of an end-to-end or test story, with entity markup
    removed; ``entities`` are ``{"entity", "value"?, "role"?, "group"?}`` dicts (plus
    ``start``/``end`` when they come from markup in ``user``)."""

    intent: str | None
    entities: list[dict] = field(default_factory=list)
    user: str | None = None
    line: int | None = field(default=None, compare=False)


@dataclass
class ActionStep:
    name: str
    line: int | None = field(default=None, compare=False)


@dataclass
class BotStep:
    """An end-to-end bot utterance (``- bot: text``)."""

    text: str
    line: int | None = field(default=None, compare=False)


@dataclass
class ActiveLoopStep:
    """A loop (form) becoming active, or ``name`` None: no loop active."""

    name: str | None
    line: int | None = field(default=None, compare=False)


@dataclass
class SlotWasSetStep:
    """Slots set to values; a value of ``ANY_VALUE`` means "set to something"."""

    slots: dict[str, Any]
    line: int | None = field(default=None, compare=False)


@dataclass
class OrStep:
    """Any one of the alternatives (user turns or slot events) continues the story."""

    alternatives: list[Union[UserStep, SlotWasSetStep]]
    line: int | None = field(default=None, compare=False)


@dataclass
class CheckpointStep:
    """A checkpoint joining story parts; ``slots`` are conditions for entering there."""

    name: str
    slots: dict[str, Any] = field(default_factory=dict)
    line: int | None = field(default=None, compare=False)


Step = Union[UserStep, ActionStep, BotStep, ActiveLoopStep, SlotWasSetStep, OrStep, CheckpointStep]


@dataclass
class Story:
    name: str
    steps: list[Step]
    source: Source


@dataclass
class Rule:
    """A rule; ``condition`` holds ``ActiveLoopStep``s and ``SlotWasSetStep``s that must be
    true before it applies."""

    name: str
    steps: list[Step]
    condition: list[Union[ActiveLoopStep, SlotWasSetStep]]
    conversation_start: bool
    wait_for_user_input: bool
    source: Source


@dataclass
class StoryData:
    stories: list[Story] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)

    def merge(self, other: StoryData) -> StoryData:
        return StoryData(self.stories + other.stories, self.rules + other.rules)


def load_story_data(path: str | Path) -> StoryData:
    """Read a stories/rules file, or every such YAML file under a directory (sorted order).

    In a directory, hidden files and folders, other file types and YAML files without
    ``stories:`` or ``rules:`` are skipped. A file named explicitly must hold one of them.
    """
    path = Path(path)
    with errors_as(StoryDataError):
        if path.is_dir():
            data = StoryData()
            for file in yaml_files(path):
                data = data.merge(read_story_file(file) or StoryData())
            return data
        if not path.exists():
            raise StoryDataError(str(path), None, "no such file or directory")
        if path.suffix.lower() not in YAML_SUFFIXES:
            raise StoryDataError(str(path), None, "unsupported file type (expected .yml, .yaml)")
        data = read_story_file(path)
        if data is None:
            raise StoryDataError(str(path), None, "no `stories:` or `rules:` section")
        return data


def read_story_file(path: str | Path) -> StoryData | None:
    """The stories and rules of one YAML file, or None when it has neither."""
    path = Path(path)
    with errors_as(StoryDataError):
        return _Reader(path).read(read_yaml(path))


# Which step kinds each part of a file may hold, and the keys of each kind.
_STEP_KEYS = {
    "user": ("intent", "user", "entities"),
    "or": ("or",),
    "action": ("action",),
    "bot": ("bot",),
    "checkpoint": ("checkpoint", "slot_was_set"),
    "slot_was_set": ("slot_was_set",),
    "active_loop": ("active_loop",),
}
_STORY_STEPS = tuple(_STEP_KEYS)
_RULE_STEPS = ("user", "or", "action", "slot_was_set", "active_loop")
_CONDITION_STEPS = ("slot_was_set", "active_loop")
_OR_STEPS = ("user", "slot_was_set")


class _Reader:
    """Reads one file; every error carries its path and the offending node's line."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def fail(self, node: Node, message: str) -> StoryDataError:
        return StoryDataError(self.path, line(node), message)

    def mapping(self, node: Node, what: str) -> dict[str, tuple[Node, Node]]:
        if not isinstance(node, MappingNode):
            raise self.fail(node, f"{what} must be a mapping")
        return fields(node, self.path)

    def sequence(self, node: Node, what: str) -> list[Node]:
        if is_null(node):
            return []
        if not isinstance(node, SequenceNode):
            raise self.fail(node, f"{what} must be a list")
        return node.value

    def text(self, node: Node, what: str) -> str:
        found = value(node, self.path) if isinstance(node, ScalarNode) else None
        if not isinstance(found, str) or not found.strip():
            raise self.fail(node, f"{what} must be a non-empty string")
        return found

    def only(self, entries: dict[str, tuple[Node, Node]], allowed, where: str) -> None:
        for name, (key, _) in entries.items():
            if name not in allowed:
                raise self.fail(key, f"unknown key {name!r} {where} (expected one of: {', '.join(allowed)})")

    def read(self, root: Node | None) -> StoryData | None:
        if not isinstance(root, MappingNode):
            return None
        top = fields(root, self.path)
        if "stories" not in top and "rules" not in top:
            return None
        for name, (key, _) in top.items():
            if name not in _TOP_LEVEL_KEYS:
                raise self.fail(key, f"unknown top-level key {name!r}")
        if "version" in top:
            self.text(top["version"][1], '`version` (quote it: "3.1")')
        data = StoryData()
        if "stories" in top:
            data.stories = [self.story(item) for item in self.sequence(top["stories"][1], "`stories`")]
        if "rules" in top:
            data.rules = [self.rule(item) for item in self.sequence(top["rules"][1], "`rules`")]
        return data

    def story(self, node: Node) -> Story:
        entries = self.mapping(node, "a story")
        self.only(entries, ("story", "steps", "metadata"), "in a story")
        name = self.named(node, entries, "story")
        return Story(name, self.steps(node, entries, "story", name, _STORY_STEPS), Source(self.path, line(node)))

    def rule(self, node: Node) -> Rule:
        entries = self.mapping(node, "a rule")
        allowed = ("rule", "steps", "condition", "conversation_start", "wait_for_user_input", "metadata")
        self.only(entries, allowed, "in a rule")
        name = self.named(node, entries, "rule")
        steps = self.steps(node, entries, "rule", name, _RULE_STEPS)
        condition = [
            self.step(item, _CONDITION_STEPS, "a rule condition")
            for item in self.sequence(entries["condition"][1], "`condition`")
        ] if "condition" in entries else []
        flags = {}
        for key, default in (("conversation_start", False), ("wait_for_user_input", True)):
            flags[key] = default
            if key in entries:
                flags[key] = value(entries[key][1], self.path)
                if not isinstance(flags[key], bool):
                    raise self.fail(entries[key][1], f"`{key}` must be true or false")
        source = Source(self.path, line(node))
        return Rule(name, steps, condition, flags["conversation_start"], flags["wait_for_user_input"], source)

    def named(self, node: Node, entries: dict, kind: str) -> str:
        if kind not in entries:
            raise self.fail(node, f"a {kind} needs a name (`{kind}:`)")
        return self.text(entries[kind][1], f"the {kind} name")

    def steps(self, node: Node, entries: dict, kind: str, name: str, kinds: tuple[str, ...]) -> list[Step]:
        items = self.sequence(entries["steps"][1], "`steps`") if "steps" in entries else []
        if not items:
            raise self.fail(node, f"{kind} {name!r} has no steps")
        return [self.step(item, kinds, f"a {kind}") for item in items]

    def step(self, node: Node, kinds: tuple[str, ...], where: str) -> Step:
        entries = self.mapping(node, "a step")
        if not entries:
            raise self.fail(node, "empty step")
        if "intent" in entries or "user" in entries:
            kind = "user"
        else:
            kind = next((k for k in _STEP_KEYS if k in entries), None)
            if kind is None:
                key = next(iter(entries.values()))[0]
                expected = ", ".join(sorted({key for k in kinds for key in _STEP_KEYS[k]}))
                raise self.fail(key, f"unknown step key {key.value!r} (expected one of: {expected})")
        if kind not in kinds:
            raise self.fail(node, f"`{kind}` steps are not allowed in {where}")
        self.only(entries, _STEP_KEYS[kind], f"in a `{kind}` step")
        at = line(node)
        if kind == "user":
            return self.user_step(entries, at)
        if kind == "action":
            return ActionStep(self.text(entries["action"][1], "`action`"), at)
        if kind == "bot":
            return BotStep(self.text(entries["bot"][1], "`bot`"), at)
        if kind == "active_loop":
            loop = entries["active_loop"][1]
            return ActiveLoopStep(None if is_null(loop) else self.text(loop, "`active_loop`"), at)
        if kind == "slot_was_set":
            return SlotWasSetStep(self.slots(entries["slot_was_set"][1]), at)
        if kind == "checkpoint":
            slots = self.slots(entries["slot_was_set"][1]) if "slot_was_set" in entries else {}
            return CheckpointStep(self.text(entries["checkpoint"][1], "`checkpoint`"), slots, at)
        alternatives = [self.step(item, _OR_STEPS, "an `or` step") for item in self.sequence(entries["or"][1], "`or`")]
        if not alternatives:
            raise self.fail(node, "`or` needs at least one alternative")
        return OrStep(alternatives, at)

    def user_step(self, entries: dict, at: int) -> UserStep:
        intent = None
        if "intent" in entries:
            intent = self.text(entries["intent"][1], "`intent`").strip().removeprefix("/")
        if "user" not in entries:
            items = self.sequence(entries["entities"][1], "`entities`") if "entities" in entries else []
            return UserStep(intent, [self.entity(item) for item in items], None, at)
        if "entities" in entries:
            raise self.fail(entries["entities"][0], "with `user:` text, mark entities up in the text instead")
        node = entries["user"][1]
        markup = self.text(node, "`user`").strip()
        text_line = line(node) + (1 if node.style in ("|", ">") else 0)
        text, found = parse_annotated(markup, self.path, text_line)
        return UserStep(intent, [entity.as_dict() for entity in found], text, at)

    def entity(self, node: Node) -> dict:
        """``- name``, or ``- name: value`` with optional ``role:`` and ``group:`` beside it."""
        if isinstance(node, ScalarNode):
            return {"entity": self.text(node, "an entity")}
        entries = self.mapping(node, "an entity")
        names = [name for name in entries if name not in ("role", "group")]
        if len(names) != 1:
            raise self.fail(node, "an entity item is `- name: value`, with optional `role:` and `group:`")
        found = {"entity": names[0], "value": value(entries[names[0]][1], self.path)}
        for key in ("role", "group"):
            if key in entries:
                found[key] = self.text(entries[key][1], f"`{key}`")
        return found

    def slots(self, node: Node) -> dict[str, Any]:
        slots: dict[str, Any] = {}
        for item in self.sequence(node, "`slot_was_set`"):
            if isinstance(item, ScalarNode):
                slots[self.text(item, "a slot name")] = ANY_VALUE
            else:
                for name, (_, slot_value) in self.mapping(item, "a `slot_was_set` item").items():
                    slots[name] = value(slot_value, self.path)
        if not slots:
            raise self.fail(node, "`slot_was_set` needs at least one slot")
        return slots
