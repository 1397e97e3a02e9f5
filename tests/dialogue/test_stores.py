"""Tracker stores (in memory, SQLite, PostgreSQL) and the lock store.

The PostgreSQL cases run when ``DESK_TEST_POSTGRES_URL`` names a database, e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/desk_test``.
"""

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from dialogue import events as ev
from dialogue.stores import (
    AsyncTrackerStore,
    ConcurrentUpdateError,
    InMemoryLockStore,
    InMemoryTrackerStore,
    LockTimeout,
    SQLTrackerStore,
    create_tracker_store,
    sql_url_from_config,
)
from dialogue.stores import sql as sql_module
from dialogue.tracker import DialogueStateTracker

SLOTS = {"city": None, "count": 0}
PG_URL = os.environ.get("DESK_TEST_POSTGRES_URL")
needs_pg = pytest.mark.skipif(not PG_URL, reason="set DESK_TEST_POSTGRES_URL to run on PostgreSQL")
SQL_BACKENDS = ["sqlite", pytest.param("postgresql", marks=needs_pg)]


def session_start():
    return [ev.action_executed("action_session_start"), ev.session_started(), ev.action_executed("action_listen")]


def turn(i: int) -> list[dict]:
    return [
        ev.user_uttered(f"message {i}", {"intent": {"name": "inform", "confidence": 0.9}, "entities": []}, "rest"),
        ev.slot_set("count", i),
        ev.bot_uttered(f"reply {i}"),
        ev.action_executed("action_listen"),
    ]


def as_json(events) -> str:
    return json.dumps(list(events))


@pytest.fixture
def prefix() -> str:
    return f"t-{uuid.uuid4().hex[:12]}-"


@pytest.fixture(params=SQL_BACKENDS)
def sql_url(request, tmp_path):
    return f"sqlite:///{tmp_path / 'desk.db'}" if request.param == "sqlite" else PG_URL


@pytest.fixture
def open_sql(sql_url, prefix):
    """Opens store objects on one database: each one stands for a separate server process."""
    stores = []

    def make(**kwargs) -> SQLTrackerStore:
        store = SQLTrackerStore(sql_url, SLOTS, **kwargs)
        stores.append(store)
        return store

    yield make
    if stores:
        for key in stores[0].keys():
            if key.startswith(prefix):
                stores[0].delete(key)
    for store in stores:
        store.close()


@pytest.fixture(params=["memory", *SQL_BACKENDS])
def store(request, tmp_path, prefix):
    if request.param == "memory":
        yield InMemoryTrackerStore(SLOTS)
        return
    url = f"sqlite:///{tmp_path / 'desk.db'}" if request.param == "sqlite" else PG_URL
    s = SQLTrackerStore(url, SLOTS)
    yield s
    for key in s.keys():
        if key.startswith(prefix):
            s.delete(key)
    s.close()


def fill(store, sender_id, turns: int) -> list[dict]:
    events = session_start()
    store.append(sender_id, events)
    for i in range(turns):
        new = turn(i)
        store.append(sender_id, new)
        events += new
    return events


# --------------------------------------------------------------------------- every store


def test_round_trip(store, prefix):
    sid = prefix + "a"
    events = fill(store, sid, 5)
    tracker = store.retrieve(sid)
    expected = DialogueStateTracker(sid, SLOTS, events)
    assert as_json(tracker.events) == as_json(events)
    assert tracker.current_state() == expected.current_state()
    assert json.dumps(tracker.current_state()) == json.dumps(expected.current_state())
    assert as_json(store.retrieve_full(sid).events) == as_json(events)
    assert store.event_count(sid) == len(events)
    assert store.exists(sid) and sid in store.keys()
    assert store.delete(sid) is True
    assert store.retrieve(sid) is None and not store.exists(sid) and sid not in store.keys()
    assert store.delete(sid) is False


def test_missing_conversation(store, prefix):
    sid = prefix + "nobody"
    assert store.retrieve(sid) is None and store.retrieve_full(sid) is None
    assert store.event_count(sid) == 0 and not store.exists(sid)
    fresh = store.retrieve_or_new(sid)
    assert fresh.sender_id == sid and fresh.events == [] and fresh.slots == SLOTS
    assert store.append(sid, []) == 0 and not store.exists(sid)


