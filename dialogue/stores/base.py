"""The tracker store interface, shared helpers and the async wrapper."""

from __future__ import annotations

import asyncio
import json
from abc import ABC, abstractmethod
from typing import Any, Iterable, Mapping

from dialogue.events import EVENT_FIELDS
from dialogue.tracker import DialogueStateTracker


class ConcurrentUpdateError(RuntimeError):
    """Another writer appended to the conversation first; the turn was not stored."""


def serialise_events(events: Iterable[Mapping[str, Any]]) -> list[str]:
    """JSON for each event, checking each is a known event; raises before anything is stored."""
    out = []
    for i, event in enumerate(events):
        if not isinstance(event, Mapping) or event.get("event") not in EVENT_FIELDS:
            name = event.get("event") if isinstance(event, Mapping) else type(event).__name__
            raise ValueError(f"event {i} is not a known event: {name!r}")
        try:
            out.append(json.dumps(event, ensure_ascii=False, allow_nan=False))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"event {i} ('{event['event']}') cannot be stored as JSON: {exc}") from exc
    return out


def session_start_offset(events: list[Mapping[str, Any]], previous: Mapping[str, Any] | None = None) -> int | None:
    """Index in ``events`` where the latest session begins, ``None`` if no session starts there.

    A session begins at its ``session_started`` event, or at the ``action_session_start`` action
    right before it (which may be ``previous``, the event stored just before ``events``: -1).
    """
    for i in range(len(events) - 1, -1, -1):
        if events[i]["event"] == "session_started":
            before = events[i - 1] if i else previous
            if before is not None and before["event"] == "action" and before.get("name") == "action_session_start":
                return i - 1
            return i
    return None


class TrackerStore(ABC):
    """Persists conversations as event lists. Synchronous; see :class:`AsyncTrackerStore`.

    Args:
        slot_defaults: The domain's slots and initial values, used to build trackers
            (``None``: trackers accept any slot name).
    """

    def __init__(self, slot_defaults: Mapping[str, Any] | None = None) -> None:
        self.slot_defaults = dict(slot_defaults) if slot_defaults is not None else None

    def new_tracker(self, sender_id: str) -> DialogueStateTracker:
        """An empty tracker for ``sender_id`` with the store's slot defaults."""
        return DialogueStateTracker(sender_id, self.slot_defaults)

    def retrieve_or_new(self, sender_id: str) -> DialogueStateTracker:
        tracker = self.retrieve(sender_id)
        return tracker if tracker is not None else self.new_tracker(sender_id)

    @abstractmethod
    def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The conversation's current session (as Rasa loads it for a turn), or ``None``.

        The tracker holds the events from the latest session start on; its ``event_offset`` is
        the number of earlier events. The caller owns the returned tracker.
        """

    @abstractmethod
    def retrieve_full(self, sender_id: str) -> DialogueStateTracker | None:
        """The conversation with all its events, or ``None``."""

    @abstractmethod
    def append(self, sender_id: str, new_events: list[Mapping[str, Any]], expected_count: int | None = None) -> int:
        """Append one turn's events atomically (all or none); creates the conversation if needed.

        ``expected_count``: the number of events the caller's tracker was built on
        (``tracker.event_offset + len(tracker.events)`` before the turn); when given and the
        conversation has a different count, nothing is stored and
        :class:`ConcurrentUpdateError` is raised. Raises ``ValueError`` (nothing stored) for an
        unknown or unserialisable event. Returns the conversation's new event count.
        """

    @abstractmethod
    def event_count(self, sender_id: str) -> int:
        """Number of stored events of the conversation (0 if it does not exist)."""

    def exists(self, sender_id: str) -> bool:
        return self.event_count(sender_id) > 0

    @abstractmethod
    def keys(self) -> list[str]:
        """All conversation ids."""

    @abstractmethod
    def delete(self, sender_id: str) -> bool:
        """Remove the conversation; returns whether it existed."""

    def close(self) -> None:
        """Release resources (connections)."""


class AsyncTrackerStore:
    """Awaitable facade over a :class:`TrackerStore`: each call runs in a worker thread."""

    def __init__(self, store: TrackerStore) -> None:
        self.store = store

    @property
    def slot_defaults(self) -> dict[str, Any] | None:
        return self.store.slot_defaults

    def new_tracker(self, sender_id: str) -> DialogueStateTracker:
        return self.store.new_tracker(sender_id)

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        return await asyncio.to_thread(self.store.retrieve, sender_id)

    async def retrieve_or_new(self, sender_id: str) -> DialogueStateTracker:
        return await asyncio.to_thread(self.store.retrieve_or_new, sender_id)

    async def retrieve_full(self, sender_id: str) -> DialogueStateTracker | None:
        return await asyncio.to_thread(self.store.retrieve_full, sender_id)

    async def append(self, sender_id: str, new_events: list[Mapping[str, Any]], expected_count: int | None = None) -> int:
        return await asyncio.to_thread(self.store.append, sender_id, new_events, expected_count)

    async def event_count(self, sender_id: str) -> int:
        return await asyncio.to_thread(self.store.event_count, sender_id)

    async def exists(self, sender_id: str) -> bool:
        return await asyncio.to_thread(self.store.exists, sender_id)

    async def keys(self) -> list[str]:
        return await asyncio.to_thread(self.store.keys)

    async def delete(self, sender_id: str) -> bool:
        return await asyncio.to_thread(self.store.delete, sender_id)

    async def close(self) -> None:
        await asyncio.to_thread(self.store.close)
