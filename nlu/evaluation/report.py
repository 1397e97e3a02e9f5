"""Run a parser over labelled data and write Rasa-compatible result files.

Files written to ``out_dir``:

``intent_report.json``         see :mod:`nlu.evaluation.intents`
``intent_errors.json``         misclassified examples (always written, ``[]`` when none)
``intent_confusion_matrix.png``, ``intent_histogram.png``   unless ``plots=False``
``entity_report.json``, ``entity_errors.json``   only when the gold data has entities
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from rich.console import Console
from rich.table import Table

from nlu.training_data import TrainingData

from .entities import entity_errors, entity_metrics
from .intents import OUT_OF_SCOPE, intent_confusion, intent_errors, intent_metrics, map_fallback
from .plots import plot_confidence_histogram, plot_confusion_matrix

BATCH_SIZE = 64
# With more examples than this (and a terminal on stderr) a transient progress bar is shown.
PROGRESS_THRESHOLD = 500


class Parser(Protocol):
    def parse_batch(self, texts: list[str]) -> list[dict]: ...


def _show_progress(n: int, show_progress: bool | None) -> bool:
    if show_progress is not None:
        return show_progress
    return n > PROGRESS_THRESHOLD and sys.stderr.isatty()


def parse_all(
    parser: Parser,
    texts: Sequence[str],
    *,
    batch_size: int = BATCH_SIZE,
    show_progress: bool | None = None,
    description: str = "Evaluating",
) -> list[dict]:
    """``parser.parse_batch`` over ``texts`` in batches, results in input order.

    ``show_progress=None`` shows a transient ``rich`` progress bar on stderr only for more than
    :data:`PROGRESS_THRESHOLD` texts and when stderr is a terminal.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    texts = list(texts)
    results: list[dict] = []

    def run(advance: Callable[[int], None]) -> None:
        for start in range(0, len(texts), batch_size):
            batch = texts[start : start + batch_size]
            parsed = list(parser.parse_batch(batch))
            if len(parsed) != len(batch):
                raise ValueError(
                    f"parse_batch returned {len(parsed)} results for {len(batch)} texts"
                )
            results.extend(parsed)
            advance(len(batch))

    if _show_progress(len(texts), show_progress):
        from rich.progress import Progress

        with Progress(console=Console(stderr=True), transient=True) as progress:
            task = progress.add_task(description, total=len(texts))
            run(lambda k: progress.advance(task, k))
    else:
        run(lambda k: None)
    return results


def _intent_of(parse: dict) -> tuple[str | None, float]:
    intent = parse.get("intent") or {}
    confidence = intent.get("confidence")
    return intent.get("name"), float(confidence) if confidence is not None else 0.0


def _dump(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_results(
    data: TrainingData,
    parses: Sequence[dict],
    out_dir: Path,
    *,
    plots: bool = True,
) -> dict:
    """Score ``parses`` (one per example of ``data``, same order) and write the result files.

    Returns the summary described in :func:`evaluate`.
    """
    examples = data.examples
    if len(parses) != len(examples):
        raise ValueError(f"{len(parses)} parses for {len(examples)} examples")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    texts = [e.text for e in examples]
    gold_intents = [e.intent for e in examples]
    predicted, confidences = zip(*(_intent_of(p) for p in parses)) if parses else ((), ())
    predicted, confidences = list(predicted), list(confidences)

    summary: dict = {"intent": None, "entity": None, "n": len(examples)}

    report = intent_metrics(gold_intents, predicted)
    if report:
        _dump(out_dir / "intent_report.json", report)
        errors = intent_errors(texts, gold_intents, predicted, confidences)
        _dump(out_dir / "intent_errors.json", errors)
        intent_summary = {
            "accuracy": report["accuracy"],
            "macro_f1": report["macro avg"]["f1-score"],
            "weighted_f1": report["weighted avg"]["f1-score"],
        }
        if "in_scope_accuracy" in report:
            intent_summary["in_scope_accuracy"] = report["in_scope_accuracy"]
            intent_summary["out_of_scope_recall"] = report["out_of_scope_recall"]
        summary["intent"] = intent_summary

        if plots:
            keep = [i for i, g in enumerate(gold_intents) if g]
            gold_k = [gold_intents[i] for i in keep]
            scored = map_fallback(gold_k, [predicted[i] for i in keep])
            labels, matrix = intent_confusion(gold_k, scored)
            plot_confusion_matrix(matrix, labels, out_dir / "intent_confusion_matrix.png")
            correct = [confidences[i] for i, g, p in zip(keep, gold_k, scored) if g == p]
            wrong = [confidences[i] for i, g, p in zip(keep, gold_k, scored) if g != p]
            plot_confidence_histogram(correct, wrong, out_dir / "intent_histogram.png")

    if any(e.entities for e in examples):
        gold_ents = [[ent.as_dict() for ent in e.entities] for e in examples]
        pred_ents = [list(p.get("entities") or []) for p in parses]
        ent_report = entity_metrics(gold_ents, pred_ents)
        _dump(out_dir / "entity_report.json", ent_report)
        _dump(out_dir / "entity_errors.json", entity_errors(texts, gold_ents, pred_ents))
        summary["entity"] = {
            "micro_f1": ent_report["micro avg"]["f1-score"],
            "macro_f1": ent_report["macro avg"]["f1-score"],
        }
    return summary


def evaluate(
    parser: Parser,
    data: TrainingData,
    out_dir: Path,
    *,
    plots: bool = True,
    batch_size: int = BATCH_SIZE,
    show_progress: bool | None = None,
) -> dict:
    """Parse every example of ``data`` with ``parser`` and write Rasa-compatible results.

    Returns ``{"intent": {"accuracy", "macro_f1", "weighted_f1"[, "in_scope_accuracy",
    "out_of_scope_recall"]} or None, "entity": {"micro_f1", "macro_f1"} or None, "n"}``;
    the out-of-scope numbers appear when the gold data has an ``out_of_scope`` intent, the
    entity part when it has entity annotations, the intent part when any example has an intent.
    """
    parses = parse_all(parser, data.texts, batch_size=batch_size, show_progress=show_progress)
    return write_results(data, parses, out_dir, plots=plots)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def print_summary(summary: dict, console: Console | None = None) -> None:
    """A short table of the summary returned by :func:`evaluate` or ``cross_validate``."""
    console = console or Console()
    table = Table(title=f"NLU evaluation (n={summary.get('n', '?')})")
    table.add_column("metric")
    table.add_column("value", justify="right")

    intent = summary.get("intent")
    if intent:
        table.add_row("intent accuracy", _fmt(intent.get("accuracy")))
        table.add_row("intent macro F1", _fmt(intent.get("macro_f1")))
        table.add_row("intent weighted F1", _fmt(intent.get("weighted_f1")))
        if "in_scope_accuracy" in intent:
            table.add_row("in-scope accuracy", _fmt(intent["in_scope_accuracy"]))
            table.add_row(f"{OUT_OF_SCOPE} recall", _fmt(intent.get("out_of_scope_recall")))
    entity = summary.get("entity")
    if entity:
        table.add_row("entity micro F1", _fmt(entity.get("micro_f1")))
        table.add_row("entity macro F1", _fmt(entity.get("macro_f1")))
    folds = summary.get("folds")
    if folds:
        table.add_row(
            f"fold accuracy ({len(folds)} folds)",
            f"{_fmt(summary.get('fold_accuracy_mean'))}"
            f" ± {_fmt(summary.get('fold_accuracy_std'))}",
        )
    console.print(table)
