"""Dialogue states: what rules and stories are matched against.

A conversation is seen as a list of states, one before each action that ran (the point where
that action was chosen) plus the current one, as Rasa's featurizers see it:

- ``prev_action``: the latest action (``None`` before the first one),
- ``intent`` and ``entities``: the latest user message's intent and the entity labels the
  dialogue uses with it (``entity``, ``entity#role``, ``entity#group``, filtered by the
  intent's ``use_entities`` / ``ignore_entities``); they stay in the state for every action of
  the turn,
- ``active_loop``: the active form, if any,
- ``slots``: the featurized value of every slot with ``influence_conversation: true`` that is
  set. As in Rasa, text and list slots only count as set or not set, booleans, categorical
  values (case-insensitively; values outside ``values`` become ``__other__``) and floats
  (clamped) count by value, ``any`` slots never count.

Rules and stories are turned into the same states by replaying their steps, so matching is a
comparison of states: exact for stories (memoization), partial for rules (a :class:`Pattern`
only constrains what the rule mentions).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from dialogue.domain import ENTITY_LABEL_SEPARATOR, Domain
from dialogue.story_data import ANY_VALUE

ACTION_LISTEN = "action_listen"
OTHER_CATEGORY = "__other__"

# Pattern constraints besides a concrete value.
UNSET = "__unset__"  # the slot / loop must not be set
IS_SET = "__set__"  # the slot must be set to something


@dataclass(frozen=True)
class State:
    prev_action: str | None = None
    intent: str | None = None
    entities: frozenset = frozenset()
    active_loop: str | None = None
    slots: tuple = ()  # sorted (name, feature) pairs of the set, featurized slots

    def describe(self) -> str:
        parts = []
        if self.intent:
            parts.append(f"intent: {self.intent}" + (f" {sorted(self.entities)}" if self.entities else ""))
        parts.append(f"prev_action: {self.prev_action}")
        if self.active_loop:
            parts.append(f"active_loop: {self.active_loop}")
        if self.slots:
            parts.append("slots: " + ", ".join(f"{k}={v}" for k, v in self.slots))
        return " | ".join(parts)


@dataclass(frozen=True)
class Pattern:
    """A partial state from a rule. ``None`` fields are unconstrained; ``start`` marks the
    state at the very beginning of a conversation session (``conversation_start`` rules)."""

    prev_action: str | None = None
    intent: str | None = None
    entities: frozenset | None = None
    active_loop: str | None = None  # None: any; UNSET: no loop; else that loop
    slots: tuple = ()  # (name, constraint) pairs; constraint is a feature, UNSET or IS_SET
    start: bool = False

    @property
    def size(self) -> int:
        """How much this pattern says (for choosing the most specific rule)."""
        return (
            (self.prev_action is not None)
            + (self.intent is not None)
            + (self.entities is not None)
            + (self.active_loop is not None)
            + len(self.slots)
            + self.start
        )

    def matches(self, state: State) -> bool:
        if self.prev_action is not None and self.prev_action != state.prev_action:
            return False
        if self.intent is not None and self.intent != state.intent:
            return False
        if self.entities is not None and self.entities != state.entities:
            return False
        if self.active_loop is not None:
            if self.active_loop == UNSET:
                if state.active_loop is not None:
                    return False
            elif self.active_loop != state.active_loop:
                return False
        if self.slots:
            values = dict(state.slots)
            for name, wanted in self.slots:
                actual = values.get(name)
                if wanted == UNSET:
                    if actual is not None:
                        return False
                elif wanted == IS_SET:
                    if actual is None:
                        return False
                elif actual != wanted:
                    return False
        return True


class Featurizer:
    """Turns event sequences into :class:`State` lists for a domain."""

    def __init__(self, domain: Domain) -> None:
        self.domain = domain
        self.featurized = {name: slot for name, slot in domain.slots.items() if slot.influence_conversation}
        self.initial_slots = {name: slot.initial_value for name, slot in domain.slots.items()}

    # ------------------------------------------------------------------ features

    def slot_feature(self, name: str, value: Any) -> Any:
        """The feature of a slot value, or None when the slot does not count as set."""
        slot = self.featurized.get(name)
        if slot is None or value is None:
            return None
        if value is ANY_VALUE:
            return True if slot.type in ("text", "list") else IS_SET
        if slot.type == "text":
            return True
        if slot.type == "list":
            return True if value else None
        if slot.type == "categorical":
            coerced = slot.coerce(value)
            return OTHER_CATEGORY if coerced is None else str(coerced).casefold()
        coerced = slot.coerce(value)
        if slot.type == "float" and coerced is not None:
            return float(coerced)
        return coerced

    def slot_constraint(self, name: str, value: Any) -> Any:
        """The constraint a rule's ``slot_was_set`` puts on a slot, or None (not featurized)."""
        if name not in self.featurized:
            return None
        if value is None:
            return UNSET
        if value is ANY_VALUE:
            return IS_SET
        return self.slot_feature(name, value)

    def entity_labels(self, intent: str | None, entities: Iterable[Mapping[str, Any]]) -> frozenset:
        labels = set()
        for entity in entities or ():
            name = entity.get("entity")
            if not name:
                continue
            labels.add(name)
            for key in ("role", "group"):
                if entity.get(key):
                    labels.add(f"{name}{ENTITY_LABEL_SEPARATOR}{entity[key]}")
        if not labels:
            return frozenset()
        return frozenset(labels & self.domain.used_entities(intent or ""))

    # ------------------------------------------------------------------ states

    def states(self, events: Iterable[Mapping[str, Any]], slots: Mapping[str, Any] | None = None) -> list[State]:
        """The states before each ``action`` event of ``events``, then the state after them.

        ``slots`` are the slot values before the first event (default: the domain's initial
        values).
        """
        values = dict(self.initial_slots if slots is None else slots)
        features = {name: self.slot_feature(name, value) for name, value in values.items()}
        prev_action = None
        intent = None
        entities: frozenset = frozenset()
        raw_entities: list = []
        loop = None
        out: list[State] = []

        def snapshot() -> State:
            return State(
                prev_action,
                intent,
                entities,
                loop,
                tuple(sorted((k, v) for k, v in features.items() if v is not None)),
            )

        for event in events:
            kind = event.get("event")
            if kind == "action":
                out.append(snapshot())
                prev_action = event.get("name") or event.get("action_text")
            elif kind == "user":
                parse = event.get("parse_data") or {}
                intent = (parse.get("intent") or {}).get("name")
                raw_entities = list(parse.get("entities") or [])
                entities = self.entity_labels(intent, raw_entities)
            elif kind == "entities":
                raw_entities = raw_entities + [e for e in event.get("entities") or [] if e not in raw_entities]
                entities = self.entity_labels(intent, raw_entities)
            elif kind == "slot":
                name = event.get("name")
                if name in self.featurized:
                    features[name] = self.slot_feature(name, event.get("value"))
            elif kind == "active_loop":
                loop = event.get("name")
            elif kind in ("restart", "session_started", "reset_slots"):
                if kind != "reset_slots":
                    prev_action, intent, entities, raw_entities, loop = None, None, frozenset(), [], None
                features = {name: self.slot_feature(name, value) for name, value in self.initial_slots.items()}
        out.append(snapshot())
        return out


