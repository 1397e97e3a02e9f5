"""The dialogue state tracker: a conversation's events and the state they imply, as in Rasa 3.6.

Events are the plain dicts of :mod:`dialogue.events`; the tracker never modifies them.

Applying an event costs O(1) amortised, independent of the conversation's length, including
the reverting events (``rewind``, ``undo``). Rasa implements those by resetting the tracker and
replaying its *applied* events (the events of the current session minus reverted ones and
repeated loop executions). This tracker keeps that applied list up to date incrementally,
together with the state reached by replaying each prefix of it, so a revert is a pop plus a
lookup instead of a replay. The resulting state is exactly Rasa's, including its quirks (a
replay can differ from the live state, e.g. in ``latest_message`` after a form ran twice).

State exposed (``current_state()`` keys, in Rasa's order)::

    sender_id, slots, latest_message, latest_event_time, followup_action, paused, events,
    latest_input_channel, active_loop, latest_action, latest_action_name

``active_loop`` is ``{}`` or ``{"name", "is_interrupted", "rejected", "trigger_message"}``
(the keys Rasa 3.x serialises).
"""

from __future__ import annotations

import copy as _copy
import logging
from typing import Any, Iterable, Iterator, Mapping

from dialogue.events import (
    ACTION_LISTEN_NAME,
    ACTION_SESSION_START_NAME,
    EVENT_FIELDS,
    SHOULD_NOT_BE_SET,
    parse_data_for,
)

logger = logging.getLogger(__name__)

_RESETS = frozenset({"restart", "session_started"})


class _State:
    """One immutable snapshot of the conversation state (never mutated once published)."""

    __slots__ = (
        "slots",
        "paused",
        "followup_action",
        "latest_action",
        "latest_message",
        "message_entities",
        "use_text",
        "latest_bot_utterance",
        "active_loop",
    )

    def clone(self) -> "_State":
        new = object.__new__(_State)
        new.slots = self.slots
        new.paused = self.paused
        new.followup_action = self.followup_action
        new.latest_action = self.latest_action
        new.latest_message = self.latest_message
        new.message_entities = self.message_entities
        new.use_text = self.use_text
        new.latest_bot_utterance = self.latest_bot_utterance
        new.active_loop = self.active_loop
        return new

    @property
    def latest_action_name(self) -> str | None:
        return self.latest_action.get("action_name") or self.latest_action.get("action_text")

    @property
    def active_loop_name(self) -> str | None:
        if not self.active_loop or self.active_loop["name"] == SHOULD_NOT_BE_SET:
            return None
        return self.active_loop["name"]


def _initial_state(slots: dict[str, Any]) -> _State:
    state = object.__new__(_State)
    state.slots = slots
    state.paused = False
    state.followup_action = ACTION_LISTEN_NAME
    state.latest_action = {}
    state.latest_message = None  # no user message: Rasa's empty ``UserUttered``
    state.message_entities = None  # entities of the latest message when ``entities`` events added some
    state.use_text = None
    state.latest_bot_utterance = None
    state.active_loop = None
    return state


def _message_parse_data(message: Mapping[str, Any] | None) -> dict:
    if message is None:
        return parse_data_for(None)
    return parse_data_for(message.get("text"), message.get("parse_data"), message.get("message_id"), message.get("metadata"))


def _use_text_default(message: Mapping[str, Any]) -> bool | None:
    # Rasa: text without intent -> featurised by text; intent without text -> by intent.
    intent = ((message.get("parse_data") or {}).get("intent") or {}).get("name")
    if message.get("text") and not intent:
        return True
    if intent and not message.get("text"):
        return False
    return None


