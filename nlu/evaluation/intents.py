"""Intent metrics in the shape of Rasa 3.x's ``intent_report.json``.

Everything here is a pure function of label lists, so it can be tested without a model.

Rasa's conventions, reproduced on purpose so that reports stay comparable:

* the rows of the report (and the ``macro avg`` / ``weighted avg`` behind them) are the
  *gold* intents; an intent that is only ever predicted (``nlu_fallback`` for instance) gets
  no row of its own, but it lowers the recall of the gold intents it was predicted for and
  shows up in their ``confused_with``;
* the confusion matrix runs over gold ∪ predicted labels (sorted), so nothing is hidden there;
* the report carries both ``accuracy`` and ``micro avg`` (sklearn gives one or the other,
  depending on whether predictions stray outside the gold labels; Rasa fills in the missing one);
* ``confused_with`` lists, for each gold intent, the labels its examples were most often
  predicted as: the top three cells of its confusion-matrix row minus the diagonal, so usually
  two entries and three when the correct label is not among the three largest cells.

On top of that, when the gold data contains ``out_of_scope`` (the CLINC150 protocol), a
``nlu_fallback`` prediction counts as ``out_of_scope`` and the report gets two top-level
numbers: ``in_scope_accuracy`` and ``out_of_scope_recall``. Without an ``out_of_scope``
intent, fallback predictions keep their name and simply count as errors.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix

OUT_OF_SCOPE = "out_of_scope"
FALLBACK = "nlu_fallback"

# Rasa 3.x lists up to this many cells of a confusion-matrix row (the diagonal included).
_CONFUSED_CANDIDATES = 3


def _clean(labels: Sequence[str | None]) -> list[str]:
    """sklearn cannot sort ``None`` next to strings; Rasa turns it into ``""``."""
    return ["" if label is None else str(label) for label in labels]


def map_fallback(gold: Sequence[str | None], predicted: Sequence[str | None]) -> list[str]:
    """The predictions as they are scored.

    ``nlu_fallback`` becomes ``out_of_scope`` when (and only when) ``out_of_scope`` is one of
    the gold intents. Idempotent.
    """
    predicted = _clean(predicted)
    if OUT_OF_SCOPE not in set(_clean(gold)):
        return predicted
    return [OUT_OF_SCOPE if p == FALLBACK else p for p in predicted]


def intent_confusion(
    gold: Sequence[str | None], predicted: Sequence[str | None]
) -> tuple[list[str], np.ndarray]:
    """``(labels, matrix)``: rows = gold, columns = predicted, labels = sorted gold ∪ predicted.

    Predictions are scored after :func:`map_fallback`.
    """
    gold = _clean(gold)
    predicted = map_fallback(gold, predicted)
    labels = sorted(set(gold) | set(predicted))
    if not labels:
        return [], np.zeros((0, 0), dtype=int)
    matrix = confusion_matrix(gold, predicted, labels=labels)
    return labels, matrix


def _confused_with(
    report: dict, matrix: np.ndarray, labels: list[str]
) -> None:
    """Add Rasa's ``confused_with`` to every row of ``report`` (in place)."""
    if not labels:
        return
    # A stable sort keeps ties in label order; taking cells from the end of the sorted row then
    # prefers the later label among equals, which is what Rasa's (small-array) argsort does too.
    order = np.argsort(matrix, axis=1, kind="stable")
    n_candidates = min(_CONFUSED_CANDIDATES, len(labels))
    for i, label in enumerate(labels):
        row = report.get(label)
        if not isinstance(row, dict):
            continue
        row["confused_with"] = {}
        for j in range(n_candidates):
            k = int(order[i, -(1 + j)])
            count = int(matrix[i, k])
            if labels[k] != label and count > 0:
                row["confused_with"][labels[k]] = count


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def intent_metrics(gold: Sequence[str | None], predicted: Sequence[str | None]) -> dict:
    """The content of ``intent_report.json`` for parallel lists of gold and predicted intents.

    Examples without a gold intent (``None`` or ``""``) are left out, as Rasa does. Returns
    ``{}`` when no example has a gold intent.
    """
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold intents but {len(predicted)} predictions")
    pairs = [(g, p) for g, p in zip(_clean(gold), _clean(predicted)) if g]
    if not pairs:
        return {}
    gold_l = [g for g, _ in pairs]
    pred_l = map_fallback(gold_l, [p for _, p in pairs])

    row_labels = sorted(set(gold_l))
    report = classification_report(
        gold_l, pred_l, labels=row_labels, output_dict=True, zero_division=0
    )
    report = _jsonable(report)
    for row in report.values():
        if isinstance(row, dict) and "support" in row:
            row["support"] = int(row["support"])
    accuracy = float(accuracy_score(gold_l, pred_l))
    if "accuracy" in report and "micro avg" not in report:
        # Every prediction is one of the rows: micro precision = recall = f1 = accuracy.
        report["micro avg"] = {
            "precision": report["accuracy"],
            "recall": report["accuracy"],
            "f1-score": report["accuracy"],
            "support": report["macro avg"]["support"],
        }
    elif "micro avg" in report and "accuracy" not in report:
        report["accuracy"] = accuracy

    labels, matrix = intent_confusion(gold_l, pred_l)
    _confused_with(report, matrix, labels)

    if OUT_OF_SCOPE in row_labels:
        report.update(out_of_scope_metrics(gold_l, pred_l))
    return report


def out_of_scope_metrics(gold: Sequence[str | None], predicted: Sequence[str | None]) -> dict:
    """``in_scope_accuracy`` and ``out_of_scope_recall`` (CLINC150), fallback counted as OOS.

    ``in_scope_accuracy`` is the accuracy over examples whose gold intent is not
    ``out_of_scope`` (an out-of-scope or fallback prediction for them is an error);
    ``out_of_scope_recall`` is the share of gold ``out_of_scope`` examples predicted
    ``out_of_scope`` or ``nlu_fallback``. Either is ``None`` when it has no examples to count.
    """
    pairs = [(g, p) for g, p in zip(_clean(gold), _clean(predicted)) if g]
    in_scope = [(g, p) for g, p in pairs if g != OUT_OF_SCOPE]
    oos = [p for g, p in pairs if g == OUT_OF_SCOPE]
    in_scope_acc = (
        sum(g == p for g, p in in_scope) / len(in_scope) if in_scope else None
    )
    oos_recall = sum(p in (OUT_OF_SCOPE, FALLBACK) for p in oos) / len(oos) if oos else None
    return {"in_scope_accuracy": in_scope_acc, "out_of_scope_recall": oos_recall}


def intent_errors(
    texts: Sequence[str],
    gold: Sequence[str | None],
    predicted: Sequence[str | None],
    confidences: Sequence[float],
) -> list[dict]:
    """Rasa's ``intent_errors.json`` entries for the misclassified examples, in data order.

    ``intent_prediction.name`` is the label as scored, i.e. after :func:`map_fallback`.
    """
    scored = map_fallback(gold, predicted)
    errors = []
    for text, g, p, c in zip(texts, _clean(gold), scored, confidences):
        if g and g != p:
            errors.append(
                {
                    "text": text,
                    "intent": g,
                    "intent_prediction": {"name": p, "confidence": float(c)},
                }
            )
    return errors