def story_events(steps: Iterable[Any]) -> list[dict]:
    """Light-weight events (enough for :meth:`Featurizer.states`) for linear story steps.

    An ``action_listen`` goes before every user turn that does not follow one, and after the
    last action, as Rasa's training trackers have them.
    """
    from dialogue.story_data import ActionStep, ActiveLoopStep, SlotWasSetStep, UserStep

    events: list[dict] = []
    for step in steps:
        if isinstance(step, UserStep):
            if not events or not _is_listen(events[-1]):
                events.append({"event": "action", "name": ACTION_LISTEN})
            events.append(
                {"event": "user", "parse_data": {"intent": {"name": step.intent}, "entities": list(step.entities)}}
            )
        elif isinstance(step, ActionStep):
            events.append({"event": "action", "name": step.name})
        elif isinstance(step, SlotWasSetStep):
            events.extend({"event": "slot", "name": k, "value": v} for k, v in step.slots.items())
        elif isinstance(step, ActiveLoopStep):
            events.append({"event": "active_loop", "name": step.name})
    last = _last_action(events)
    if last is not None and not _is_listen(last):
        events.append({"event": "action", "name": ACTION_LISTEN})
    return events


def _is_listen(event: Mapping[str, Any] | None) -> bool:
    return bool(event) and event.get("event") == "action" and event.get("name") == ACTION_LISTEN


def _last_action(events: list[dict]) -> dict | None:
    for event in reversed(events):
        if event["event"] == "action":
            return event
        if event["event"] == "user":
            return None
    return None
