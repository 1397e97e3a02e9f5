"""Database plumbing: engines, sessions and schema migrations.

The database is named by a SQLAlchemy URL: ``DESK_BACKOFFICE_URL`` when set, else
``sqlite:///backoffice.db`` (relative to the working directory). ``postgresql://`` and
``postgres://`` URLs use the psycopg 3 driver.

SQLite connections get foreign keys, WAL, a busy timeout and explicit ``BEGIN`` statements; a
transaction opened on a connection with the execution option ``backoffice_write=True`` starts with
``BEGIN IMMEDIATE`` instead, taking the write lock up front so that concurrent writers queue on the
busy timeout rather than failing when they upgrade from reading to writing.

The schema is managed by Alembic (``actions/backoffice/migrations``) and upgraded from code with
:func:`migrate`; no ``alembic.ini`` is needed.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

DEFAULT_URL = "sqlite:///backoffice.db"
URL_ENV = "DESK_BACKOFFICE_URL"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
WRITE = {"backoffice_write": True}  # execution options for a transaction that will write
_MIGRATION_LOCK_KEY = 0x626B6F66  # PostgreSQL advisory lock held while migrating

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def default_url() -> str:
    return os.environ.get(URL_ENV) or DEFAULT_URL


def normalise_url(url: str | URL | None = None) -> URL:
    """Parse ``url`` (default: :func:`default_url`); plain PostgreSQL URLs get the psycopg driver."""
    parsed = make_url(url if url is not None else default_url())
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _is_memory_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def create_engine(url: str | URL | None = None, *, busy_timeout_ms: int = 10_000, echo: bool = False) -> Engine:
    """A new engine for ``url`` (prefer :func:`engine_for`, which shares one per URL)."""
    url = normalise_url(url)
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
        dbapi_connection.isolation_level = None  # transactions are begun by the listener below
        cursor = dbapi_connection.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("backoffice_write") else "BEGIN")

    return engine


def error_message(url: str | URL | None, exc: Exception) -> str:
    """``error: <URL, password hidden>: <the database's first line>``, for the command lines."""
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    return f"error: {normalise_url(url).render_as_string(hide_password=True)}: {detail}"


def url_option() -> argparse.ArgumentParser:
    """The ``--url`` option of the back office's command lines, as an argparse parent parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", help="database URL (default: $DESK_BACKOFFICE_URL or sqlite:///backoffice.db)")
    return common


def run_command(url: str | URL | None, body: Callable[[], int]) -> int:
    """A command line's ``body()``: a database error is printed (:func:`error_message`) with exit
    status 2, and the engines are closed afterwards."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return body()
    except SQLAlchemyError as exc:
        print(error_message(url, exc), file=sys.stderr)
        return 2
    finally:
        dispose_engines()


def engine_for(url: str | URL | None = None) -> Engine:
    """The process-wide engine for ``url`` (default: :func:`default_url`)."""
    key = normalise_url(url).render_as_string(hide_password=False)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _engines[key] = create_engine(key)
        return engine


def dispose_engines() -> None:
    """Close every engine made by :func:`engine_for` (tests, or before forking)."""
    with _engines_lock:
        engines = list(_engines.values())
        _engines.clear()
    for engine in engines:
        engine.dispose()


def session_factory(url: str | URL | Engine | None = None) -> sessionmaker[Session]:
    """A ``sessionmaker`` on :func:`engine_for` ``(url)``; loaded objects stay usable after commit."""
    engine = url if isinstance(url, Engine) else engine_for(url)
    return sessionmaker(engine, expire_on_commit=False)


def begin_write(session: Session) -> None:
    """Make the session's transaction a writing one (``BEGIN IMMEDIATE`` on SQLite).

    Call it before the session's first statement; later it has no effect.
    """
    session.connection(execution_options=WRITE)


@contextmanager
def session_scope(
    url: str | URL | Engine | Callable[[], Session] | None = None, *, write: bool = False
) -> Iterator[Session]:
    """A session whose transaction commits when the block ends and rolls back on an exception.

    ``url`` is a URL, an engine or a session factory; ``write=True`` takes SQLite's write lock
    when the transaction begins.
    """
    factory = url if callable(url) and not isinstance(url, Engine) else session_factory(url)
    session = factory()
    try:
        if write:
            begin_write(session)
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# --------------------------------------------------------------------------- migrations


def alembic_config(url: str | URL | None = None):
    """An Alembic ``Config`` for the back office's migrations (no ini file)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["url"] = normalise_url(url)
    return config


def migrate(url: str | URL | None = None, revision: str = "head") -> str | None:
    """Upgrade the database at ``url`` to ``revision`` (default: the newest); returns the revision now current."""
    from alembic import command

    config = alembic_config(url)
    with engine_for(url).connect().execution_options(**WRITE) as conn, conn.begin():
        if conn.dialect.name == "postgresql":  # processes starting together migrate one at a time
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    return current_revision(url)


def current_revision(url: str | URL | None = None) -> str | None:
    """The migration revision the database is at (``None`` for an empty database)."""
    from alembic.runtime.migration import MigrationContext

    with engine_for(url).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def drop_all(url: str | URL | None = None) -> None:
    """Drop every back-office table and the migration bookkeeping table."""
    from .models import Base

    with engine_for(url).connect().execution_options(**WRITE) as conn, conn.begin():
        Base.metadata.drop_all(conn)
        conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
