"""Where conversations live: tracker stores (events per conversation) and lock stores.

``create_tracker_store(config)`` builds a store from the ``tracker_store:`` section of
``endpoints.yml``::

    tracker_store:               # absent: SQLite file desk.db
      type: sql
      url: postgresql://user:pw@db.example.com/desk     # a full URL ...
    tracker_store:
      type: sql                  # ... or Rasa's keys
      dialect: postgresql
      url: db.example.com        # host (may include :port)
      port: 5432
      db: desk
      username: desk
      password: secret
    tracker_store:
      type: in_memory
"""

from __future__ import annotations

from typing import Any, Mapping
from urllib.parse import urlsplit

from sqlalchemy.engine import URL

from dialogue.stores.base import AsyncTrackerStore, ConcurrentUpdateError, TrackerStore
from dialogue.stores.handoff import HandoffStore, InMemoryHandoffStore, SQLHandoffStore
from dialogue.stores.lock import InMemoryLockStore, LockStore, LockTimeout
from dialogue.stores.memory import InMemoryTrackerStore
from dialogue.stores.sql import DEFAULT_URL, SCHEMA_VERSION, SQLTrackerStore, normalise_url

__all__ = [
    "AsyncTrackerStore",
    "ConcurrentUpdateError",
    "DEFAULT_URL",
    "HandoffStore",
    "InMemoryHandoffStore",
    "InMemoryLockStore",
    "InMemoryTrackerStore",
    "LockStore",
    "LockTimeout",
    "SCHEMA_VERSION",
    "SQLHandoffStore",
    "SQLTrackerStore",
    "TrackerStore",
    "create_tracker_store",
    "sql_url_from_config",
]

_SQL_TYPES = {"sql", "sqltrackerstore"}
_MEMORY_TYPES = {"in_memory", "inmemory", "memory", "inmemorytrackerstore"}


def sql_url_from_config(config: Mapping[str, Any]) -> str | URL:
    """The database URL of an SQL ``tracker_store`` section (Rasa's keys, or a full ``url``)."""
    host = config.get("url")
    if isinstance(host, str) and "://" in host:
        return normalise_url(host)
    dialect = str(config.get("dialect") or "sqlite")
    port = config.get("port")
    if isinstance(host, str) and host:
        # the host may carry a port: "db.example.com:5433"
        parsed = urlsplit(f"scheme://{host}")
        port = parsed.port or port
        host = parsed.hostname or host
    if dialect == "sqlite":
        return normalise_url(f"sqlite:///{config.get('db') or 'desk.db'}")
    url = URL.create(
        drivername=dialect,
        username=config.get("username"),
        password=None if config.get("password") is None else str(config.get("password")),
        host=host or None,
        port=int(port) if port not in (None, "") else None,
        database=config.get("db") or "desk",
        query=config.get("query") or {},
    )
    return normalise_url(url)


def create_tracker_store(
    config: Mapping[str, Any] | None = None, slot_defaults: Mapping[str, Any] | None = None, **kwargs: Any
) -> TrackerStore:
    """A tracker store for an ``endpoints.yml`` ``tracker_store`` section (``None``: SQLite ``desk.db``).

    ``kwargs`` go to the store's constructor (e.g. ``cache_size`` for SQL).
    """
    if not config:
        return SQLTrackerStore(DEFAULT_URL, slot_defaults, **kwargs)
    if not isinstance(config, Mapping):
        raise ValueError(f"tracker_store must be a mapping, got {type(config).__name__}")
    store_type = config.get("type")
    kind = str(store_type).lower() if store_type else "sql"
    if kind in _SQL_TYPES:
        return SQLTrackerStore(sql_url_from_config(config), slot_defaults, **kwargs)
    if kind in _MEMORY_TYPES:
        return InMemoryTrackerStore(slot_defaults)
    raise ValueError(f"unsupported tracker_store type '{store_type}' (supported: sql, in_memory)")
