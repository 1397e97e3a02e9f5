"""The assistant's domain: a Rasa 3.x ``domain.yml`` file or a ``domain/`` directory of them.

``Domain.load`` checks every section and reports the first problem as a ``DomainError`` that
names the file and line. Files of a directory are merged as Rasa merges them: lists of names
are united, and for slots, responses and forms the first file read (in sorted path order)
wins a name defined twice.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from dialogue.yaml_lines import Source, errors_as, fields, is_null, line, read_yaml, value, yaml_files
from nlu.readers.errors import TrainingDataError

DEFAULT_ACTIONS = (
    "action_listen",
    "action_restart",
    "action_session_start",
    "action_default_fallback",
    "action_deactivate_loop",
    "action_revert_fallback_events",
    "action_default_ask_affirmation",
    "action_default_ask_rephrase",
    "action_two_stage_fallback",
    "action_unlikely_intent",
    "action_back",
    "action_extract_slots",
)
DEFAULT_INTENTS = ("restart", "back", "out_of_scope", "session_start", "nlu_fallback")
SLOT_TYPES = ("text", "bool", "categorical", "float", "list", "any")
MAPPING_TYPES = ("from_entity", "from_text", "from_intent", "from_trigger_intent", "custom")
REQUESTED_SLOT = "requested_slot"
SESSION_STARTED_METADATA = "session_started_metadata"
KNOWLEDGE_BASE_ACTION = "action_query_knowledge_base"
KNOWLEDGE_BASE_SLOTS = (
    "knowledge_base_listed_objects",
    "knowledge_base_last_object",
    "knowledge_base_last_object_type",
)
LATEST_VERSION = "3.1"
# Joins an entity and its role or group into one label, as Rasa does ("city#departure").
ENTITY_LABEL_SEPARATOR = "#"

_SECTIONS = (
    "version",
    "intents",
    "entities",
    "slots",
    "responses",
    "actions",
    "forms",
    "e2e_actions",
    "session_config",
    "config",
)
_SLOT_KEYS = ("type", "influence_conversation", "initial_value", "values", "min_value", "max_value", "mappings")
_MAPPING_KEYS = ("type", "entity", "role", "group", "intent", "not_intent", "value", "action", "conditions")
_PLURALS = {"intent": "intents", "entity": "entities", "action": "actions"}
_SESSION_DEFAULT = {"session_expiration_time": 60, "carry_over_slots_to_new_session": True}
_TRUE = frozenset({"true", "yes", "y", "on", "1"})
_FALSE = frozenset({"false", "no", "n", "off", "0"})


class DomainError(TrainingDataError):
    """A problem in a domain file, located by ``path`` and 1-based ``line`` (or None)."""


@dataclass(frozen=True)
class Intent:
    """An intent and which entities the dialogue sees with it.

    ``use_entities`` is True (all entities) or a list of names; ``ignore_entities`` is None
    when the domain does not say, so that entities declared with
    ``influence_conversation: false`` are left out.
    """

    name: str
    use_entities: bool | list[str] = True
    ignore_entities: list[str] | None = None


@dataclass(frozen=True)
class Slot:
    """A slot declaration; ``mappings`` are the domain's dicts with ``intent`` and
    ``not_intent`` always lists."""

    name: str
    type: str
    mappings: list[dict] = field(default_factory=list)
    initial_value: Any = None
    influence_conversation: bool = True
    values: list | None = None
    min_value: float = 0.0
    max_value: float = 1.0

    def coerce(self, value: Any) -> Any:
        """The value in this slot's type, or None when it does not fit.

        Booleans accept true/false, yes/no, on/off, 1/0; floats are clamped to
        ``[min_value, max_value]`` as Rasa's featurization clamps them; categorical values
        match case-insensitively and come back as the domain spells them; a list slot wraps a
        single value.
        """
        if value is None or self.type == "any":
            return value
        if self.type == "text":
            return str(value) if isinstance(value, (str, int, float)) else None
        if self.type == "bool":
            return _to_bool(value)
        if self.type == "float":
            number = _to_float(value)
            return None if number is None else max(self.min_value, min(self.max_value, number))
        if self.type == "categorical":
            wanted = str(value).casefold()
            return next((v for v in self.values or () if str(v).casefold() == wanted), None)
        return value if isinstance(value, list) else [value]


@dataclass(frozen=True)
class Form:
    name: str
    required_slots: list[str] = field(default_factory=list)
    ignored_intents: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SessionConfig:
    """``session_expiration_time`` is in minutes; 0 means sessions never expire."""

    session_expiration_time: float = 60
    carry_over_slots_to_new_session: bool = True


class Domain:
    """Everything the dialogue may use: intents, entities, slots, forms, responses, actions."""

    def __init__(self, data: dict, sources: dict[tuple, Source] | None = None) -> None:
        """Build from a checked, Rasa-shaped domain dict; ``Domain.load`` is the way in."""
        self._data = data
        self._sources = sources or {}
        self.version: str = data.get("version") or LATEST_VERSION

        entities = data.get("entities") or []
        self.entities: list[str] = sorted(_name_of(e) for e in entities)
        self.roles: dict[str, list[str]] = {}
        self.groups: dict[str, list[str]] = {}
        self._ignored_by_default: set[str] = set()
        for entity in entities:
            props = entity[_name_of(entity)] if isinstance(entity, dict) else {}
            if props.get("roles"):
                self.roles[_name_of(entity)] = list(props["roles"])
            if props.get("groups"):
                self.groups[_name_of(entity)] = list(props["groups"])
            if props.get("influence_conversation") is False:
                self._ignored_by_default.add(_name_of(entity))

        self.intent_properties: dict[str, Intent] = {}
        for intent in data.get("intents") or []:
            name = _name_of(intent)
            props = intent[name] if isinstance(intent, dict) else {}
            use = props.get("use_entities", True)
            self.intent_properties[name] = Intent(
                name,
                use if use is True else list(use or []),
                None if props.get("ignore_entities") is None else list(props["ignore_entities"]),
            )
        for name in DEFAULT_INTENTS:
            self.intent_properties.setdefault(name, Intent(name))
        self.intents: list[str] = sorted(self.intent_properties)

        self.actions: list[str] = [_name_of(a) for a in data.get("actions") or []]
        self.e2e_actions: list[str] = list(data.get("e2e_actions") or [])
        self.responses: dict[str, list[dict]] = dict(data.get("responses") or {})
        self.forms: dict[str, Form] = {
            name: Form(
                name,
                list((spec or {}).get("required_slots") or []),
                _as_list((spec or {}).get("ignored_intents")),
            )
            for name, spec in (data.get("forms") or {}).items()
        }
        self.slots: dict[str, Slot] = {
            name: _slot(name, spec) for name, spec in (data.get("slots") or {}).items()
        }
        self._add_default_slots()

        session = data.get("session_config") or {}
        expiration = session.get("session_expiration_time")
        self.session_config = SessionConfig(
            60 if expiration is None else expiration,
            session.get("carry_over_slots_to_new_session", True),
        )
        self.store_entities_as_slots: bool = (data.get("config") or {}).get(
            "store_entities_as_slots", True
        )
        self._check_form_slots()

    @classmethod
    def load(cls, path: str | Path) -> Domain:
        """Read a domain file, or merge every domain file under a directory."""
        path = Path(path)
        with errors_as(DomainError):
            if not path.is_dir():
                return cls(*_read_file(path, in_directory=False))
            data, sources = {}, {}
            for file in yaml_files(path):
                read = _read_file(file, in_directory=True)
                if read is None:
                    continue
                part, part_sources = read
                data = _merge(data, part)
                for key, source in part_sources.items():
                    sources.setdefault(key, source)
            return cls(data, sources)

    @property
    def action_names(self) -> list[str]:
        """Every action the dialogue can run: Rasa's defaults, custom actions, ``utter_``
        responses, then forms."""
        names = list(DEFAULT_ACTIONS)
        names += [a for a in self.actions if a not in DEFAULT_ACTIONS]
        known = set(names)
        names += [r for r in sorted(self.responses) if r.startswith("utter_") and r not in known]
        names += [f for f in self.forms if f not in known]
        return names

    def used_entities(self, intent: str) -> set[str]:
        """Entity labels (``entity`` and ``entity#role``/``entity#group``) the dialogue sees
        after ``intent``; an intent outside the domain sees them all."""
        everything = set(self.entities) | set(self._labels(self.entities))
        props = self.intent_properties.get(intent)
        if props is None:
            return everything
        if props.use_entities is True:
            included = (set(self.entities) - self._ignored_by_default) | set(self._labels(self.entities))
        else:
            included = set(props.use_entities) | set(self._labels(props.use_entities))
        ignored = self._ignored_by_default if props.ignore_entities is None else props.ignore_entities
        excluded = set(ignored) | set(self._labels(ignored))
        return included - excluded

    def _labels(self, entities) -> list[str]:
        return [
            f"{entity}{ENTITY_LABEL_SEPARATOR}{label}"
            for entity in entities
            for label in self.roles.get(entity, []) + self.groups.get(entity, [])
        ]

    def as_dict(self) -> dict:
        """The domain as Rasa serialises it (e.g. for an action server): the sections as
        written, empty ones dropped, intents sorted, ``session_config`` and ``version``
        added when missing."""
        data = {k: copy.deepcopy(v) for k, v in self._data.items() if v not in ({}, [], None)}
        if data.get("intents"):
            for intent in data["intents"]:
                if isinstance(intent, dict):
                    props = intent[_name_of(intent)]
                    for key in ("use_entities", "ignore_entities"):
                        if key in props and not props[key]:
                            props[key] = []
            data["intents"] = sorted(data["intents"], key=_name_of)
        data.setdefault("session_config", dict(_SESSION_DEFAULT))
        data.setdefault("version", LATEST_VERSION)
        return data

    def fingerprint(self) -> str:
        """A hash that changes exactly when the domain's content does (Rasa's recipe)."""
        data = self.as_dict()
        data["intents"] = sorted(_name_of(i) for i in data.get("intents", []))
        data["actions"] = self.action_names
        text = json.dumps(data, sort_keys=True)
        return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()

    def source(self, *key: Any) -> Source | None:
        """Where a part of the domain was written, e.g. ``source("slot", "email")``.

        Keys: ``("intent"|"entity"|"slot"|"response"|"action"|"form", name)``,
        ``("mapping", slot, index)``, ``("required_slot", form, index)``.
        """
        return self._sources.get(key)

    def _add_default_slots(self) -> None:
        """The slots Rasa adds: ``requested_slot`` for forms, knowledge-base slots, session
        metadata."""
        if self.forms and REQUESTED_SLOT not in self.slots:
            self.slots[REQUESTED_SLOT] = Slot(REQUESTED_SLOT, "text", influence_conversation=False)
        if KNOWLEDGE_BASE_ACTION in self.actions:
            for name in KNOWLEDGE_BASE_SLOTS:
                self.slots.setdefault(name, Slot(name, "text", influence_conversation=False))
        self.slots.setdefault(
            SESSION_STARTED_METADATA, Slot(SESSION_STARTED_METADATA, "any", influence_conversation=False)
        )

    def _check_form_slots(self) -> None:
        for form in self.forms.values():
            for index, slot in enumerate(form.required_slots):
                if slot not in self.slots:
                    where = self.source("required_slot", form.name, index)
                    raise DomainError(
                        where.path if where else "domain",
                        where.line if where else None,
                        f"form {form.name!r} requires slot {slot!r}, which is not declared under `slots`",
                    )


def _name_of(item: str | dict) -> str:
    return next(iter(item)) if isinstance(item, dict) else item


def _as_list(item: str | list | None) -> list:
    if item is None:
        return []
    return [item] if isinstance(item, str) else list(item)


def _slot(name: str, spec: dict) -> Slot:
    mappings = []
    for mapping in spec.get("mappings") or []:
        mapping = dict(mapping)
        for key in ("intent", "not_intent"):
            if key in mapping:
                if mapping[key] is None:
                    del mapping[key]
                else:
                    mapping[key] = _as_list(mapping[key])
        mappings.append(mapping)
    slot_type = spec["type"]
    return Slot(
        name,
        slot_type,
        mappings,
        spec.get("initial_value"),
        spec.get("influence_conversation", slot_type != "any"),
        list(spec["values"]) if slot_type == "categorical" else None,
        float(spec.get("min_value", 0.0)),
        float(spec.get("max_value", 1.0)),
    )


def _to_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return {1: True, 0: False}.get(value)
    if isinstance(value, str):
        text = value.strip().lower()
        return True if text in _TRUE else False if text in _FALSE else None
    return None


def _to_float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return None if math.isnan(number) else number


def _merge(combined: dict, new: dict) -> dict:
    """Rasa's merge of one more domain file into those read before it."""
    if not combined:
        return new
    session = combined.get("session_config")
    if session in (None, _SESSION_DEFAULT) and new.get("session_config") not in (None, _SESSION_DEFAULT):
        combined["session_config"] = new["session_config"]
    forms = combined.get("forms") or {}
    new_actions = [a for a in new.get("actions") or [] if _name_of(a) not in forms]
    for key, items in (("intents", new.get("intents")), ("entities", new.get("entities")), ("actions", new_actions)):
        merged = {_name_of(i): i for i in items or []}
        merged.update({_name_of(i): i for i in combined.get(key) or []})
        combined[key] = list(merged.values())
    combined["e2e_actions"] = sorted(set(combined.get("e2e_actions") or []) | set(new.get("e2e_actions") or []))
    for key in ("forms", "responses", "slots"):
        combined[key] = {**(new.get(key) or {}), **(combined.get(key) or {})}
    return combined