def test_two_thousand_events(store, prefix):
    sid = prefix + "long"
    events = fill(store, sid, 500)
    assert len(events) == 2003
    start = time.perf_counter()
    tracker = store.retrieve(sid)
    assert time.perf_counter() - start < 2.0
    assert as_json(tracker.events) == as_json(events)
    assert tracker.get_slot("count") == 499
    if isinstance(store, SQLTrackerStore):
        cold = SQLTrackerStore(store.url, SLOTS)
        start = time.perf_counter()
        tracker = cold.retrieve(sid)
        assert time.perf_counter() - start < 2.0
        assert as_json(tracker.events) == as_json(events)
        cold.close()


def test_retrieved_trackers_belong_to_the_caller(store, prefix):
    sid = prefix + "own"
    fill(store, sid, 2)
    mine = store.retrieve(sid)
    mine.update(ev.slot_set("city", "Oslo"))
    assert store.retrieve(sid).get_slot("city") is None
    assert store.retrieve(sid).events == store.retrieve(sid).events


def test_unserialisable_event_leaves_the_store_unchanged(store, prefix):
    sid = prefix + "atomic"
    events = fill(store, sid, 3)
    bad_turn = [ev.user_uttered("x"), ev.slot_set("city", object()), ev.action_executed("action_listen")]
    with pytest.raises(ValueError, match="cannot be stored as JSON"):
        store.append(sid, bad_turn)
    with pytest.raises(ValueError, match="not a known event"):
        store.append(sid, [ev.slot_set("city", "Oslo"), {"event": "nonsense"}])
    assert store.event_count(sid) == len(events)
    assert as_json(store.retrieve(sid).events) == as_json(events)
    assert as_json(store.retrieve_full(sid).events) == as_json(events)
    with pytest.raises(ValueError):
        store.append(prefix + "new", bad_turn)
    assert not store.exists(prefix + "new")


def test_stale_turn_is_rejected(store, prefix):
    sid = prefix + "stale"
    fill(store, sid, 1)
    first, second = store.retrieve(sid), store.retrieve(sid)
    version = first.event_offset + len(first.events)
    assert store.append(sid, turn(10), expected_count=version) == version + 4
    with pytest.raises(ConcurrentUpdateError):
        store.append(sid, turn(20), expected_count=second.event_offset + len(second.events))
    assert store.retrieve(sid).get_slot("count") == 10
    assert store.event_count(sid) == version + 4
    with pytest.raises(ConcurrentUpdateError):
        store.append(prefix + "brand-new", turn(1), expected_count=3)
    assert store.append(prefix + "brand-new", session_start(), expected_count=0) == 3


def test_retrieve_loads_the_current_session(store, prefix):
    sid = prefix + "sessions"
    first = fill(store, sid, 2)
    second = [
        ev.action_executed("action_session_start"),
        ev.session_started(),
        ev.slot_set("city", "Oslo"),
        ev.action_executed("action_listen"),
    ]
    seventh = turn(7)
    store.append(sid, second + seventh)
    tracker = store.retrieve(sid)
    assert tracker.event_offset == len(first)
    assert as_json(tracker.events) == as_json(second + seventh)
    assert tracker.get_slot("city") == "Oslo" and tracker.get_slot("count") == 7
    assert len(store.retrieve_full(sid).events) == len(first) + 8
    # the tracker's version is offset + length
    store.append(sid, turn(8), expected_count=tracker.event_offset + len(tracker.events))
    # a session start split over two turns still begins at action_session_start
    store.append(sid, [ev.action_executed("action_session_start")])
    store.append(sid, [ev.session_started(), ev.action_executed("action_listen")])
    tracker = store.retrieve(sid)
    assert [e["event"] for e in tracker.events] == ["action", "session_started", "action"]
    assert tracker.events[0]["name"] == "action_session_start"
    assert tracker.event_offset == len(first) + 12


