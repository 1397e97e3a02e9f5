"""Fixtures of the knowledge tests (helpers in knowledge_helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from knowledge_helpers import HELP_CENTRE, POLICY, CountingEncoder, FakeLLM, write_doc


@pytest.fixture(scope="session")
def encoder():
    from knowledge.embeddings import Encoder

    return Encoder()


@pytest.fixture
def counting_encoder(encoder):
    return CountingEncoder(encoder)


@pytest.fixture
def policy_file(tmp_path) -> Path:
    path = tmp_path / "policy.yml"
    path.write_text(POLICY, encoding="utf-8")
    return path


@pytest.fixture
def help_centre(tmp_path, policy_file) -> Path:
    """A small help centre in ``tmp/knowledge``, with ``tmp/policy.yml`` above it."""
    folder = tmp_path / "knowledge"
    folder.mkdir()
    for name, spec in HELP_CENTRE.items():
        spec = dict(spec)
        write_doc(folder, name, spec.pop("body"), **spec)
    return folder


@pytest.fixture
def built(help_centre, tmp_path, encoder) -> Path:
    from knowledge.index import build_index

    out = tmp_path / "index"
    build_index(help_centre, out, progress=False, encoder=encoder)
    return out


@pytest.fixture(scope="session")
def llm_server():
    server = FakeLLM().start()
    yield server
    server.stop()


@pytest.fixture
def llm(llm_server):
    llm_server.replies.clear()
    llm_server.requests.clear()
    return llm_server
