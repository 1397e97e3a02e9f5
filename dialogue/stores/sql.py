"""SQL tracker store on SQLAlchemy 2: SQLite by default, PostgreSQL by URL.

Tables::

    conversations(sender_id PK, created_at, updated_at, event_count, session_start_seq)
    events(id PK autoincrement, sender_id -> conversations, seq, type_name, timestamp,
           intent_name, action_name, data)            UNIQUE(sender_id, seq)
    desk_schema_version(version)

One row per event, numbered ``seq = 0, 1, ...`` within its conversation; ``data`` is the
event's JSON exactly as served on the wire, the other columns are for querying (they mirror
Rasa's ``events`` table). The ``(sender_id, seq)`` unique index serves every lookup (its
leading column indexes ``sender_id``) and makes two writers that both append after the same
event fail instead of interleaving their turns.

``conversations.event_count`` is the conversation's version: a turn is one transaction that
locks the conversation row (``BEGIN IMMEDIATE`` on SQLite, ``SELECT ... FOR UPDATE`` on
PostgreSQL), inserts its events and bumps the count, so either the whole turn is stored or
nothing is. ``session_start_seq`` is where the latest session begins: :meth:`retrieve` reads
only those rows (like Rasa, which loads the latest session for a turn). Each store object also
keeps the last tracker per sender in an LRU cache keyed by ``(created_at, event_count)``; a
retrieve costs one primary-key read plus the rows appended since (by this or any other process).

SQLite runs in WAL mode with ``synchronous=NORMAL`` (SQLite's default, FULL, syncs the disk on
every commit: a few milliseconds per turn). In WAL mode every transaction stays atomic and the
database consistent after any crash, power loss included, and a crash of the process loses
nothing; only durability changes: after a power loss or an OS crash, the turns committed since
the latest WAL checkpoint may be rolled back. Where every acknowledged turn must survive a power
failure, use PostgreSQL. (Should the filesystem refuse WAL, the store keeps SQLite's defaults.)

Schema management: ``metadata.create_all`` plus a ``desk_schema_version`` table rather than
Alembic. The schema is two tables that Desk alone owns; creating it needs no extra dependency or
migration environment, runs identically on SQLite and PostgreSQL, and happens automatically in
the store's constructor inside one locked transaction (safe when several server processes start
at once). A later schema change adds a numbered step to ``_MIGRATIONS``; a database written by a
newer schema version is refused rather than misread.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Iterator, Mapping

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import StaticPool

from dialogue.stores.base import ConcurrentUpdateError, TrackerStore, serialise_events, session_start_offset
from dialogue.tracker import DialogueStateTracker

DEFAULT_URL = "sqlite:///desk.db"
SCHEMA_VERSION = 1
_NAME_LENGTH = 255
_MIGRATION_LOCK_KEY = 0x6465736B  # PostgreSQL advisory lock id for schema changes

metadata = sa.MetaData()

conversations = sa.Table(
    "conversations",
    metadata,
    sa.Column("sender_id", sa.String(_NAME_LENGTH), primary_key=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("event_count", sa.Integer, nullable=False),
    sa.Column("session_start_seq", sa.Integer, nullable=False),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("sender_id", sa.String(_NAME_LENGTH), sa.ForeignKey("conversations.sender_id"), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("type_name", sa.String(_NAME_LENGTH), nullable=False),
    sa.Column("timestamp", sa.Float),
    sa.Column("intent_name", sa.String(_NAME_LENGTH)),
    sa.Column("action_name", sa.String(_NAME_LENGTH)),
    sa.Column("data", sa.Text, nullable=False),
    sa.UniqueConstraint("sender_id", "seq", name="uq_events_sender_id_seq"),
)

schema_version = sa.Table("desk_schema_version", metadata, sa.Column("version", sa.Integer, nullable=False))


def _create_v1(conn: Connection) -> None:
    metadata.create_all(conn, tables=[conversations, events])


# version -> step that brings a database from version - 1 to version
_MIGRATIONS = {1: _create_v1}


def normalise_url(url: str | URL) -> URL:
    """Parse a database URL; plain ``postgresql://`` / ``postgres://`` use the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _is_memory_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def create_sql_engine(url: URL, busy_timeout_ms: int = 5000, echo: bool = False) -> Engine:
    """An engine for the store: SQLite gets WAL, a busy timeout and explicit ``BEGIN``s."""
    if url.get_backend_name() != "sqlite":
        return sa.create_engine(url, echo=echo, pool_pre_ping=True)

    memory = _is_memory_sqlite(url)
    if not memory:
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        url,
        echo=echo,
        connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
        **({"poolclass": StaticPool} if memory else {}),
    )

    @sa.event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record) -> None:
        # Let SQLAlchemy's "begin" below open transactions instead of the sqlite3 module.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not memory:
            mode = cursor.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() == "wal":
                # Atomic and consistent after any crash; see the module docstring.
                cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # IMMEDIATE takes the write lock up front, so concurrent turns wait (busy timeout)
        # instead of failing when they upgrade from reading to writing.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("desk_write") else "BEGIN")

    return engine


