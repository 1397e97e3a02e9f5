"""The HTTP API fuzzed from its own OpenAPI description (schemathesis) over a real socket.

A real server on the shop project, with a token configured so the authenticated endpoints are
reached and the repository's rasa-sdk action server (on a seeded back office holding a refund for
approval) behind ``/approvals``, serves ``/openapi.json``; schemathesis loads it from that URL and sends every operation
schema-conforming (positive) and schema-violating (negative) requests. Every answer must be a
non-5xx response that conforms to the description (status code, content type, body schema).
Examples are bounded and derandomized, so a run is repeatable and short.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import schemathesis
import sqlalchemy as sa
from fuzz_inputs import fuzz_settings
from hypothesis import given
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)
from test_approvals_api import DELIVERED, free_port, hold_refund
from test_http_api import load_shop, shop_project

from dialogue.auth import AuthSettings
from dialogue.openapi import openapi_document
from dialogue.server import ActionServerProcess, ServerSettings, ServerThread, build_app

REPO = Path(__file__).resolve().parents[2]

TOKEN = "a-fuzzing-token-nobody-guesses"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
    positive_data_acceptance,
]
# A schema-violating request may be refused with any of these (413: a message over the limit).
REFUSALS = ["400", "401", "403", "404", "405", "409", "413", "415", "422"]
CONFIG = schemathesis.Config.from_dict({"checks": {"negative_data_rejection": {"expected-statuses": REFUSALS}}})
PATHS = openapi_document("0")["paths"]
OPERATIONS = [(method.upper(), path) for path, item in PATHS.items() for method in item]
# Negative examples need something to break: parameters or a body.
WITH_INPUT = [(m, p) for m, p in OPERATIONS if {"parameters", "requestBody"} & set(PATHS[p][m.lower()])]


@pytest.fixture(scope="module")
def action_server(tmp_path_factory):
    """The repository's action server on a seeded back office with one refund held for approval."""
    from actions.backoffice import db
    from actions.backoffice.seed import seed
    from actions.runtime import build

    url = f"sqlite:///{tmp_path_factory.mktemp('fuzz-backoffice') / 'backoffice.db'}"
    seed(url, today=datetime.now(ZoneInfo("America/Los_Angeles")).date())
    engine = sa.create_engine(db.normalise_url(url))
    with engine.connect() as conn:
        row = dict(conn.execute(sa.text(DELIVERED)).first()._mapping)
    engine.dispose()
    hold_refund(build(url), row, "fuzz-customer")
    db.dispose_engines()
    with pytest.MonkeyPatch.context() as env:  # the child process reads it at start
        env.setenv("DESK_BACKOFFICE_URL", url)
        actions = ActionServerProcess(REPO, free_port(), startup_timeout=90).start()
    yield actions
    actions.stop()


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory, action_server):
    assistant = load_shop(shop_project(tmp_path_factory), action_server_url=action_server.url)
    with ServerThread(build_app(assistant, ServerSettings(auth=AuthSettings(token=TOKEN)))) as server:
        yield server


@pytest.fixture(scope="module")
def api_schema(fuzzed_server):
    return schemathesis.openapi.from_url(f"{fuzzed_server.url}/openapi.json", config=CONFIG)


def test_every_served_operation_is_fuzzed(api_schema):
    served = {(op.ok().method.upper(), op.ok().path) for op in api_schema.get_all_operations()}
    assert served == set(OPERATIONS)


CASES = [(m, p, schemathesis.GenerationMode.POSITIVE) for m, p in OPERATIONS] + [
    (m, p, schemathesis.GenerationMode.NEGATIVE) for m, p in WITH_INPUT
]


@pytest.mark.parametrize(("method", "path", "mode"), CASES, ids=[f"{m} {p} {mode.value}" for m, p, mode in CASES])
def test_operation_answers_as_described(api_schema, fuzzed_server, method, path, mode):
    operation = api_schema[path][method]

    @fuzz_settings(25)  # per operation and mode
    @given(case=operation.as_strategy(mode))
    def answers(case):
        case.call_and_validate(base_url=fuzzed_server.url, params={"token": TOKEN}, checks=CHECKS, timeout=30)

    answers()
