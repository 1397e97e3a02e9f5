"""Per-conversation locks: the messages of one conversation are processed one at a time."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import AsyncIterator


class LockTimeout(TimeoutError):
    """The conversation's lock could not be acquired in time."""


class LockStore(ABC):
    """Hands out one lock per conversation id.

    Usage::

        async with lock_store.lock(sender_id):
            ...  # retrieve the tracker, run the turn, append its events
    """

    @abstractmethod
    def lock(self, sender_id: str, timeout: float | None = None) -> AbstractAsyncContextManager[None]:
        """Async context manager holding the conversation's lock; raises :class:`LockTimeout`
        when ``timeout`` seconds pass first. Waiters get the lock in arrival order."""

    @abstractmethod
    def is_locked(self, sender_id: str) -> bool:
        """Whether someone holds the conversation's lock right now."""


class _Entry:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0  # holders plus waiters


class InMemoryLockStore(LockStore):
    """asyncio locks for one server process.

    A conversation's lock exists only while someone holds or waits for it, so idle
    conversations cost nothing. Use it from a single event loop.
    """

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}

    @asynccontextmanager
    async def lock(self, sender_id: str, timeout: float | None = None) -> AsyncIterator[None]:
        entry = self._entries.get(sender_id)
        if entry is None:
            entry = self._entries[sender_id] = _Entry()
        entry.users += 1
        try:
            if timeout is None:
                await entry.lock.acquire()
            else:
                try:
                    await asyncio.wait_for(entry.lock.acquire(), timeout)
                except asyncio.TimeoutError:
                    raise LockTimeout(f"conversation '{sender_id}' is still locked after {timeout}s") from None
            try:
                yield
            finally:
                entry.lock.release()
        finally:
            entry.users -= 1
            if entry.users == 0 and self._entries.get(sender_id) is entry:
                del self._entries[sender_id]

    def is_locked(self, sender_id: str) -> bool:
        entry = self._entries.get(sender_id)
        return entry is not None and entry.lock.locked()

    def __len__(self) -> int:
        """Number of conversations whose lock is held or awaited."""
        return len(self._entries)