class _Transitions:
    """``state -> event -> state`` for every event that does not revert others."""

    def __init__(self, base: _State, any_slot: bool) -> None:
        self.base = base
        self.any_slot = any_slot
        self.handlers = {name: getattr(self, "_" + name) for name in EVENT_FIELDS if hasattr(self, "_" + name)}

    def __call__(self, state: _State, event: Mapping[str, Any]) -> _State:
        handler = self.handlers.get(event["event"])
        return handler(state, event) if handler is not None else state

    def _user(self, s: _State, e) -> _State:
        s = s.clone()
        s.latest_message = e
        s.message_entities = None
        s.use_text = _use_text_default(e)
        s.followup_action = None
        return s

    def _user_featurization(self, s: _State, e) -> _State:
        if s.latest_action_name != ACTION_LISTEN_NAME:
            return s
        s = s.clone()
        s.use_text = e.get("use_text_for_featurization")
        return s

    def _entities(self, s: _State, e) -> _State:
        if s.latest_action_name != ACTION_LISTEN_NAME:
            return s
        if s.message_entities is not None:
            current = list(s.message_entities)
        else:
            current = list(((s.latest_message or {}).get("parse_data") or {}).get("entities") or [])
        for entity in e.get("entities") or []:
            if entity not in current:
                current.append(entity)
        s = s.clone()
        s.message_entities = current
        return s

    def _bot(self, s: _State, e) -> _State:
        s = s.clone()
        s.latest_bot_utterance = e
        return s

    def _slot(self, s: _State, e) -> _State:
        name = e.get("name")
        if name not in s.slots and not self.any_slot:
            logger.warning("Tried to set non existent slot '%s'; add it to the domain.", name)
            return s
        slots = dict(s.slots)
        slots[name] = e.get("value")
        s = s.clone()
        s.slots = slots
        return s

    def _restart(self, s: _State, e) -> _State:
        s = self.base.clone()
        s.followup_action = ACTION_SESSION_START_NAME
        return s

    def _session_started(self, s: _State, e) -> _State:
        return self.base

    def _reset_slots(self, s: _State, e) -> _State:
        s = s.clone()
        s.slots = self.base.slots
        return s

    def _followup(self, s: _State, e) -> _State:
        s = s.clone()
        s.followup_action = e.get("name")
        return s

    def _pause(self, s: _State, e) -> _State:
        s = s.clone()
        s.paused = True
        return s

    def _resume(self, s: _State, e) -> _State:
        s = s.clone()
        s.paused = False
        return s

    def _action(self, s: _State, e) -> _State:
        name = e.get("name")
        s = s.clone()
        s.latest_action = {"action_name": name} if name else {"action_text": e.get("action_text")}
        if s.active_loop is not None:
            loop_name = s.active_loop_name
            loop = dict(s.active_loop)
            if loop_name:
                loop["is_interrupted"] = False
            if s.latest_action.get("action_name") == loop_name:
                loop["rejected"] = False
            s.active_loop = loop
        s.followup_action = None
        return s

    def _active_loop(self, s: _State, e) -> _State:
        name = e.get("name")
        s = s.clone()
        if name is None:
            s.active_loop = None
        else:
            s.active_loop = {
                "name": name,
                "is_interrupted": False,
                "rejected": False,
                "trigger_message": _message_parse_data(s.latest_message),
            }
        return s

    def _loop_interrupted(self, s: _State, e) -> _State:
        if s.active_loop is None:
            return s
        s = s.clone()
        s.active_loop = {**s.active_loop, "is_interrupted": bool(e.get("is_interrupted"))}
        return s

    def _action_execution_rejected(self, s: _State, e) -> _State:
        if s.active_loop is None or e.get("name") != s.active_loop_name:
            return s
        s = s.clone()
        s.active_loop = {**s.active_loop, "rejected": True}
        return s


# --------------------------------------------------------------------------- applied events


def _undo_till(applied: list, type_name: str, states: list | None = None) -> None:
    """Pop events (and their states) up to and including the latest one of ``type_name``."""
    while applied:
        event = applied.pop()
        if states is not None:
            states.pop()
        if event["event"] == type_name:
            return


def _first_loop_execution_or_unhappy_path(loop_name: str, applied: list) -> bool:
    next_action = None
    for event in reversed(applied):
        type_name = event["event"]
        if type_name == "active_loop" and event.get("name") is None:
            return True
        if type_name == "action_execution_rejected" and event.get("name") == loop_name:
            return True
        if type_name == "user" and next_action is not None and next_action != loop_name:
            return True
        if type_name == "action":
            if event.get("name") == loop_name:
                return False
            next_action = event.get("name")
    return True


