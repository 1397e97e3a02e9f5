"""Constants shared by the back-office tests (a plain module: conftest files are not importable by name)."""

import os
from datetime import date

import pytest

from actions.backoffice.seed import seed_now

TODAY = date(2025, 6, 2)  # a Monday
NOW = seed_now(TODAY)
PG_URL = os.environ.get("DESK_TEST_POSTGRES_URL")
needs_pg = pytest.mark.skipif(not PG_URL, reason="set DESK_TEST_POSTGRES_URL to run on PostgreSQL")
BACKENDS = ["sqlite", pytest.param("postgresql", marks=needs_pg)]


def clock():
    return NOW
