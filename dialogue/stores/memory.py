"""A tracker store in process memory (tests, development, single-process demos)."""

from __future__ import annotations

import json
import threading
from typing import Any, Mapping

from dialogue.stores.base import ConcurrentUpdateError, TrackerStore, serialise_events, session_start_offset
from dialogue.tracker import DialogueStateTracker


class _Conversation:
    __slots__ = ("events", "session_tracker")

    def __init__(self, events: list[dict], session_tracker: DialogueStateTracker) -> None:
        self.events = events
        self.session_tracker = session_tracker


class InMemoryTrackerStore(TrackerStore):
    """Keeps each conversation's events (as JSON round-tripped copies) and its session tracker.

    Thread-safe. A turn's events are applied to a copy of the session tracker and published only
    when everything succeeded, so a failing ``append`` leaves the store untouched.
    """

    def __init__(self, slot_defaults: Mapping[str, Any] | None = None) -> None:
        super().__init__(slot_defaults)
        self._conversations: dict[str, _Conversation] = {}
        self._lock = threading.Lock()

    def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        with self._lock:
            conversation = self._conversations.get(sender_id)
            return conversation.session_tracker.copy() if conversation else None

    def retrieve_full(self, sender_id: str) -> DialogueStateTracker | None:
        with self._lock:
            conversation = self._conversations.get(sender_id)
            events = list(conversation.events) if conversation else None
        if events is None:
            return None
        return DialogueStateTracker(sender_id, self.slot_defaults, events)

    def append(self, sender_id: str, new_events: list[Mapping[str, Any]], expected_count: int | None = None) -> int:
        copies = [json.loads(text) for text in serialise_events(new_events)]
        with self._lock:
            conversation = self._conversations.get(sender_id)
            count = len(conversation.events) if conversation else 0
            if expected_count is not None and expected_count != count:
                raise ConcurrentUpdateError(
                    f"conversation '{sender_id}' has {count} events, the turn was built on {expected_count}"
                )
            if not copies:
                return count
            tracker = conversation.session_tracker.copy() if conversation else self.new_tracker(sender_id)
            tracker.update_many(copies)
            start = session_start_offset(copies, conversation.events[-1] if conversation else None)
            if start is not None:
                absolute = count + start
                if absolute != tracker.event_offset:
                    events = tracker.events[absolute - tracker.event_offset :]
                    tracker = DialogueStateTracker(sender_id, self.slot_defaults, events, event_offset=absolute)
            if conversation is None:
                self._conversations[sender_id] = _Conversation(copies, tracker)
            else:
                conversation.events.extend(copies)
                conversation.session_tracker = tracker
            return count + len(copies)

    def event_count(self, sender_id: str) -> int:
        with self._lock:
            conversation = self._conversations.get(sender_id)
            return len(conversation.events) if conversation else 0

    def keys(self) -> list[str]:
        with self._lock:
            return list(self._conversations)

    def delete(self, sender_id: str) -> bool:
        with self._lock:
            return self._conversations.pop(sender_id, None) is not None
