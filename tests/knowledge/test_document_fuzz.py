"""Help-centre documents fed garbage and broken front matter (hypothesis).

Random bytes, and real help-centre pages (Markdown and HTML) with a few lines deleted, re-indented
or spliced with YAML and placeholder syntax. Reading a document gives a document or ``None``,
with problems that name the file and a line: never an exception.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fuzz_inputs import FUZZ, as_bytes, mutated
from hypothesis import example, given
from hypothesis import strategies as st

from knowledge.documents import read_document

PAGES = Path(__file__).resolve().parents[2] / "data" / "knowledge"
POLICY = {"refund_window_days": 30, "cancellation_fee": 0.0, "verification": {"code_ttl_minutes": 10}}


@pytest.mark.parametrize("page", ["account-help.md", "cookies.html"])
def test_read_document_reports_problems(tmp_path, page):
    valid = (PAGES / page).read_text(encoding="utf-8")
    path = tmp_path / page

    @FUZZ
    @given(content=st.one_of(st.binary().map(lambda raw: b"---\n" + raw), mutated(valid).map(as_bytes)))
    @example(content=b"---\n{status: weird, effective: someday}\n---\nText.\n")
    @example(content=b"---\n? status\n: weird\n---\nText.\n")
    @example(content=b"---\n'review_by': 2026-13-45\n---\nText.\n")
    def read(content):
        path.write_bytes(content)
        document, problems = read_document(path, POLICY, tmp_path)
        assert document is not None or any(p.severity == "error" for p in problems)
        assert all(p.path == page and p.line >= 1 and p.message for p in problems)

    read()
