"""Back-office databases for the tests: SQLite files under tmp_path and, when
``DESK_TEST_POSTGRES_URL`` names a database (e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/desk_test``),
PostgreSQL, each test in a schema of its own that is dropped afterwards.

``seeded_url`` is one seeded database per backend shared by the tests that only read;
``fresh_seeded_url`` is a private seeded copy for tests that write; ``empty_url`` is unmigrated.
"""

import shutil
import uuid

import pytest
import sqlalchemy as sa
from backoffice_helpers import BACKENDS, PG_URL, TODAY
from sqlalchemy.engine import make_url

from actions.backoffice import db
from actions.backoffice.seed import seed


@pytest.fixture(autouse=True)
def _close_engines():
    yield
    db.dispose_engines()


class PgSchemas:
    """Creates throw-away schemas in the test database; a URL per schema pins its search_path."""

    def __init__(self) -> None:
        self.base = db.normalise_url(PG_URL)
        self.admin = sa.create_engine(self.base, isolation_level="AUTOCOMMIT")

    def create(self) -> str:
        name = f"bo_test_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
        query = dict(self.base.query)
        query["options"] = f"-csearch_path={name}"
        return self.base.set(query=query).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        name = make_url(url).query["options"].split("=", 1)[1]
        db.dispose_engines()
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture(scope="session")
def pg_schemas():
    if not PG_URL:
        pytest.skip("set DESK_TEST_POSTGRES_URL to run on PostgreSQL")
    schemas = PgSchemas()
    yield schemas
    schemas.admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """A seeded SQLite file, checkpointed so that copying the one file copies the database."""
    path = tmp_path_factory.mktemp("template") / "backoffice.db"
    url = f"sqlite:///{path}"
    seed(url, today=TODAY)
    db.dispose_engines()  # the last connection to close checkpoints and removes the WAL
    assert not path.with_name(path.name + "-wal").exists()
    return path


@pytest.fixture(scope="session", params=BACKENDS)
def seeded_url(request, sqlite_template, tmp_path_factory):
    """A seeded database shared by read-only tests."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("shared") / "backoffice.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    schemas = request.getfixturevalue("pg_schemas")
    url = schemas.create()
    seed(url, today=TODAY)
    yield url
    schemas.drop(url)


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def empty_url(backend, tmp_path, request):
    """A database with nothing in it."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'backoffice.db'}"
        return
    schemas = request.getfixturevalue("pg_schemas")
    url = schemas.create()
    yield url
    schemas.drop(url)


@pytest.fixture
def fresh_seeded_url(backend, tmp_path, request):
    """A private seeded database for a test that writes."""
    if backend == "sqlite":
        path = tmp_path / "backoffice.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    schemas = request.getfixturevalue("pg_schemas")
    url = schemas.create()
    seed(url, today=TODAY)
    yield url
    schemas.drop(url)


@pytest.fixture
def migrated_url(empty_url):
    db.migrate(empty_url)
    return empty_url
