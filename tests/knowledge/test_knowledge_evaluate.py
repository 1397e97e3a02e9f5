import argparse
import json

import pytest

from knowledge.answer import KnowledgeAnswerer
from knowledge.checks import check_answer, supported
from knowledge.cli import cmd_index, cmd_test_knowledge
from knowledge.evaluate import REPORT_KEYS, QuestionResult, QuestionsError, compute_metrics, evaluate, read_questions
from knowledge.index import KnowledgeIndex


def test_metrics_by_hand():
    results = [
        # answerable: expected document at rank 1, 2, 4 and absent
        QuestionResult("q1", "a", ["a", "b", "c"], "answered", faithful=True),
        QuestionResult("q2", "b", ["a", "b", "c"], "answered", faithful=False),
        QuestionResult("q3", "d", ["a", "b", "c", "d", "e"], "answered", faithful=True),
        QuestionResult("q4", "z", ["a", "b", "c", "d", "e", "f"], "unknown"),
        # unanswerable: one refused, one answered (its claims checked too), one conflict
        QuestionResult("q5", None, ["a"], "unknown"),
        QuestionResult("q6", None, ["a"], "answered", faithful=True),
        QuestionResult("q7", None, ["a"], "conflict"),
    ]
    assert compute_metrics(results) == {
        "recall@1": 0.25,  # 1 of 4
        "recall@5": 0.75,  # ranks 1, 2, 4 of 4
        "mrr": round((1 + 1 / 2 + 1 / 4 + 0) / 4, 4),  # 0.4375
        "faithfulness": 0.75,  # 3 of the 4 answered
        "unanswerable_accuracy": round(2 / 3, 4),
    }


def test_metrics_without_questions_of_a_kind_are_null():
    metrics = compute_metrics([QuestionResult("q", "a", ["a"], "answered", faithful=True)])
    assert metrics["unanswerable_accuracy"] is None and metrics["recall@1"] == 1.0


def test_questions_file_is_checked(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text('{"question": "a?", "doc_id": "x"}\n\n{"question": "b?", "unanswerable": true}\n')
    assert len(read_questions(path)) == 2
    path.write_text('{"question": "a?"}\n')
    with pytest.raises(QuestionsError, match=r"q.jsonl:1: give either"):
        read_questions(path)
    path.write_text('{"question": "a?", "doc_id": "x"}\nnot json\n')
    with pytest.raises(QuestionsError, match=r"q.jsonl:2: not JSON"):
        read_questions(path)


def test_evaluation_on_the_small_help_centre(built, encoder, tmp_path):
    questions = [
        {"question": "How long does it take to get my refund?", "doc_id": "refunds"},
        {"question": "How much does express delivery cost?", "doc_id": "delivery"},
        {"question": "Is there a fee to cancel my order?", "doc_id": "cancel"},
        {"question": "How do I change my cookie settings?", "doc_id": "cookies"},
        {"question": "What is the capital of Mongolia?", "unanswerable": True},
    ]
    metrics, results = evaluate(questions, KnowledgeAnswerer(KnowledgeIndex(built), encoder=encoder))
    assert metrics == {"recall@1": 1.0, "recall@5": 1.0, "mrr": 1.0, "faithfulness": 1.0, "unanswerable_accuracy": 1.0}
    assert [r.status for r in results] == ["answered"] * 4 + ["unknown"]


def test_checks_of_generated_answers():
    class P:
        def __init__(self, chunk_id, title, version, text):
            self.chunk_id, self.title, self.version, self.text = chunk_id, title, version, text

    refunds = P("aaaa1111bbbb2222", "Refund policy", "1.2", "We refund you within 5 business days. Return shipping is free.")
    other = P("cccc3333dddd4444", "Delivery", "2.0", "Express costs $19.95.")
    assert check_answer("Refunds take 5 business days (Source: Refund policy, v1.2).", [refunds, other]).ok
    assert check_answer("Return shipping costs $0 [aaaa1111].", [refunds, other]).ok  # "free" is $0
    bad = check_answer("Refunds take 5 business days and express costs $19.95 (Source: Refund policy, v1.2).", [refunds, other])
    assert not bad.ok and bad.problems == ["'$19.95' is not stated in the passages it cites"]
    assert not check_answer("Refunds take 5 business days.", [refunds]).ok
    assert not check_answer("Refunds take five weeks (Source: Refund policy).", [refunds]).ok
    assert supported("Refunds take 5 business days. (Source: Refund policy, v1.2)", [refunds])
    assert not supported("Refunds take 7 business days.", [refunds])
    assert not supported("Our warehouse staff are friendly and wear green hats.", [refunds])


def test_cmd_index_and_cmd_test_knowledge(help_centre, tmp_path, capsys):
    out = tmp_path / "index"
    args = argparse.Namespace(knowledge=str(help_centre), out=str(out), kind="hnsw", config=None, policy=None, quiet=True)
    assert cmd_index(args) == 0
    printed = capsys.readouterr().out
    assert "Indexed 5 documents, 7 chunks (7 embedded, 0 unchanged)" in printed and "[hnsw]" in printed
    assert "left out store-credit-draft.md (store-credit-draft): status draft" in printed

    questions = tmp_path / "questions.jsonl"
    questions.write_text('{"question": "How much does express delivery cost?", "doc_id": "delivery"}\n'
                         '{"question": "What is the capital of Mongolia?", "unanswerable": true}\n')
    results = tmp_path / "results"
    test_args = argparse.Namespace(questions=str(questions), index=str(out), out=str(results), config=None, endpoints=None)
    assert cmd_test_knowledge(test_args) == 0
    report = json.loads((results / "knowledge_report.json").read_text())
    assert tuple(report) == REPORT_KEYS
    assert report == {"recall@1": 1.0, "recall@5": 1.0, "mrr": 1.0, "faithfulness": 1.0, "unanswerable_accuracy": 1.0}
    assert len((results / "knowledge_results.jsonl").read_text().splitlines()) == 2
    assert "recall@1" in capsys.readouterr().out


def test_cmd_index_reports_unusable_documents(help_centre, tmp_path, capsys):
    (help_centre / "bad.md").write_text("no front matter\n")
    args = argparse.Namespace(knowledge=str(help_centre), out=str(tmp_path / "index"), kind=None, config=None,
                              policy=None, quiet=True)
    assert cmd_index(args) == 2
    assert "bad.md:1: error: no front matter" in capsys.readouterr().err
