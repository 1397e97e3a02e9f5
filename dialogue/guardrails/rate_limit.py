"""Rate limits: at most ``limit`` messages a window per key (a sender, a client address).

A fixed window per key: the first hit starts a counter that expires ``window`` seconds later;
hits beyond ``limit`` are refused with the seconds left until it expires (the ``Retry-After``).
Without a Redis URL the counters live in this process; with one they live in Redis (``INCR``
and ``PEXPIRE`` in one Lua script, so the check is atomic), shared by every server process that
names the same Redis. When Redis cannot be reached the messages are let through (the limit fails
open) and the error is logged, at most once a minute.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Callable, Protocol

logger = logging.getLogger(__name__)

KEY_PREFIX = "desk:rate:"
ERROR_LOG_INTERVAL = 60.0
# One script, run atomically: count this hit, start the window on the first one.
_HIT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {count, ttl}
"""


class Counter(Protocol):
    async def hit(self, key: str, window: float) -> tuple[int, float]:
        """Count a hit on ``key``: ``(hits in the current window, seconds until it ends)``."""

    async def aclose(self) -> None: ...


class MemoryCounter:
    """Counters in this process (one server process)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self.clock = clock
        self.max_keys = max_keys
        self._windows: dict[str, tuple[int, float]] = {}

    async def hit(self, key: str, window: float) -> tuple[int, float]:
        now = self.clock()
        count, ends = self._windows.get(key, (0, 0.0))
        if ends <= now:
            count, ends = 0, now + window
            if len(self._windows) >= self.max_keys:
                self._forget_expired(now)
        self._windows[key] = (count + 1, ends)
        return count + 1, ends - now

    def _forget_expired(self, now: float) -> None:
        for key in [k for k, (_, ends) in self._windows.items() if ends <= now]:
            del self._windows[key]

    async def aclose(self) -> None:
        self._windows.clear()


class RedisCounter:
    """Counters in Redis, shared by every process using the same ``url``."""

    def __init__(self, url: str) -> None:
        import redis.asyncio

        self.url = url
        self._client = redis.asyncio.Redis.from_url(url)
        self._script = self._client.register_script(_HIT_SCRIPT)

    async def hit(self, key: str, window: float) -> tuple[int, float]:
        count, ttl_ms = await self._script(keys=[KEY_PREFIX + key], args=[max(1, int(window * 1000))])
        return int(count), int(ttl_ms) / 1000

    async def aclose(self) -> None:
        await self._client.aclose()


@dataclass(frozen=True)
class Refusal:
    """A refused message: which limit, and after how many seconds to try again."""

    scope: str  # "sender" or "address"
    limit: int
    window: float
    retry_after: int

    @property
    def message(self) -> str:
        return (f"too many messages from this {self.scope}: at most {self.limit} every {self.window:g} seconds; "
                f"try again in {self.retry_after} seconds")


class RateLimiter:
    """Per-sender and per-address limits over one :class:`Counter` (0 turns a limit off)."""

    def __init__(self, counter: Counter, per_sender: int = 20, per_address: int = 60, window: float = 60.0) -> None:
        self.counter = counter
        self.per_sender = per_sender
        self.per_address = per_address
        self.window = window
        self._error_logged_at = -ERROR_LOG_INTERVAL

    async def check(self, sender: str | None = None, address: str | None = None) -> Refusal | None:
        """Count one message of ``sender`` from ``address``; a :class:`Refusal` when over a limit."""
        for scope, key, limit in (("address", address, self.per_address), ("sender", sender, self.per_sender)):
            if key is None or not limit:
                continue
            try:
                count, left = await self.counter.hit(f"{scope}:{key}", self.window)
            except Exception as exc:  # the counter's store is down: serve rather than refuse everyone
                self._log_failure(exc)
                return None
            if count > limit:
                return Refusal(scope, limit, self.window, max(1, math.ceil(left)))
        return None

    def _log_failure(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._error_logged_at >= ERROR_LOG_INTERVAL:
            self._error_logged_at = now
            logger.error("rate limits are not applied: the counter store failed (%s: %s)", type(exc).__name__, exc)

    async def aclose(self) -> None:
        await self.counter.aclose()


def build_rate_limiter(config) -> RateLimiter | None:
    """The limiter of a :class:`dialogue.guardrails.config.RateLimitConfig`; None when both limits are off."""
    if not config.enabled:
        return None
    counter = RedisCounter(config.redis_url) if config.redis_url else MemoryCounter()
    return RateLimiter(counter, config.per_sender, config.per_address, config.window_seconds)
