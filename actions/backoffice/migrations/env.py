"""Alembic environment for the back office.

Run from code by :func:`actions.backoffice.db.migrate`, which passes an open connection in
``config.attributes["connection"]``. Without one, the URL comes from ``config.attributes["url"]``,
the ``sqlalchemy.url`` option, or ``DESK_BACKOFFICE_URL``.
"""

from alembic import context

from actions.backoffice.db import engine_for, normalise_url
from actions.backoffice.models import Base

# Only set during an Alembic run: the action server imports every module under actions/,
# this one included, and then it must do nothing.
config = getattr(context, "config", None)
target_metadata = Base.metadata


def _url():
    return config.attributes.get("url") or normalise_url(config.get_main_option("sqlalchemy.url") or None)


def _configure(**kwargs) -> None:
    context.configure(
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite needs table rebuilds for most ALTERs
        compare_type=True,
        **kwargs,
    )


def run_offline() -> None:
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    with engine_for(_url()).begin() as connection:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()


if config is None:
    pass
elif context.is_offline_mode():
    run_offline()
else:
    run_online()