# -- reading and checking one file ------------------------------------------------------------


class _File:
    """One domain file being read: raises errors at its lines, records where things are."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self.sources: dict[tuple, Source] = {}

    def fail(self, node: Node, message: str) -> DomainError:
        return DomainError(self.path, line(node), message)

    def note(self, node: Node, *key: Any) -> None:
        self.sources[key] = Source(self.path, line(node))

    def mapping(self, node: Node, what: str) -> dict[str, tuple[Node, Node]]:
        if is_null(node):
            return {}
        if not isinstance(node, MappingNode):
            raise self.fail(node, f"{what} must be a mapping")
        return fields(node, self.path)

    def sequence(self, node: Node, what: str) -> list[Node]:
        if is_null(node):
            return []
        if not isinstance(node, SequenceNode):
            raise self.fail(node, f"{what} must be a list")
        return node.value

    def text(self, node: Node, what: str, *, empty: bool = False) -> str:
        found = value(node, self.path) if isinstance(node, ScalarNode) else None
        if not isinstance(found, str) or not (empty or found.strip()):
            raise self.fail(node, f"{what} must be a {'' if empty else 'non-empty '}string")
        return found

    def texts(self, node: Node, what: str) -> list[str]:
        return [self.text(item, f"each of {what}") for item in self.sequence(node, what)]

    def flag(self, node: Node, what: str) -> bool:
        found = value(node, self.path)
        if not isinstance(found, bool):
            raise self.fail(node, f"{what} must be true or false")
        return found

    def number(self, node: Node, what: str) -> float:
        found = value(node, self.path)
        if isinstance(found, bool) or not isinstance(found, (int, float)):
            raise self.fail(node, f"{what} must be a number")
        return found

    def only(self, entries: dict[str, tuple[Node, Node]], allowed, where: str) -> None:
        for name, (key, _) in entries.items():
            if name not in allowed:
                raise self.fail(key, f"unknown key {name!r} {where} (expected one of: {', '.join(allowed)})")


def _read_file(path: Path, *, in_directory: bool) -> tuple[dict, dict[tuple, Source]] | None:
    """A domain file's sections as Python values, each checked, and where things are.

    In a directory, a file with no domain section (NLU data, stories, config) is None.
    """
    file = _File(path)
    root = read_yaml(path)
    if root is None or is_null(root):
        return None if in_directory else ({}, {})
    if not isinstance(root, MappingNode):
        if in_directory:
            return None
        raise file.fail(root, "a domain file must be a mapping of sections")
    top = fields(root, file.path)
    if in_directory and not any(key in top for key in _SECTIONS if key != "version"):
        return None
    file.only(top, _SECTIONS, "at the top level")
    data = {}
    for name, (_, node) in top.items():
        _READERS[name](file, node)
        data[name] = value(node, file.path)
    return data, file.sources


def _read_version(file: _File, node: Node) -> None:
    file.text(node, '`version` (quote it: "3.1")')


def _named_items(file: _File, node: Node, kind: str, check: Callable[[str, Node, Node], None]) -> None:
    """``- name`` or ``- name: {properties}`` items, names unique."""
    seen: set[str] = set()
    for item in file.sequence(node, f"`{_PLURALS[kind]}`"):
        if isinstance(item, MappingNode):
            entries = fields(item, file.path)
            if len(entries) != 1:
                raise file.fail(item, f"an {kind} with properties is `- name: {{properties}}`")
            ((name, (key, props)),) = entries.items()
            file.text(key, f"an {kind} name")
            if is_null(props) or (isinstance(props, MappingNode) and not props.value):
                raise file.fail(key, f"{kind} {name!r} has ':' but no properties (remove the ':')")
            check(name, key, props)
        else:
            name = file.text(item, f"an {kind} name")
        if name in seen:
            raise file.fail(item, f"duplicate {kind} {name!r}")
        seen.add(name)
        file.note(item, kind, name)


def _read_intents(file: _File, node: Node) -> None:
    def check(name: str, key: Node, props: Node) -> None:
        entries = file.mapping(props, f"properties of intent {name!r}")
        file.only(entries, ("use_entities", "ignore_entities"), f"in intent {name!r}")
        if "use_entities" in entries:
            use = entries["use_entities"][1]
            if not isinstance(value(use, file.path), bool):
                file.texts(use, "`use_entities` (true, false or a list of entities)")
        if "ignore_entities" in entries:
            file.texts(entries["ignore_entities"][1], "`ignore_entities`")

    _named_items(file, node, "intent", check)


def _read_entities(file: _File, node: Node) -> None:
    def check(name: str, key: Node, props: Node) -> None:
        entries = file.mapping(props, f"properties of entity {name!r}")
        file.only(entries, ("roles", "groups", "influence_conversation"), f"in entity {name!r}")
        for label in ("roles", "groups"):
            if label in entries:
                file.texts(entries[label][1], f"`{label}`")
        if "influence_conversation" in entries:
            file.flag(entries["influence_conversation"][1], "`influence_conversation`")

    _named_items(file, node, "entity", check)


def _read_slots(file: _File, node: Node) -> None:
    for name, (key, spec) in file.mapping(node, "`slots`").items():
        file.text(key, "a slot name")
        file.note(key, "slot", name)
        if not isinstance(spec, MappingNode):
            where = key if is_null(spec) else spec
            raise file.fail(where, f"slot {name!r} must be a mapping with `type` and `mappings`")
        entries = fields(spec, file.path)
        file.only(entries, _SLOT_KEYS, f"in slot {name!r}")
        for required in ("type", "mappings"):
            if required not in entries:
                raise file.fail(key, f"slot {name!r} has no `{required}`")
        slot_type = file.text(entries["type"][1], f"`type` of slot {name!r}")
        if slot_type not in SLOT_TYPES:
            raise file.fail(
                entries["type"][1],
                f"slot {name!r} has unknown type {slot_type!r} (expected one of: {', '.join(SLOT_TYPES)})",
            )
        if "influence_conversation" in entries:
            influence = file.flag(entries["influence_conversation"][1], "`influence_conversation`")
            if influence and slot_type == "any":
                message = f"slot {name!r} of type `any` cannot influence the conversation"
                raise file.fail(entries["influence_conversation"][1], message)
        _check_slot_type_keys(file, name, slot_type, entries)
        for index, mapping in enumerate(file.sequence(entries["mappings"][1], f"`mappings` of slot {name!r}")):
            _check_mapping(file, name, mapping)
            file.note(mapping, "mapping", name, index)
        if "initial_value" in entries:
            initial = value(entries["initial_value"][1], file.path)
            if initial is not None and _slot(name, value(spec, file.path)).coerce(initial) is None:
                message = f"`initial_value` {initial!r} does not fit slot {name!r} of type {slot_type}"
                raise file.fail(entries["initial_value"][1], message)


def _check_slot_type_keys(file: _File, name: str, slot_type: str, entries: dict) -> None:
    """``values`` belongs to categorical slots, ``min_value``/``max_value`` to float slots."""
    for key, owner in (("values", "categorical"), ("min_value", "float"), ("max_value", "float")):
        if key in entries and slot_type != owner:
            raise file.fail(entries[key][0], f"`{key}` is only for {owner} slots (slot {name!r} is {slot_type})")
    if slot_type == "categorical":
        if "values" not in entries or not file.sequence(entries["values"][1], "`values`"):
            raise file.fail(entries["type"][1], f"categorical slot {name!r} needs a non-empty `values` list")
        for item in entries["values"][1].value:
            if not isinstance(item, ScalarNode) or is_null(item):
                raise file.fail(item, f"each of `values` of slot {name!r} must be a plain value")
    if slot_type == "float":
        low = file.number(entries["min_value"][1], "`min_value`") if "min_value" in entries else 0.0
        high = file.number(entries["max_value"][1], "`max_value`") if "max_value" in entries else 1.0
        if low >= high:
            where = entries.get("max_value", entries.get("min_value"))[1]
            raise file.fail(where, f"slot {name!r}: `min_value` ({low}) must be below `max_value` ({high})")


def _check_mapping(file: _File, slot: str, node: Node) -> None:
    if not isinstance(node, MappingNode):
        raise file.fail(node, f"a mapping of slot {slot!r} must be a mapping with `type`")
    entries = fields(node, file.path)
    file.only(entries, _MAPPING_KEYS, f"in a mapping of slot {slot!r}")
    if "type" not in entries:
        raise file.fail(node, f"a mapping of slot {slot!r} has no `type`")
    kind = file.text(entries["type"][1], "mapping `type`")
    if kind not in MAPPING_TYPES:
        raise file.fail(
            entries["type"][1],
            f"slot {slot!r} has unknown mapping type {kind!r} (expected one of: {', '.join(MAPPING_TYPES)})",
        )
    if kind == "from_entity" and "entity" not in entries:
        raise file.fail(node, f"a `from_entity` mapping of slot {slot!r} needs `entity`")
    if kind in ("from_intent", "from_trigger_intent") and (
        "value" not in entries or is_null(entries["value"][1])
    ):
        raise file.fail(node, f"a `{kind}` mapping of slot {slot!r} needs `value`")
    for key in ("entity", "role", "group", "action"):
        if key in entries:
            file.text(entries[key][1], f"`{key}`")
    for key in ("intent", "not_intent"):
        if key in entries and not is_null(entries[key][1]):
            if isinstance(entries[key][1], ScalarNode):
                file.text(entries[key][1], f"`{key}`")
            else:
                file.texts(entries[key][1], f"`{key}`")
    for condition in file.sequence(entries["conditions"][1], "`conditions`") if "conditions" in entries else []:
        parts = file.mapping(condition, "a mapping condition")
        file.only(parts, ("active_loop", "requested_slot"), "in a mapping condition")
        if "active_loop" not in parts:
            raise file.fail(condition, "a mapping condition needs `active_loop`")
        for key, (_, part) in parts.items():
            if not is_null(part):
                file.text(part, f"`{key}`")


def _read_forms(file: _File, node: Node) -> None:
    for name, (key, spec) in file.mapping(node, "`forms`").items():
        file.text(key, "a form name")
        file.note(key, "form", name)
        entries = file.mapping(spec, f"form {name!r}")
        file.only(entries, ("required_slots", "ignored_intents"), f"in form {name!r}")
        if "ignored_intents" in entries:
            if "required_slots" not in entries:
                raise file.fail(key, f"form {name!r} has `ignored_intents` but no `required_slots`")
            ignored = entries["ignored_intents"][1]
            if isinstance(ignored, ScalarNode) and not is_null(ignored):
                file.text(ignored, "`ignored_intents`")
            else:
                file.texts(ignored, "`ignored_intents`")
        if "required_slots" in entries:
            required = entries["required_slots"][1]
            if isinstance(required, MappingNode):
                message = f"`required_slots` of form {name!r} must be a list of slot names"
                message += " (mappings belong under `slots`)"
                raise file.fail(required, message)
            file.texts(required, "`required_slots`")
            for index, item in enumerate(file.sequence(required, "`required_slots`")):
                file.note(item, "required_slot", name, index)


def _read_responses(file: _File, node: Node) -> None:
    for name, (key, variations) in file.mapping(node, "`responses`").items():
        file.text(key, "a response name")
        file.note(key, "response", name)
        items = file.sequence(variations, f"response {name!r}")
        if not items:
            raise file.fail(key, f"response {name!r} has no variations")
        for item in items:
            _check_variation(file, name, item)


def _check_variation(file: _File, name: str, node: Node) -> None:
    """One variation; keys Desk does not use are kept, as Rasa keeps them for custom channels."""
    entries = file.mapping(node, f"a variation of response {name!r}")
    text = entries.get("text")
    if (text is None or is_null(text[1])) and "custom" not in entries:
        raise file.fail(node, f"a variation of response {name!r} needs `text` or `custom`")
    for key in ("text", "image", "channel", "id"):
        if key in entries:
            file.text(entries[key][1], f"`{key}` of response {name!r}", empty=key == "text")
    for key in ("buttons", "quick_replies"):
        for button in file.sequence(entries[key][1], f"`{key}`") if key in entries else []:
            for part, (_, part_node) in file.mapping(button, f"each of `{key}`").items():
                if part in ("title", "payload"):
                    file.text(part_node, f"button `{part}`", empty=True)
    if "elements" in entries:
        file.sequence(entries["elements"][1], "`elements`")
    for condition in file.sequence(entries["condition"][1], "`condition`") if "condition" in entries else []:
        parts = file.mapping(condition, "a response condition")
        file.only(parts, ("type", "name", "value"), "in a response condition")
        if "type" not in parts or value(parts["type"][1], file.path) != "slot":
            raise file.fail(condition, "a response condition needs `type: slot`")
        if "name" not in parts or "value" not in parts:
            raise file.fail(condition, "a response condition needs `name` and `value`")
        file.text(parts["name"][1], "condition `name`")


def _read_actions(file: _File, node: Node) -> None:
    def check(name: str, key: Node, props: Node) -> None:
        entries = file.mapping(props, f"properties of action {name!r}")
        file.only(entries, ("send_domain",), f"in action {name!r}")
        if "send_domain" in entries:
            file.flag(entries["send_domain"][1], "`send_domain`")

    _named_items(file, node, "action", check)


def _read_e2e_actions(file: _File, node: Node) -> None:
    for item in file.sequence(node, "`e2e_actions`"):
        file.text(item, "each of `e2e_actions`")


def _read_session_config(file: _File, node: Node) -> None:
    entries = file.mapping(node, "`session_config`")
    file.only(entries, tuple(_SESSION_DEFAULT), "in `session_config`")
    if "session_expiration_time" in entries:
        minutes = entries["session_expiration_time"][1]
        if not is_null(minutes) and file.number(minutes, "`session_expiration_time`") < 0:
            raise file.fail(minutes, "`session_expiration_time` must not be negative")
    if "carry_over_slots_to_new_session" in entries:
        file.flag(entries["carry_over_slots_to_new_session"][1], "`carry_over_slots_to_new_session`")


def _read_config(file: _File, node: Node) -> None:
    entries = file.mapping(node, "`config`")
    file.only(entries, ("store_entities_as_slots",), "in `config`")
    if "store_entities_as_slots" in entries:
        file.flag(entries["store_entities_as_slots"][1], "`store_entities_as_slots`")


_READERS: dict[str, Callable[[_File, Node], None]] = {
    "version": _read_version,
    "intents": _read_intents,
    "entities": _read_entities,
    "slots": _read_slots,
    "responses": _read_responses,
    "actions": _read_actions,
    "forms": _read_forms,
    "e2e_actions": _read_e2e_actions,
    "session_config": _read_session_config,
    "config": _read_config,
}