def _name(value: Any) -> str | None:
    return value[:_NAME_LENGTH] if isinstance(value, str) else None


def _event_row(sender_id: str, seq: int, event: Mapping[str, Any], data: str) -> dict:
    intent = None
    if event["event"] == "user":
        parse_data = event.get("parse_data")
        if isinstance(parse_data, Mapping) and isinstance(parse_data.get("intent"), Mapping):
            intent = parse_data["intent"].get("name")
    timestamp = event.get("timestamp")
    return {
        "sender_id": sender_id,
        "seq": seq,
        "type_name": event["event"][:_NAME_LENGTH],
        "timestamp": float(timestamp) if isinstance(timestamp, (int, float)) and not isinstance(timestamp, bool) else None,
        "intent_name": _name(intent),
        "action_name": _name(event.get("name")),
        "data": data,
    }


class _Cached:
    __slots__ = ("created_at", "count", "tracker")

    def __init__(self, created_at: float, count: int, tracker: DialogueStateTracker) -> None:
        self.created_at = created_at
        self.count = count
        self.tracker = tracker  # never modified once cached


class SQLTrackerStore(TrackerStore):
    """Tracker store in a SQL database (see the module docstring for the design).

    Args:
        url: SQLAlchemy URL, e.g. ``sqlite:///desk.db`` or ``postgresql+psycopg://user:pw@host/db``.
        slot_defaults: The domain's slots and initial values.
        cache_size: How many conversations' trackers to keep in process (0 disables the cache).
        busy_timeout_ms: How long SQLite waits for another writer's lock.
    """

    def __init__(
        self,
        url: str | URL = DEFAULT_URL,
        slot_defaults: Mapping[str, Any] | None = None,
        *,
        cache_size: int = 1024,
        busy_timeout_ms: int = 5000,
        echo: bool = False,
    ) -> None:
        super().__init__(slot_defaults)
        self.url = normalise_url(url)
        self.engine = create_sql_engine(self.url, busy_timeout_ms, echo)
        self._sqlite = self.url.get_backend_name() == "sqlite"
        # An in-memory SQLite database is one connection: use it from one thread at a time.
        self._serial = threading.RLock() if _is_memory_sqlite(self.url) else None
        self._cache: OrderedDict[str, _Cached] = OrderedDict()
        self._cache_lock = threading.Lock()
        self.cache_size = cache_size
        self._ensure_schema()

    # ------------------------------------------------------------------ plumbing

    @contextmanager
    def _transaction(self, write: bool) -> Iterator[Connection]:
        with self._serial or nullcontext():
            with self.engine.connect() as conn:
                if write:
                    conn.execution_options(desk_write=True)
                with conn.begin():
                    yield conn

    def _ensure_schema(self) -> None:
        with self._transaction(write=True) as conn:
            if self.url.get_backend_name() == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
            tables = set(sa.inspect(conn).get_table_names())
            if schema_version.name in tables:
                version = conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar() or 0
            else:
                foreign = tables & {conversations.name, events.name}
                if foreign:
                    raise RuntimeError(
                        f"the database {self.url.render_as_string(hide_password=True)} already has "
                        f"table(s) {sorted(foreign)} that Desk did not create (a Rasa tracker store?); "
                        "use a separate database"
                    )
                schema_version.create(conn)
                version = 0
            if version > SCHEMA_VERSION:
                raise RuntimeError(
                    f"the database schema is version {version}, newer than this Desk's {SCHEMA_VERSION}; upgrade Desk"
                )
            if version < SCHEMA_VERSION:
                for step in range(version + 1, SCHEMA_VERSION + 1):
                    _MIGRATIONS[step](conn)
                conn.execute(sa.delete(schema_version))
                conn.execute(sa.insert(schema_version).values(version=SCHEMA_VERSION))

    def schema_version(self) -> int:
        with self._transaction(write=False) as conn:
            return conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar() or 0

    @staticmethod
    def _conversation_row(conn: Connection, sender_id: str, for_update: bool = False):
        query = sa.select(
            conversations.c.event_count, conversations.c.session_start_seq, conversations.c.created_at
        ).where(conversations.c.sender_id == sender_id)
        if for_update:
            query = query.with_for_update()
        return conn.execute(query).first()

    @staticmethod
    def _load(conn: Connection, sender_id: str, start: int, end: int) -> list[dict]:
        query = (
            sa.select(events.c.data)
            .where(events.c.sender_id == sender_id, events.c.seq >= start, events.c.seq < end)
            .order_by(events.c.seq)
        )
        return [json.loads(data) for data in conn.execute(query).scalars()]

    # ------------------------------------------------------------------ cache

    def _cache_get(self, sender_id: str) -> _Cached | None:
        with self._cache_lock:
            entry = self._cache.get(sender_id)
            if entry is not None:
                self._cache.move_to_end(sender_id)
            return entry

    def _cache_put(self, sender_id: str, entry: _Cached) -> None:
        if self.cache_size <= 0:
            return
        with self._cache_lock:
            current = self._cache.get(sender_id)
            if current is not None and current.created_at == entry.created_at and current.count > entry.count:
                return  # a newer version was cached meanwhile
            self._cache[sender_id] = entry
            self._cache.move_to_end(sender_id)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)

    def _cache_drop(self, sender_id: str) -> None:
        with self._cache_lock:
            self._cache.pop(sender_id, None)

    def _session_tracker(self, sender_id: str, tracker: DialogueStateTracker, session_start: int) -> DialogueStateTracker:
        """``tracker`` cut to start at ``session_start`` (an absolute event number)."""
        if session_start <= tracker.event_offset:
            return tracker
        tail = tracker.events[session_start - tracker.event_offset :]
        return DialogueStateTracker(sender_id, self.slot_defaults, tail, event_offset=session_start)

    # ------------------------------------------------------------------ interface

    def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        with self._transaction(write=False) as conn:
            row = self._conversation_row(conn, sender_id)
            if row is None:
                self._cache_drop(sender_id)
                return None
            count, session_start, created_at = row
            cached = self._cache_get(sender_id)
            if (
                cached is not None
                and cached.created_at == created_at
                and cached.count <= count
                and cached.tracker.event_offset <= session_start <= cached.count
            ):
                tracker = cached.tracker
                if cached.count < count:
                    tracker = tracker.copy()
                    tracker.update_many(self._load(conn, sender_id, cached.count, count))
                    tracker = self._session_tracker(sender_id, tracker, session_start)
            else:
                tracker = DialogueStateTracker(
                    sender_id, self.slot_defaults, self._load(conn, sender_id, session_start, count), session_start
                )
        self._cache_put(sender_id, _Cached(created_at, count, tracker))
        return tracker.copy()

    def retrieve_full(self, sender_id: str) -> DialogueStateTracker | None:
        with self._transaction(write=False) as conn:
            row = self._conversation_row(conn, sender_id)
            if row is None:
                return None
            loaded = self._load(conn, sender_id, 0, row.event_count)
        return DialogueStateTracker(sender_id, self.slot_defaults, loaded)

    def append(self, sender_id: str, new_events: list[Mapping[str, Any]], expected_count: int | None = None) -> int:
        texts = serialise_events(new_events)  # fails before the database is touched
        stored = [json.loads(text) for text in texts]  # exactly what a later load returns
        attempts = 1 if expected_count is not None else 3
        for attempt in range(attempts):
            try:
                return self._append_once(sender_id, texts, stored, expected_count)
            except IntegrityError as exc:
                # Another writer created the conversation or took these sequence numbers first.
                if attempt == attempts - 1:
                    raise ConcurrentUpdateError(
                        f"conversation '{sender_id}' was changed by another writer; the turn was not stored"
                    ) from exc
        raise AssertionError("unreachable")

    def _append_once(self, sender_id: str, texts: list[str], stored: list[dict], expected_count: int | None) -> int:
        now = time.time()
        with self._transaction(write=True) as conn:
            row = self._conversation_row(conn, sender_id, for_update=True)
            count, session_start, created_at = row if row is not None else (0, 0, now)
            if expected_count is not None and expected_count != count:
                raise ConcurrentUpdateError(
                    f"conversation '{sender_id}' has {count} events, the turn was built on {expected_count}"
                )
            if not texts:
                return count
            if row is None:
                conn.execute(
                    sa.insert(conversations).values(
                        sender_id=sender_id, created_at=now, updated_at=now, event_count=0, session_start_seq=0
                    )
                )
            previous = None
            if count and stored[0]["event"] == "session_started":
                previous = self._load(conn, sender_id, count - 1, count)[0]
            start = session_start_offset(stored, previous)
            if start is not None:
                session_start = count + start
            conn.execute(
                sa.insert(events),
                [_event_row(sender_id, count + i, event, text) for i, (event, text) in enumerate(zip(stored, texts))],
            )
            self._update_conversation(conn, sender_id, count + len(texts), session_start, now)
        self._cache_after_append(sender_id, created_at, count, stored, session_start)
        return count + len(texts)

    @staticmethod
    def _update_conversation(conn: Connection, sender_id: str, count: int, session_start: int, now: float) -> None:
        conn.execute(
            sa.update(conversations)
            .where(conversations.c.sender_id == sender_id)
            .values(event_count=count, session_start_seq=session_start, updated_at=now)
        )

    def _cache_after_append(
        self, sender_id: str, created_at: float, old_count: int, stored: list[dict], session_start: int
    ) -> None:
        cached = self._cache_get(sender_id)
        try:
            if old_count == 0:
                tracker = DialogueStateTracker(sender_id, self.slot_defaults)
            elif cached is not None and cached.created_at == created_at and cached.count == old_count:
                tracker = cached.tracker.copy()
            else:
                self._cache_drop(sender_id)
                return
            tracker.update_many(stored)
            tracker = self._session_tracker(sender_id, tracker, session_start)
        except Exception:  # the cache is an optimisation; the database is the truth
            self._cache_drop(sender_id)
            return
        self._cache_put(sender_id, _Cached(created_at, old_count + len(stored), tracker))

    def event_count(self, sender_id: str) -> int:
        with self._transaction(write=False) as conn:
            row = self._conversation_row(conn, sender_id)
            return row.event_count if row is not None else 0

    def keys(self) -> list[str]:
        with self._transaction(write=False) as conn:
            return list(conn.execute(sa.select(conversations.c.sender_id).order_by(conversations.c.sender_id)).scalars())

    def delete(self, sender_id: str) -> bool:
        with self._transaction(write=True) as conn:
            conn.execute(sa.delete(events).where(events.c.sender_id == sender_id))
            deleted = conn.execute(sa.delete(conversations).where(conversations.c.sender_id == sender_id)).rowcount
        self._cache_drop(sender_id)
        return deleted > 0

    def close(self) -> None:
        self._cache.clear()
        self.engine.dispose()