def test_async_wrapper(store, prefix):
    async def main():
        wrapped = AsyncTrackerStore(store)
        sids = [prefix + str(i) for i in range(5)]
        await asyncio.gather(*(wrapped.append(sid, session_start()) for sid in sids))
        trackers = await asyncio.gather(*(wrapped.retrieve(sid) for sid in sids))
        assert [t.sender_id for t in trackers] == sids
        assert await wrapped.exists(sids[0]) and await wrapped.event_count(sids[0]) == 3
        assert set(sids) <= set(await wrapped.keys())
        assert (await wrapped.retrieve_or_new(prefix + "x")).events == []
        assert len((await wrapped.retrieve_full(sids[0])).events) == 3
        assert await wrapped.delete(sids[0])

    asyncio.run(main())


# --------------------------------------------------------------------------- SQL


def rows(store: SQLTrackerStore, sid: str) -> list[int]:
    with store.engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(sql_module.events.c.seq).where(sql_module.events.c.sender_id == sid).order_by(sql_module.events.c.id)
            ).scalars()
        )


def test_crash_in_the_middle_of_a_turn_is_rolled_back(open_sql, prefix, monkeypatch):
    store = open_sql()
    sid = prefix + "crash"
    events = fill(store, sid, 2)

    def crash(*args, **kwargs):
        raise RuntimeError("power cut")

    monkeypatch.setattr(SQLTrackerStore, "_update_conversation", staticmethod(crash))
    with pytest.raises(RuntimeError, match="power cut"):
        store.append(sid, turn(5))  # its rows were inserted before the crash
    with pytest.raises(RuntimeError):
        store.append(prefix + "new", session_start())
    monkeypatch.undo()

    assert rows(store, sid) == list(range(len(events)))
    assert not store.exists(prefix + "new") and rows(store, prefix + "new") == []
    for reader in (store, open_sql()):
        assert reader.event_count(sid) == len(events)
        assert as_json(reader.retrieve(sid).events) == as_json(events)
    store.append(sid, turn(6))
    assert rows(store, sid) == list(range(len(events) + 4))
    assert store.retrieve(sid).get_slot("count") == 6


def test_two_processes_see_each_others_writes(open_sql, prefix):
    a, b = open_sql(), open_sql()
    sid = prefix + "shared"
    events = fill(a, sid, 2)
    assert as_json(b.retrieve(sid).events) == as_json(events)  # b caches it now
    b.append(sid, turn(3))
    assert a.retrieve(sid).get_slot("count") == 3  # a's cache is refreshed from the database
    a.append(sid, turn(4))
    assert b.retrieve(sid).get_slot("count") == 4
    assert as_json(a.retrieve(sid).events) == as_json(b.retrieve(sid).events)
    # deleted and recreated elsewhere: no stale cache
    assert a.delete(sid)
    assert b.retrieve(sid) is None
    b.append(sid, session_start())
    a_view = a.retrieve(sid)
    assert len(a_view.events) == 3 and a_view.get_slot("count") == 0


