"""``desk test knowledge``: retrieval and answer quality on labelled questions.

The questions file is JSON Lines: ``{"question": ..., "doc_id": ...}`` for a question that the
document answers, ``{"question": ..., "unanswerable": true}`` for one the help centre does not
answer. Measures (``knowledge_report.json``):

- ``recall@1``, ``recall@5``: share of answerable questions whose document is the first / among
  the first five documents retrieved (documents ranked by their best passage, fused ranking);
- ``mrr``: mean reciprocal rank of that document among the first ten (0 when not there);
- ``faithfulness``: share of answers given (status answered) whose claims are all in their sources
  (``knowledge.checks.supported``: every value stated there, and most content words);
- ``unanswerable_accuracy``: share of unanswerable questions not answered (unknown or conflict).

A measure with no question to count is ``null``. Per-question results go to
``knowledge_results.jsonl`` next to the report.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .answer import ANSWERED, KnowledgeAnswerer
from .checks import supported

REPORT_KEYS = ("recall@1", "recall@5", "mrr", "faithfulness", "unanswerable_accuracy")
DEPTH = 10  # documents ranked per question


class QuestionsError(ValueError):
    pass


@dataclass
class QuestionResult:
    question: str
    expected: str | None  # the document that answers it; None when unanswerable
    ranked: list[str] = field(default_factory=list)  # documents, best first
    status: str = ""
    answer: str = ""
    sources: list[dict] = field(default_factory=list)
    faithful: bool | None = None  # for answered questions
    method: str = ""


def read_questions(path: str | Path) -> list[dict[str, Any]]:
    questions = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise QuestionsError(f"{path}:{number}: not JSON: {exc}") from None
        if not isinstance(item, dict) or not isinstance(item.get("question"), str) or not item["question"].strip():
            raise QuestionsError(f"{path}:{number}: each line needs a 'question'")
        if bool(item.get("doc_id")) == bool(item.get("unanswerable")):
            raise QuestionsError(f"{path}:{number}: give either 'doc_id' or 'unanswerable': true")
        questions.append(item)
    return questions


def compute_metrics(results: list[QuestionResult]) -> dict[str, float | None]:
    def mean(values: list[float]) -> float | None:
        return round(sum(values) / len(values), 4) if values else None

    answerable = [r for r in results if r.expected]
    unanswerable = [r for r in results if not r.expected]
    answered = [r for r in results if r.status == ANSWERED]
    reciprocal = [1 / (r.ranked[:DEPTH].index(r.expected) + 1) if r.expected in r.ranked[:DEPTH] else 0.0
                  for r in answerable]
    return {
        "recall@1": mean([float(r.expected in r.ranked[:1]) for r in answerable]),
        "recall@5": mean([float(r.expected in r.ranked[:5]) for r in answerable]),
        "mrr": mean(reciprocal),
        "faithfulness": mean([float(bool(r.faithful)) for r in answered]),
        "unanswerable_accuracy": mean([float(r.status != ANSWERED) for r in unanswerable]),
    }


def ranked_documents(answerer: KnowledgeAnswerer, question: str, depth: int = DEPTH) -> list[str]:
    ranked: list[str] = []
    for passage in answerer.retriever.search(question, k=4 * depth):
        if passage.doc_id not in ranked:
            ranked.append(passage.doc_id)
    return ranked[:depth]


def evaluate(questions: list[dict[str, Any]], answerer: KnowledgeAnswerer) -> tuple[dict, list[QuestionResult]]:
    results = []
    for item in questions:
        answer = answerer.answer(item["question"])
        used = {s["chunk_id"] for s in answer.sources}
        faithful = supported(answer.text, [p for p in answer.passages if p.chunk_id in used]) \
            if answer.status == ANSWERED else None
        results.append(QuestionResult(
            item["question"], item.get("doc_id") or None, ranked_documents(answerer, item["question"]),
            answer.status, answer.text, answer.sources, faithful, answer.method,
        ))
    return compute_metrics(results), results


def write_report(metrics: dict, results: list[QuestionResult], out_dir: str | Path) -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = out_dir / "knowledge_report.json"
    report.write_text(json.dumps({k: metrics[k] for k in REPORT_KEYS}, indent=2) + "\n", encoding="utf-8")
    with open(out_dir / "knowledge_results.jsonl", "w", encoding="utf-8") as handle:
        for result in results:
            handle.write(json.dumps(asdict(result), ensure_ascii=False) + "\n")
    return report


def print_table(metrics: dict, results: list[QuestionResult], console=None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    answerable = sum(1 for r in results if r.expected)
    counts = {
        "recall@1": f"{answerable} answerable", "recall@5": f"{answerable} answerable", "mrr": f"{answerable} answerable",
        "faithfulness": f"{sum(1 for r in results if r.status == ANSWERED)} answered",
        "unanswerable_accuracy": f"{len(results) - answerable} unanswerable",
    }
    table = Table(title="Knowledge evaluation")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("over")
    for key in REPORT_KEYS:
        value = metrics[key]
        table.add_row(key, "—" if value is None else f"{value:.3f}", counts[key])
    console.print(table)
    misses = [r for r in results if (r.expected and r.ranked[:1] != [r.expected]) or (not r.expected and r.status == ANSWERED)]
    for r in misses[:20]:
        got = r.ranked[0] if r.ranked else "nothing"
        console.print(f"  miss: {r.question!r}: expected {r.expected or 'no answer'}, "
                      f"got {got if r.expected else r.status}", highlight=False)
