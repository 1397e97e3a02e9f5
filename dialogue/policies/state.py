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

import threading
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, NamedTuple

from dialogue.domain import ENTITY_LABEL_SEPARATOR, Domain
from dialogue.story_data import ANY_VALUE
from dialogue.tracker import DialogueStateTracker

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
        self.sessions = SessionStates(self)

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
        fold = Fold(self, slots)
        out = [state for state in map(fold.step, events) if state is not None]
        out.append(fold.state())
        return out

    def recent_states(self, tracker: DialogueStateTracker, count: int, applied: list | None = None) -> RecentStates:
        """The latest ``count`` states of the tracker's current session (see :class:`SessionStates`)."""
        return self.sessions.recent(tracker, count, applied)


class Fold:
    """The featurization of an event sequence so far: a left fold over its events.

    :meth:`step` applies one event and returns the state before it when it is an action;
    :meth:`state` is the state after the events folded so far.
    """

    __slots__ = ("featurizer", "prev_action", "intent", "entities", "raw_entities", "loop", "features", "_slots")

    def __init__(self, featurizer: Featurizer, slots: Mapping[str, Any] | None = None) -> None:
        self.featurizer = featurizer
        self.prev_action: str | None = None
        self.intent: str | None = None
        self.entities: frozenset = frozenset()
        self.raw_entities: list = []  # replaced, never modified: copies share it
        self.loop: str | None = None
        self.features = self._features(featurizer.initial_slots if slots is None else slots)
        self._slots: tuple | None = None  # the sorted slot features of the state, when known

    def _features(self, values: Mapping[str, Any]) -> dict:
        self._slots = None
        return {name: self.featurizer.slot_feature(name, value) for name, value in values.items()}

    def copy(self) -> Fold:
        new = object.__new__(Fold)
        for name in Fold.__slots__:
            setattr(new, name, getattr(self, name))
        new.features = dict(self.features)
        return new

    def state(self) -> State:
        if self._slots is None:
            self._slots = tuple(sorted((k, v) for k, v in self.features.items() if v is not None))
        return State(self.prev_action, self.intent, self.entities, self.loop, self._slots)

    def step(self, event: Mapping[str, Any]) -> State | None:
        kind = event.get("event")
        if kind == "action":
            before = self.state()
            self.prev_action = event.get("name") or event.get("action_text")
            return before
        featurizer = self.featurizer
        if kind == "user":
            parse = event.get("parse_data") or {}
            self.intent = (parse.get("intent") or {}).get("name")
            self.raw_entities = list(parse.get("entities") or [])
            self.entities = featurizer.entity_labels(self.intent, self.raw_entities)
        elif kind == "entities":
            raw = self.raw_entities
            self.raw_entities = raw + [e for e in event.get("entities") or [] if e not in raw]
            self.entities = featurizer.entity_labels(self.intent, self.raw_entities)
        elif kind == "slot":
            name = event.get("name")
            if name in featurizer.featurized:
                self.features[name] = featurizer.slot_feature(name, event.get("value"))
                self._slots = None
        elif kind == "active_loop":
            self.loop = event.get("name")
        elif kind in ("restart", "session_started", "reset_slots"):
            if kind != "reset_slots":
                self.prev_action, self.intent, self.entities, self.raw_entities, self.loop = (
                    None, None, frozenset(), [], None
                )
            self.features = self._features(featurizer.initial_slots)
        return None


class RecentStates(NamedTuple):
    """The latest states of a session (oldest first); ``start`` is the index of ``states[0]``
    among all the session's states (0: they begin at the start of the session)."""

    states: list[State]
    start: int


class _Progress:
    """A conversation's fold after its first ``position`` applied events, with the latest
    states before them (``count`` states in all)."""

    __slots__ = ("position", "fold", "tail", "count")

    def __init__(self, position: int, fold: Fold, tail: tuple, count: int) -> None:
        self.position = position
        self.fold = fold
        self.tail = tail
        self.count = count


