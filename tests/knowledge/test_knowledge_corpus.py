"""The Northwind Outfitters help centre in data/knowledge and its questions."""

import re
from pathlib import Path

import pytest
import yaml

from knowledge.answer import KnowledgeAnswerer
from knowledge.documents import load_documents
from knowledge.evaluate import evaluate, read_questions
from knowledge.facts import disagreement
from knowledge.index import KnowledgeIndex, build_index
from knowledge.lint import lint

ROOT = Path(__file__).resolve().parents[2]
KNOWLEDGE = ROOT / "data" / "knowledge"
POLICY = ROOT / "policy.yml"


@pytest.fixture(scope="module")
def documents():
    documents, problems = load_documents(KNOWLEDGE, policy_file=POLICY)
    assert problems == []
    return documents


def test_help_centre_content(documents):
    approved = [d for d in documents if d.status == "approved"]
    drafts = [d for d in documents if d.status == "draft"]
    assert len(approved) >= 15 and len(drafts) == 1
    assert {d.path.suffix for d in approved} >= {".md", ".html", ".txt"}
    assert len({d.id for d in documents}) == len(documents)


def test_lint_is_clean(monkeypatch):
    monkeypatch.setenv("DESK_POLICY_FILE", str(POLICY))
    assert [str(p) for p in lint(KNOWLEDGE)] == []


def test_the_draft_contradicts_an_approved_document(documents):
    draft = next(d for d in documents if d.status == "draft")
    approved = [s.text for d in documents if d.status == "approved" for s in d.sentences()]
    assert any(disagreement(s.text, other) for s in draft.sentences() for other in approved)


def test_policy_numbers_come_from_the_policy_file(documents):
    policy = yaml.safe_load(POLICY.read_text())
    raw = {p.name: p.read_text() for p in KNOWLEDGE.iterdir()}
    for name in ("refund-policy.md", "cancellations.md", "discounts.md"):
        assert "{{ policy." in raw[name]
        assert not re.search(r"\b30[- ]days?\b|\$0\.00|(?<![-\d])5 business days\b", raw[name]), name
    rendered = {s.text for d in documents for s in d.sentences()}
    window = policy["refund_window_days"]
    assert f"You can return items within {window} days of delivery for a refund." in rendered
    assert f"The cancellation fee is ${policy['cancellation_fee']:.2f}, and you get a confirmation e-mail straight away." in rendered


def test_questions_on_the_real_help_centre(tmp_path_factory, encoder, monkeypatch):
    monkeypatch.setenv("DESK_POLICY_FILE", str(POLICY))
    out = tmp_path_factory.mktemp("knowledge-index")
    build_index(KNOWLEDGE, out, progress=False, encoder=encoder)
    questions = read_questions(ROOT / "tests" / "knowledge_questions.jsonl")
    assert len(questions) >= 40 and sum(bool(q.get("unanswerable")) for q in questions) >= 8
    metrics, results = evaluate(questions, KnowledgeAnswerer(KnowledgeIndex(out), encoder=encoder))
    assert metrics["recall@5"] >= 0.95 and metrics["recall@1"] >= 0.9 and metrics["mrr"] >= 0.9
    assert metrics["faithfulness"] >= 0.95 and metrics["unanswerable_accuracy"] >= 0.7
    assert not any(r.status == "conflict" for r in results)
