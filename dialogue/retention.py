"""How long each store keeps its data, and deleting what is older (``desk retention apply``).

``privacy.retention_days`` in config.yml (``null``: kept for ever); the defaults::

    privacy:
      retention_days:
        conversations: 90    # tracker store: conversations not updated for this long
        handoffs: 365        # handoff records, from their creation
        outbox: 30           # the back office's sent notifications (unsent ones are kept)
        audit: 2555          # the back office's audit records (7 years), the chain start moves

Conversations and handoff records are deleted here (an SQL tracker store; an in-memory store
keeps nothing to delete); the back office's outbox and audit log by the action code
(``python -m actions.privacy retention``), run by the command line.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Mapping

import sqlalchemy as sa

from dialogue.stores import SQLTrackerStore, TrackerStore
from dialogue.stores.handoff import handoffs
from dialogue.stores.sql import conversations

DAY = 86400.0
DEFAULT_DAYS = {"conversations": 90, "handoffs": 365, "outbox": 30, "audit": 2555}


@dataclass(frozen=True)
class RetentionConfig:
    days: Mapping[str, float | None]

    @classmethod
    def from_config(cls, privacy: Any, source: str = "config.yml") -> "RetentionConfig":
        section = (privacy or {}).get("retention_days") if isinstance(privacy, Mapping) else None
        days: dict[str, float | None] = dict(DEFAULT_DAYS)
        if section is None:
            return cls(days)
        if not isinstance(section, Mapping):
            raise ValueError(f"{source}: privacy.retention_days must map stores ({', '.join(DEFAULT_DAYS)}) to days")
        for store, value in section.items():
            if store not in DEFAULT_DAYS:
                raise ValueError(f"{source}: privacy.retention_days: unknown store {store!r} (expected one of: {', '.join(DEFAULT_DAYS)})")
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0):
                raise ValueError(f"{source}: privacy.retention_days.{store} must be a positive number of days or null")
            days[store] = value
        return cls(days)


def apply_retention(store: TrackerStore, config: RetentionConfig, *, dry_run: bool = False,
                    now: float | None = None) -> dict[str, int]:
    """Delete conversations and handoff records older than their periods from ``store``'s
    database; returns how many (would be, with ``dry_run``) deleted."""
    counts = {"conversations": 0, "handoffs": 0}
    if not isinstance(store, SQLTrackerStore):
        return counts
    now = time.time() if now is None else now
    days = config.days
    if days["conversations"] is not None:
        cutoff = now - days["conversations"] * DAY
        with store.engine.connect() as conn:
            stale = list(conn.execute(sa.select(conversations.c.sender_id).where(conversations.c.updated_at < cutoff)).scalars())
        counts["conversations"] = len(stale)
        if not dry_run:
            for sender_id in stale:
                store.delete(sender_id)
    if days["handoffs"] is not None and sa.inspect(store.engine).has_table(handoffs.name):
        cutoff = now - days["handoffs"] * DAY
        old = handoffs.c.created_at < cutoff
        with store.engine.begin() as conn:
            if dry_run:
                counts["handoffs"] = conn.execute(sa.select(sa.func.count()).select_from(handoffs).where(old)).scalar()
            else:
                counts["handoffs"] = conn.execute(sa.delete(handoffs).where(old)).rowcount
    return counts