def _undo_till_previous_loop_execution(loop_name: str, applied: list, states: list | None = None) -> int | None:
    """Drop the user turns and actions since the previous execution of ``loop_name``.

    Returns the lowest index removed (``None`` when nothing was removed).
    """
    lowest = None
    i = len(applied) - 1
    while i >= 0:
        event = applied[i]
        type_name = event["event"]
        if type_name == "action" and event.get("name") == loop_name:
            break
        if type_name in ("action", "user", "user_featurization"):
            del applied[i]
            if states is not None:
                del states[i]
            lowest = i
        i -= 1
    return lowest


def applied_events(events: Iterable[Mapping[str, Any]]) -> list[dict]:
    """Rasa's applied events of an event sequence: what replaying it actually applies.

    Starts after the latest ``restart``/``session_started``, drops reverted user turns and
    undone actions, and keeps only the first execution of a loop per happy path (the user turns
    in between are dropped). Use it to replay stories and rules.
    """
    events = list(events)
    loop_names = {e.get("name") for e in events if e["event"] == "active_loop" and e.get("name")}
    applied: list = []
    for event in events:
        _apply_to_applied(event, applied, loop_names)
    return applied


def _apply_to_applied(event, applied: list, loop_names, states: list | None = None):
    """One step of the applied-events computation. Returns what happened, for the tracker."""
    type_name = event["event"]
    if type_name in _RESETS:
        applied.clear()
        if states is not None:
            states.clear()
        return "reset", None
    if type_name == "undo":
        _undo_till(applied, "action", states)
        return "revert", None
    if type_name == "rewind":
        _undo_till(applied, "user", states)
        _undo_till(applied, "action", states)
        return "revert", None
    if (
        type_name == "action"
        and event.get("name") in loop_names
        and not _first_loop_execution_or_unhappy_path(event["name"], applied)
    ):
        return "loop", _undo_till_previous_loop_execution(event["name"], applied, states)
    applied.append(event)
    return "append", None


# --------------------------------------------------------------------------- tracker