def test_a_separate_process_sees_and_extends_the_conversation(open_sql, prefix):
    store = open_sql()
    sid = prefix + "proc"
    fill(store, sid, 2)
    store.retrieve(sid)  # cached in this process
    child = (
        "import sys; from dialogue.stores import SQLTrackerStore; from dialogue import events as ev\n"
        "s = SQLTrackerStore(sys.argv[1], {'city': None, 'count': 0})\n"
        "t = s.retrieve(sys.argv[2])\n"
        "assert t.get_slot('count') == 1, t.slots\n"
        "s.append(sys.argv[2], [ev.slot_set('city', 'Lima')], expected_count=t.event_offset + len(t.events))\n"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run(
        [sys.executable, "-c", child, store.url.render_as_string(hide_password=False), sid],
        check=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        timeout=60,
    )
    assert store.retrieve(sid).get_slot("city") == "Lima"
    assert store.event_count(sid) == 12


def test_cached_retrieve_reads_only_new_rows(open_sql, prefix, monkeypatch):
    a, b = open_sql(), open_sql()
    sid = prefix + "cache"
    events = fill(a, sid, 300)
    a.retrieve(sid)
    loads = []
    original = SQLTrackerStore._load

    def spy(conn, sender_id, start, end):
        loads.append((start, end))
        return original(conn, sender_id, start, end)

    monkeypatch.setattr(SQLTrackerStore, "_load", staticmethod(spy))
    a.retrieve(sid)
    assert loads == []  # unchanged: nothing read but the conversation row
    b.append(sid, turn(1000))
    tracker = a.retrieve(sid)
    assert loads == [(len(events), len(events) + 4)]
    assert tracker.get_slot("count") == 1000


def test_sequence_numbers_are_unique_per_conversation(open_sql, prefix):
    store = open_sql()
    sid = prefix + "seq"
    fill(store, sid, 1)
    row = {"sender_id": sid, "seq": 2, "type_name": "slot", "timestamp": 1.0, "intent_name": None, "action_name": "x", "data": "{}"}
    with pytest.raises(IntegrityError):
        with store.engine.begin() as conn:
            conn.execute(sa.insert(sql_module.events).values(**row))
    assert rows(store, sid) == list(range(7))


def test_concurrent_turns_never_interleave(open_sql, prefix):
    stores = [open_sql(), open_sql()]
    sid = prefix + "busy"
    errors = []

    def writer(store, worker):
        try:
            for i in range(15):
                store.append(sid, [ev.slot_set("count", worker), ev.bot_uttered(f"{worker}-{i}"), ev.action_executed("action_listen")])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(stores[w % 2], w)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    stored = stores[0].retrieve_full(sid).events
    assert len(stored) == 6 * 15 * 3 and rows(stores[0], sid) == list(range(len(stored)))
    for start in range(0, len(stored), 3):
        slot, bot, listen = stored[start : start + 3]
        assert slot["event"] == "slot" and bot["event"] == "bot" and listen["event"] == "action"
        assert bot["text"].split("-")[0] == str(slot["value"])
    assert stores[1].retrieve(sid).events == stored


def test_columns_mirror_the_event(open_sql, prefix):
    store = open_sql()
    sid = prefix + "cols"
    store.append(sid, session_start() + turn(1))
    with store.engine.connect() as conn:
        got = conn.execute(
            sa.select(
                sql_module.events.c.type_name,
                sql_module.events.c.intent_name,
                sql_module.events.c.action_name,
                sql_module.events.c.timestamp,
                sql_module.events.c.data,
            )
            .where(sql_module.events.c.sender_id == sid)
            .order_by(sql_module.events.c.seq)
        ).all()
    assert [g.type_name for g in got] == ["action", "session_started", "action", "user", "slot", "bot", "action"]
    assert got[3].intent_name == "inform" and got[0].action_name == "action_session_start" and got[4].action_name == "count"
    assert all(isinstance(g.timestamp, float) for g in got)
    assert json.loads(got[3].data)["text"] == "message 1"


def test_schema_is_versioned(open_sql):
    store = open_sql()
    assert store.schema_version() == sql_module.SCHEMA_VERSION
    assert open_sql().schema_version() == sql_module.SCHEMA_VERSION  # reopening is fine


def test_sqlite_uses_wal_and_a_busy_timeout(tmp_path):
    store = SQLTrackerStore(f"sqlite:///{tmp_path / 'x' / 'desk.db'}", SLOTS, busy_timeout_ms=1234)
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1234
    store.close()


def test_newer_or_foreign_schemas_are_refused(tmp_path):
    newer = f"sqlite:///{tmp_path / 'newer.db'}"
    SQLTrackerStore(newer).close()
    engine = sa.create_engine(newer)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE desk_schema_version SET version = 99")
    with pytest.raises(RuntimeError, match="newer"):
        SQLTrackerStore(newer)
    rasa = f"sqlite:///{tmp_path / 'rasa.db'}"
    with sa.create_engine(rasa).begin() as conn:
        conn.exec_driver_sql("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id TEXT, data TEXT)")
    with pytest.raises(RuntimeError, match="did not create"):
        SQLTrackerStore(rasa)


def test_in_memory_sqlite(prefix):
    store = SQLTrackerStore("sqlite://", SLOTS)
    events = fill(store, prefix + "m", 3)
    assert as_json(store.retrieve(prefix + "m").events) == as_json(events)
    store.close()


# --------------------------------------------------------------------------- factory


def test_factory_defaults_to_a_sqlite_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = create_tracker_store(None, SLOTS)
    assert isinstance(store, SQLTrackerStore) and str(store.url) == "sqlite:///desk.db"
    assert store.slot_defaults == SLOTS
    store.append("u", session_start())
    assert (tmp_path / "desk.db").exists()
    store.close()


def test_factory_reads_endpoint_sections(tmp_path):
    assert isinstance(create_tracker_store({"type": "in_memory"}), InMemoryTrackerStore)
    store = create_tracker_store({"type": "SQL", "db": str(tmp_path / "rasa_keys.db")})
    assert isinstance(store, SQLTrackerStore) and store.url.database == str(tmp_path / "rasa_keys.db")
    store.close()
    store = create_tracker_store({"type": "sql", "url": f"sqlite:///{tmp_path / 'full.db'}"}, cache_size=0)
    assert store.cache_size == 0
    store.close()
    with pytest.raises(ValueError, match="unsupported tracker_store type 'redis'"):
        create_tracker_store({"type": "redis", "url": "localhost"})


def test_sql_urls_from_rasa_keys():
    url = sql_url_from_config(
        {"type": "sql", "dialect": "postgresql", "url": "db.example.com:5433", "db": "desk", "username": "u", "password": "p@ss"}
    )
    assert url.drivername == "postgresql+psycopg"
    assert (url.host, url.port, url.database, url.username, url.password) == ("db.example.com", 5433, "desk", "u", "p@ss")
    url = sql_url_from_config({"dialect": "postgresql", "url": "db", "port": 5432, "db": "x"})
    assert (url.host, url.port) == ("db", 5432)
    assert sql_url_from_config({"url": "postgres://u:p@h/db"}).drivername == "postgresql+psycopg"
    assert str(sql_url_from_config({"type": "sql"})) == "sqlite:///desk.db"


# --------------------------------------------------------------------------- lock store


def test_one_sender_is_processed_one_message_at_a_time():
    locks = InMemoryLockStore()
    log = []

    async def handle(name, hold):
        async with locks.lock("u1"):
            log.append(f"{name} in")
            await asyncio.sleep(hold)
            log.append(f"{name} out")

    async def main():
        first = asyncio.create_task(handle("a", 0.05))
        await asyncio.sleep(0)  # a holds the lock
        assert locks.is_locked("u1")
        await asyncio.gather(first, handle("b", 0), handle("c", 0))

    asyncio.run(main())
    assert log == ["a in", "a out", "b in", "b out", "c in", "c out"]
    assert len(locks) == 0 and not locks.is_locked("u1")


def test_different_senders_proceed_concurrently():
    locks = InMemoryLockStore()
    inside = set()
    overlapped = []

    async def handle(sender):
        async with locks.lock(sender):
            inside.add(sender)
            await asyncio.sleep(0.02)
            overlapped.append(set(inside))
            inside.discard(sender)

    async def main():
        start = time.perf_counter()
        await asyncio.gather(*(handle(f"u{i}") for i in range(20)))
        return time.perf_counter() - start

    elapsed = asyncio.run(main())
    assert max(len(s) for s in overlapped) == 20
    assert elapsed < 0.02 * 20 / 2
    assert len(locks) == 0


def test_waiters_are_served_in_arrival_order():
    locks = InMemoryLockStore()
    order = []

    async def handle(i):
        async with locks.lock("u"):
            order.append(i)
            await asyncio.sleep(0)

    async def main():
        await asyncio.gather(*(handle(i) for i in range(10)))

    asyncio.run(main())
    assert order == list(range(10))


def test_idle_locks_are_cleaned_up_after_errors_timeouts_and_cancellation():
    locks = InMemoryLockStore()

    async def main():
        with pytest.raises(KeyError):
            async with locks.lock("err"):
                raise KeyError("boom")
        assert len(locks) == 0

        holder_in, release = asyncio.Event(), asyncio.Event()

        async def holder():
            async with locks.lock("u"):
                holder_in.set()
                await release.wait()

        task = asyncio.create_task(holder())
        await holder_in.wait()
        with pytest.raises(LockTimeout):
            async with locks.lock("u", timeout=0.01):
                pass
        waiter = asyncio.create_task(locks.lock("u").__aenter__())
        await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert len(locks) == 1  # only the holder's
        release.set()
        await task
        assert len(locks) == 0

        for i in range(1000):
            async with locks.lock(f"sender-{i}"):
                pass
        assert len(locks) == 0

    asyncio.run(main())
