"""Handoff records: conversations waiting for (or taken over by) a person.

A record is the dict :func:`dialogue.handoff.build_record` makes (summary, intent, slots,
actions and their outcomes, last message, sentiment, reason, ``created_at``); the store adds
``id``, ``status`` ("pending" or "resolved"), ``resolved_by`` and ``resolved_at``.

:class:`SQLHandoffStore` keeps them in a ``handoffs`` table of the tracker store's database
(pass the :class:`~dialogue.stores.sql.SQLTrackerStore`'s engine, or a URL)::

    handoffs(id PK autoincrement, sender_id, created_at, reason, status, resolved_by,
             resolved_at, data)       INDEX(sender_id), INDEX(status)

``data`` is the record as JSON. :class:`InMemoryHandoffStore` keeps them in process.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from abc import ABC, abstractmethod
from contextlib import nullcontext
from typing import Any, Mapping

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine

from dialogue.stores.sql import create_sql_engine, normalise_url

PENDING = "pending"
RESOLVED = "resolved"

_metadata = sa.MetaData()
handoffs = sa.Table(
    "handoffs",
    _metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("sender_id", sa.String(255), nullable=False, index=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("reason", sa.String(255)),
    sa.Column("status", sa.String(32), nullable=False, index=True),
    sa.Column("resolved_by", sa.String(255)),
    sa.Column("resolved_at", sa.Float),
    sa.Column("data", sa.Text, nullable=False),
)


class HandoffStore(ABC):
    @abstractmethod
    def record(self, sender_id: str, record: Mapping[str, Any]) -> dict:
        """Store a new pending handoff of the conversation; returns it as stored."""

    @abstractmethod
    def get(self, sender_id: str) -> dict | None:
        """The conversation's latest handoff, or None."""

    @abstractmethod
    def pending(self) -> list[dict]:
        """Every unresolved handoff, oldest first."""

    @abstractmethod
    def resolve(self, sender_id: str, agent: str | None = None) -> bool:
        """Mark the conversation's pending handoffs resolved; False when it had none."""

    def close(self) -> None:
        """Release resources."""


def _stored(sender_id: str, record: Mapping[str, Any], record_id: int) -> dict:
    out = copy.deepcopy(dict(record))
    out["id"] = record_id
    out["sender_id"] = sender_id
    out.setdefault("created_at", time.time())
    out["status"] = PENDING
    out["resolved_by"] = None
    out["resolved_at"] = None
    return out


class InMemoryHandoffStore(HandoffStore):
    def __init__(self) -> None:
        self._records: list[dict] = []
        self._lock = threading.Lock()

    def record(self, sender_id: str, record: Mapping[str, Any]) -> dict:
        with self._lock:
            stored = _stored(sender_id, record, len(self._records) + 1)
            json.dumps(stored)  # same contract as the SQL store: JSON only
            self._records.append(stored)
            return copy.deepcopy(stored)

    def get(self, sender_id: str) -> dict | None:
        with self._lock:
            found = [r for r in self._records if r["sender_id"] == sender_id]
            return copy.deepcopy(found[-1]) if found else None

    def pending(self) -> list[dict]:
        with self._lock:
            return [copy.deepcopy(r) for r in self._records if r["status"] == PENDING]

    def resolve(self, sender_id: str, agent: str | None = None) -> bool:
        now = time.time()
        with self._lock:
            found = [r for r in self._records if r["sender_id"] == sender_id and r["status"] == PENDING]
            for record in found:
                record.update(status=RESOLVED, resolved_by=agent, resolved_at=now)
            return bool(found)


class SQLHandoffStore(HandoffStore):
    """Handoffs in SQL. ``engine``: share the tracker store's (``SQLTrackerStore.engine``);
    ``lock``: serialises access when that engine is a single in-memory SQLite connection."""

    def __init__(self, engine: Engine | None = None, url: str | URL | None = None, lock: Any = None) -> None:
        if engine is None:
            if url is None:
                raise ValueError("SQLHandoffStore needs an engine or a url")
            engine = create_sql_engine(normalise_url(url))
            self._owns_engine = True
        else:
            self._owns_engine = False
        self.engine = engine
        self._lock = lock
        with self._guard(), self.engine.begin() as conn:
            _metadata.create_all(conn, tables=[handoffs])

    def _guard(self):
        return self._lock if self._lock is not None else nullcontext()

    @staticmethod
    def row_to_record(row) -> dict:
        record = json.loads(row.data)
        record.update(
            id=row.id,
            sender_id=row.sender_id,
            status=row.status,
            resolved_by=row.resolved_by,
            resolved_at=row.resolved_at,
        )
        return record

    def record(self, sender_id: str, record: Mapping[str, Any]) -> dict:
        stored = _stored(sender_id, record, 0)
        data = {k: v for k, v in stored.items() if k not in ("id", "status", "resolved_by", "resolved_at")}
        text = json.dumps(data, ensure_ascii=False)
        with self._guard(), self.engine.begin() as conn:
            result = conn.execute(
                sa.insert(handoffs).values(
                    sender_id=sender_id,
                    created_at=float(stored["created_at"]),
                    reason=str(stored.get("reason") or "")[:255] or None,
                    status=PENDING,
                    data=text,
                )
            )
            stored["id"] = result.inserted_primary_key[0]
        return stored

    def get(self, sender_id: str) -> dict | None:
        query = sa.select(handoffs).where(handoffs.c.sender_id == sender_id).order_by(handoffs.c.id.desc()).limit(1)
        with self._guard(), self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else self.row_to_record(row)

    def pending(self) -> list[dict]:
        query = sa.select(handoffs).where(handoffs.c.status == PENDING).order_by(handoffs.c.id)
        with self._guard(), self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [self.row_to_record(row) for row in rows]

    def resolve(self, sender_id: str, agent: str | None = None) -> bool:
        with self._guard(), self.engine.begin() as conn:
            result = conn.execute(
                sa.update(handoffs)
                .where(handoffs.c.sender_id == sender_id, handoffs.c.status == PENDING)
                .values(status=RESOLVED, resolved_by=agent, resolved_at=time.time())
            )
        return result.rowcount > 0

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()