class DialogueStateTracker:
    """A conversation: its events and the state they imply.

    Args:
        sender_id: The conversation id.
        slots: Slot names and initial values (the domain's). ``None`` accepts any slot name.
        events: Events to apply, in order.
        event_offset: How many earlier events of the conversation precede ``events`` (set by
            tracker stores that load only the latest session).
    """

    def __init__(
        self,
        sender_id: str,
        slots: Mapping[str, Any] | None = None,
        events: Iterable[Mapping[str, Any]] | None = None,
        event_offset: int = 0,
    ) -> None:
        self.sender_id = sender_id
        self.event_offset = event_offset
        initial = _copy.deepcopy(dict(slots)) if slots else {}
        self._base = _initial_state(initial)
        self._transition = _Transitions(self._base, slots is None)
        self._state = self._base
        self._events: list = []
        self._applied: list = []  # Rasa's applied events of the current session
        self._replayed: list = []  # state after replaying self._applied[: i + 1] from the base state
        self._loop_names: set = set()
        # executions per action name since the applied list was last reset
        self._executed: dict[str, int] = {}
        self._applied_start = 0
        self._restart_index = 0
        self._session_index = 0
        self._input_channel: str | None = None
        if events:
            self.update_many(events)

    # ------------------------------------------------------------------ updating

    def update(self, event: Mapping[str, Any]) -> None:
        """Append ``event`` and apply it (O(1) amortised)."""
        try:
            type_name = event["event"]
        except (TypeError, KeyError):
            raise ValueError(f"not an event: {event!r}") from None
        if type_name not in EVENT_FIELDS:
            raise ValueError(f"unknown event name '{type_name}'")

        index = len(self._events)
        self._events.append(event)
        if type_name == "user":
            self._input_channel = event.get("input_channel")
        elif type_name == "restart":
            self._restart_index = index + 1
        elif type_name == "session_started":
            previous = self._events[index - 1] if index else None
            starts_with_action = (
                previous is not None
                and previous["event"] == "action"
                and previous.get("name") == ACTION_SESSION_START_NAME
            )
            self._session_index = index - 1 if starts_with_action else index

        replayed = self._replayed
        before = replayed[-1] if replayed else self._base
        outcome, removed_from = _apply_to_applied(event, self._applied, self._loop_names, replayed)
        if outcome == "append":
            new = self._transition(before, event)
            self._state = new if self._state is before else self._transition(self._state, event)
            replayed.append(new)
            if type_name == "action":
                name = event.get("name")
                self._executed[name] = self._executed.get(name, 0) + 1
            elif type_name == "active_loop":
                name = event.get("name")
                if name and name not in self._loop_names:
                    self._loop_names.add(name)
                    # Rasa computes the loop names over all events, so a loop action that ran
                    # more than once before its loop was first activated is judged again.
                    if self._executed.get(name, 0) > 1:
                        self._rebuild_applied()
        elif outcome == "revert":
            # Rasa resets the tracker and replays the applied events.
            self._state = replayed[-1] if replayed else self._base
        elif outcome == "reset":
            self._state = self._transition(self._state, event)
            self._executed.clear()
            self._applied_start = index + 1
        else:  # a repeated loop execution: applied to the state, but not to the applied list
            self._state = self._transition(self._state, event)
            self._executed[event["name"]] = self._executed.get(event["name"], 0) + 1
            if removed_from is not None:
                self._replay_from(removed_from)

    def update_many(self, events: Iterable[Mapping[str, Any]]) -> None:
        for event in events:
            self.update(event)

    def _replay_from(self, start: int) -> None:
        state = self._replayed[start - 1] if start else self._base
        for i in range(start, len(self._applied)):
            state = self._transition(state, self._applied[i])
            self._replayed[i] = state

    def _rebuild_applied(self) -> None:
        """Recompute the applied list when a loop name became known after the loop action ran."""
        applied: list = []
        for event in self._events[self._applied_start :]:
            _apply_to_applied(event, applied, self._loop_names)
        self._applied = applied
        self._replayed = [self._base] * len(applied)
        self._replay_from(0)

    # ------------------------------------------------------------------ events

    @property
    def events(self) -> list[dict]:
        """All events, oldest first (the tracker's own list: do not modify it)."""
        return self._events

    def events_after_latest_restart(self) -> list[dict]:
        return self._events[self._restart_index :]

    def current_session_events(self) -> list[dict]:
        """Events of the current session: from the latest ``action_session_start`` /
        ``session_started`` on (all events when no session was started)."""
        return self._events[self._session_index :]

    def applied_events(self) -> list[dict]:
        """Rasa's applied events: the current session without reverted or undone events."""
        return list(self._applied)

    def turns(self) -> list[tuple[dict | None, list[str]]]:
        """``(user event, [actions run after it])`` for each turn of the applied events.

        The first entry's user event is ``None`` when actions ran before the first message.
        Actions are named by ``name`` (or ``action_text`` for end-to-end actions).
        """
        turns: list[tuple[dict | None, list[str]]] = []
        user = None
        actions: list[str] = []
        for event in self._applied:
            type_name = event["event"]
            if type_name == "user":
                if user is not None or actions:
                    turns.append((user, actions))
                user, actions = event, []
            elif type_name == "action":
                actions.append(event.get("name") or event.get("action_text"))
        if user is not None or actions:
            turns.append((user, actions))
        return turns

    def last_executed_action(self, exclude: Iterable[str] = (ACTION_LISTEN_NAME,)) -> dict | None:
        """The latest applied ``action`` event whose name is not in ``exclude``."""
        exclude = set(exclude)
        for event in reversed(self._applied):
            if event["event"] == "action" and event.get("name") not in exclude:
                return event
        return None

    def latest_bot_utterance(self) -> dict | None:
        """The latest ``bot`` event still in effect, or ``None``."""
        return self._state.latest_bot_utterance

    # ------------------------------------------------------------------ state

    @property
    def slots(self) -> dict[str, Any]:
        """Current slot values (a new dict; the values are shared, do not modify them)."""
        return dict(self._state.slots)

    def get_slot(self, name: str) -> Any:
        return self._state.slots.get(name)

    @property
    def slot_defaults(self) -> dict[str, Any]:
        return dict(self._base.slots)

    @property
    def latest_message(self) -> dict:
        """The latest user message's parse data (with ``text``) plus entities added since."""
        data = _message_parse_data(self._state.latest_message)
        if self._state.message_entities is not None:
            data["entities"] = list(self._state.message_entities)
        return data

    @property
    def latest_message_event(self) -> dict | None:
        """The latest ``user`` event still in effect, or ``None``."""
        return self._state.latest_message

    @property
    def use_text_for_featurization(self) -> bool | None:
        """How the latest user message is featurised (set by ``user_featurization`` events)."""
        return self._state.use_text

    @property
    def latest_action(self) -> dict:
        """``{"action_name": ...}``, ``{"action_text": ...}`` or ``{}``."""
        return dict(self._state.latest_action)

    @property
    def latest_action_name(self) -> str | None:
        return self._state.latest_action_name

    @property
    def followup_action(self) -> str | None:
        return self._state.followup_action

    @property
    def paused(self) -> bool:
        return self._state.paused

    def is_paused(self) -> bool:
        return self._state.paused

    @property
    def active_loop(self) -> dict:
        """``{}`` or ``{"name", "is_interrupted", "rejected", "trigger_message"}``."""
        return dict(self._state.active_loop) if self._state.active_loop else {}

    @property
    def active_loop_name(self) -> str | None:
        return self._state.active_loop_name

    @property
    def is_active_loop_rejected(self) -> bool:
        return bool(self._state.active_loop and self._state.active_loop["rejected"])

    @property
    def is_active_loop_interrupted(self) -> bool:
        return bool(self._state.active_loop and self._state.active_loop["is_interrupted"])

    @property
    def latest_input_channel(self) -> str | None:
        """``input_channel`` of the latest user event (reverted ones included, as in Rasa)."""
        return self._input_channel

    @property
    def latest_event_time(self) -> float | None:
        return self._events[-1].get("timestamp") if self._events else None

    def get_latest_entity_values(
        self, entity_type: str, entity_role: str | None = None, entity_group: str | None = None
    ) -> Iterator[Any]:
        """Values of the latest message's entities of a type (and role and group)."""
        entities = self.latest_message["entities"]
        return (
            e.get("value")
            for e in entities
            if e.get("entity") == entity_type and e.get("group") == entity_group and e.get("role") == entity_role
        )

    def current_state(self, events: str | None = "all") -> dict[str, Any]:
        """The tracker as Rasa serialises it (``GET /conversations/<id>/tracker``, action server).

        ``events``: ``"all"``, ``"after_restart"``, ``"session"`` (current session),
        ``"applied"`` or ``None`` (the ``events`` key is then ``null``).
        """
        if events is None:
            event_list = None
        elif events == "all":
            event_list = list(self._events)
        elif events == "after_restart":
            event_list = self.events_after_latest_restart()
        elif events == "session":
            event_list = self.current_session_events()
        elif events == "applied":
            event_list = self.applied_events()
        else:
            raise ValueError(f"unknown events selection {events!r}")
        return {
            "sender_id": self.sender_id,
            "slots": self.slots,
            "latest_message": self.latest_message,
            "latest_event_time": self.latest_event_time,
            "followup_action": self.followup_action,
            "paused": self.paused,
            "events": event_list,
            "latest_input_channel": self.latest_input_channel,
            "active_loop": self.active_loop,
            "latest_action": self.latest_action,
            "latest_action_name": self.latest_action_name,
        }

    # ------------------------------------------------------------------ copying

    def copy(self) -> "DialogueStateTracker":
        """An independent tracker with the same events and state (events themselves are shared)."""
        new = object.__new__(DialogueStateTracker)
        new.__dict__.update(self.__dict__)
        new._events = list(self._events)
        new._applied = list(self._applied)
        new._replayed = list(self._replayed)
        new._loop_names = set(self._loop_names)
        new._executed = dict(self._executed)
        return new

    def __repr__(self) -> str:
        return f"DialogueStateTracker({self.sender_id!r}, {len(self._events)} events)"
