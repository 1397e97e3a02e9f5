"""Measuring the injection screen on labelled messages (``desk test guard``, ``bench/guard.py``).

The report (``guard_report.json``) holds ``recall`` (attacks flagged), ``precision`` (flags that
were attacks), ``false_positive_rate`` (ordinary messages flagged), ``f1``, the four counts, and
the misclassified messages. Cross-validation trains one classifier per fold on the other folds
(plus the shipped default data) and screens the held-out fold with the same rules.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from rich.console import Console
from rich.table import Table

from dialogue.guardrails.injection import InjectionScreen
from dialogue.guardrails.injection_model import fit_classifier, training_data

REPORT_FILE = "guard_report.json"
MAX_ERRORS_LISTED = 200


def metrics(labels: Iterable[int], flagged: Iterable[bool]) -> dict:
    pairs = list(zip(labels, flagged))
    tp = sum(1 for label, flag in pairs if label and flag)
    fp = sum(1 for label, flag in pairs if not label and flag)
    fn = sum(1 for label, flag in pairs if label and not flag)
    tn = len(pairs) - tp - fp - fn
    recall = tp / (tp + fn) if tp + fn else None
    precision = tp / (tp + fp) if tp + fp else None
    f1 = 2 * precision * recall / (precision + recall) if recall and precision else (0.0 if recall is not None else None)
    return {
        "n": len(pairs),
        "attacks": tp + fn,
        "ordinary": fp + tn,
        "true_positives": tp,
        "false_positives": fp,
        "true_negatives": tn,
        "false_negatives": fn,
        "recall": recall,
        "precision": precision,
        "false_positive_rate": fp / (fp + tn) if fp + tn else None,
        "f1": f1,
    }


def _report(rows: list[tuple[str, int]], verdicts: list, extra: dict) -> dict:
    report = metrics([label for _, label in rows], [v.flagged for v in verdicts])
    by_rule: dict[str, int] = {}
    for verdict in verdicts:
        for rule in verdict.rules:
            by_rule[rule] = by_rule.get(rule, 0) + 1
    errors = [
        {"text": text, "label": label, "flagged": v.flagged, "score": round(v.score, 4), "rules": list(v.rules)}
        for (text, label), v in zip(rows, verdicts)
        if bool(label) != v.flagged
    ]
    return {**report, **extra, "flags_by_rule": by_rule, "errors": errors[:MAX_ERRORS_LISTED]}


def evaluate(screen: InjectionScreen, rows: list[tuple[str, int]]) -> dict:
    """Screen every message of ``rows`` (``(text, label)``) with a trained screen."""
    return _report(rows, screen.screen_batch([text for text, _ in rows]), {"threshold": screen.threshold})


def cross_validate(
    rows: list[tuple[str, int]], folds: int = 5, threshold: float = 0.7, base_rows: list[tuple[str, int]] = (), seed: int = 0
) -> dict:
    """Out-of-fold screening of ``rows``: fold ``k`` is screened by a classifier trained on
    ``base_rows`` and the other folds."""
    from nlu.evaluation.cross_validation import fold_assignment

    fold_of = fold_assignment(training_data(rows), folds, seed)
    verdicts: list[Any] = [None] * len(rows)
    per_fold = []
    for k in range(folds):
        test = [i for i, f in enumerate(fold_of) if f == k]
        train = list(base_rows) + [rows[i] for i, f in enumerate(fold_of) if f != k]
        screen = InjectionScreen(fit_classifier(train), threshold)
        for i, verdict in zip(test, screen.screen_batch([rows[i][0] for i in test])):
            verdicts[i] = verdict
        per_fold.append(metrics([rows[i][1] for i in test], [verdicts[i].flagged for i in test]))
    return _report(rows, verdicts, {"threshold": threshold, "folds": per_fold})


def write_report(report: dict, out_dir: str | Path) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / REPORT_FILE
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)


def print_summary(report: dict, console: Console | None = None) -> None:
    table = Table(title=f"Injection screen (n={report['n']}, threshold {report['threshold']:g})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    if report.get("folds"):
        table.add_row("cross-validation folds", str(len(report["folds"])))
    for key in ("recall", "precision", "false_positive_rate", "f1"):
        table.add_row(key.replace("_", " "), _fmt(report[key]))
    for key in ("attacks", "ordinary", "true_positives", "false_positives", "false_negatives"):
        table.add_row(key.replace("_", " "), _fmt(report[key]))
    for rule, count in sorted(report.get("flags_by_rule", {}).items()):
        table.add_row(f"flagged by rule {rule}", str(count))
    (console or Console()).print(table)