class _Session:
    __slots__ = ("events", "checkpoints")

    def __init__(self, events: list, checkpoints: list[_Progress]) -> None:
        self.events = events  # the applied events folded (a list nobody modifies)
        self.checkpoints = checkpoints  # oldest first; the last one is at len(events)


class SessionStates:
    """Each conversation's latest states, kept up to date as its session grows.

    A session's states are a left fold over its applied events (:class:`Fold`). For each
    conversation (by sender id, the latest :attr:`size` conversations) the fold is cached
    together with the latest :attr:`keep` states (as many as a policy asked for: the longest
    rule, ``max_history``), so a prediction only folds the events applied since the previous
    one: the work per prediction does not grow with the session.

    The cached events are compared with the tracker's applied events, a list comparison that
    checks identity before equality (trackers share their event dicts; a store reloads the
    latest turn as equal copies). When the applied history changed other than by appending
    events (undo, rewind, restart, a form's repeated execution dropping the turns in between),
    the fold resumes from the latest checkpoint before the first changed event (one is kept
    for each of the latest :attr:`checkpoints` predictions) or starts over.
    """

    size = 256
    checkpoints = 16

    def __init__(self, featurizer: Featurizer, keep: int = 8) -> None:
        self.featurizer = featurizer
        self.keep = keep
        self.folded = 0  # events folded, in all (for tests and diagnostics)
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self._lock = threading.Lock()

    def recent(self, tracker: DialogueStateTracker, count: int, applied: list | None = None) -> RecentStates:
        """The latest ``count`` (at least 1) states of the tracker's current session.

        ``applied``: the tracker's applied events, when the caller has them.
        """
        count = max(count, 1)
        applied = tracker.applied_events() if applied is None else applied
        with self._lock:
            self.keep = max(self.keep, count)
            session = self._sessions.pop(tracker.sender_id, None)  # this call's until put back
        checkpoints = self._valid_checkpoints(session, applied)
        progress = self._extend(checkpoints[-1] if checkpoints else self._start(), applied)
        if len(progress.tail) < min(count - 1, progress.count):  # kept before more were needed
            checkpoints = []
            progress = self._extend(self._start(), applied)
        if not checkpoints or checkpoints[-1] is not progress:
            checkpoints = checkpoints[-(self.checkpoints - 1) :] + [progress]
        with self._lock:
            self._sessions[tracker.sender_id] = _Session(applied, checkpoints)
            while len(self._sessions) > self.size:
                self._sessions.popitem(last=False)
        states = list(progress.tail[-(count - 1) :]) if count > 1 else []
        states.append(progress.fold.state())
        return RecentStates(states, progress.count + 1 - len(states))

    def _start(self) -> _Progress:
        return _Progress(0, Fold(self.featurizer), (), 0)

    @staticmethod
    def _valid_checkpoints(session: _Session | None, applied: list) -> list[_Progress]:
        """The cached checkpoints that are about a prefix of ``applied``."""
        if session is None:
            return []
        oldest = session.checkpoints[0].position
        if applied[:oldest] != session.events[:oldest]:
            return []
        same = _common_prefix(applied, session.events, oldest)
        return [c for c in session.checkpoints if c.position <= same]

    def _extend(self, progress: _Progress, applied: list) -> _Progress:
        """``progress`` carried on to the end of ``applied`` (a new checkpoint)."""
        if progress.position == len(applied):
            return progress
        fold = progress.fold.copy()
        tail = deque(progress.tail, maxlen=self.keep)
        count = progress.count
        for event in applied[progress.position :]:
            state = fold.step(event)
            if state is not None:
                tail.append(state)
                count += 1
        self.folded += len(applied) - progress.position
        return _Progress(len(applied), fold, tuple(tail), count)


def _common_prefix(a: list, b: list, start: int) -> int:
    """How many first items ``a`` and ``b`` share, given that they share ``start``."""
    end = min(len(a), len(b))
    i = start
    while i < end and (a[i] is b[i] or a[i] == b[i]):
        i += 1
    return i


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
