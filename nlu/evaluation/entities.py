"""Entity metrics by exact span match.

A predicted entity is correct when its ``(start, end, entity)`` equals that of a gold entity
of the same message that no other prediction has claimed yet. When the gold entity has a
``role`` or a ``group``, the prediction must carry the same value too; a role or group that is
only predicted (the gold annotation has none) is not held against the prediction.

Per entity type: ``tp`` = correct predictions, ``fp`` = other predictions of that type,
``fn`` = gold entities of that type nobody matched. A right span with the wrong type is
therefore one false positive (predicted type) and one false negative (gold type).

The report has one row per entity type seen in the gold data or the predictions (a type that
is only ever predicted shows up with ``support`` 0, so spurious extractions stay visible),
plus ``micro avg`` (pooled counts), ``macro avg`` (unweighted mean of the rows) and
``weighted avg`` (mean weighted by gold support), each ``{precision, recall, f1-score,
support}``. Undefined ratios (nothing predicted, nothing to find) are 0, as in sklearn with
``zero_division=0``.

This is stricter than Rasa's own entity report, which scores BILOU tags token by token.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence


def _type(entity: Mapping) -> str:
    return str(entity.get("entity"))


def entity_matches(gold: Mapping, predicted: Mapping) -> bool:
    """Whether ``predicted`` counts as a correct extraction of ``gold`` (see module docstring)."""
    if (gold.get("start"), gold.get("end"), _type(gold)) != (
        predicted.get("start"),
        predicted.get("end"),
        _type(predicted),
    ):
        return False
    for key in ("role", "group"):
        if gold.get(key) is not None and predicted.get(key) != gold.get(key):
            return False
    return True


def match_message(
    gold: Sequence[Mapping], predicted: Sequence[Mapping]
) -> tuple[list[bool], list[bool]]:
    """One-to-one matching within a message: ``(gold_found, predicted_correct)`` flags."""
    gold_found = [False] * len(gold)
    predicted_correct = [False] * len(predicted)
    for j, pred in enumerate(predicted):
        for i, g in enumerate(gold):
            if not gold_found[i] and entity_matches(g, pred):
                gold_found[i] = True
                predicted_correct[j] = True
                break
    return gold_found, predicted_correct


def entity_counts(
    gold: Sequence[Sequence[Mapping]], predicted: Sequence[Sequence[Mapping]]
) -> dict[str, dict[str, int]]:
    """``{entity type: {"tp", "fp", "fn"}}`` over all messages (types sorted by name)."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold messages but {len(predicted)} predicted ones")
    tp: Counter = Counter()
    fp: Counter = Counter()
    fn: Counter = Counter()
    for gold_ents, pred_ents in zip(gold, predicted):
        gold_found, pred_correct = match_message(gold_ents, pred_ents)
        for g, found in zip(gold_ents, gold_found):
            if not found:
                fn[_type(g)] += 1
        for p, correct in zip(pred_ents, pred_correct):
            (tp if correct else fp)[_type(p)] += 1
    types = sorted(set(tp) | set(fp) | set(fn))
    return {t: {"tp": tp[t], "fp": fp[t], "fn": fn[t]} for t in types}


def _ratio(num: float, den: float) -> float:
    return num / den if den else 0.0


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    f1 = _ratio(2 * precision * recall, precision + recall)
    return precision, recall, f1


def entity_metrics(
    gold: Sequence[Sequence[Mapping]], predicted: Sequence[Sequence[Mapping]]
) -> dict:
    """The content of ``entity_report.json``: one list of entity dicts per message on each side."""
    counts = entity_counts(gold, predicted)
    report: dict = {}
    for t, c in counts.items():
        p, r, f = _prf(c["tp"], c["fp"], c["fn"])
        report[t] = {"precision": p, "recall": r, "f1-score": f, "support": c["tp"] + c["fn"]}

    rows = list(report.values())
    total_support = sum(row["support"] for row in rows)
    tp = sum(c["tp"] for c in counts.values())
    fp = sum(c["fp"] for c in counts.values())
    fn = sum(c["fn"] for c in counts.values())
    p, r, f = _prf(tp, fp, fn)
    report["micro avg"] = {"precision": p, "recall": r, "f1-score": f, "support": total_support}
    for name, weights in (
        ("macro avg", [1.0] * len(rows)),
        ("weighted avg", [row["support"] for row in rows]),
    ):
        wsum = sum(weights)
        report[name] = {
            key: _ratio(sum(w * row[key] for w, row in zip(weights, rows)), wsum)
            for key in ("precision", "recall", "f1-score")
        }
        report[name]["support"] = total_support
    return report


def entity_errors(
    texts: Sequence[str],
    gold: Sequence[Sequence[Mapping]],
    predicted: Sequence[Sequence[Mapping]],
) -> list[dict]:
    """Rasa's ``entity_errors.json`` entries: messages with any missed or wrong entity."""
    errors = []
    for text, gold_ents, pred_ents in zip(texts, gold, predicted):
        gold_found, pred_correct = match_message(gold_ents, pred_ents)
        if not all(gold_found) or not all(pred_correct):
            errors.append(
                {
                    "text": text,
                    "entities": [dict(e) for e in gold_ents],
                    "predicted_entities": [dict(e) for e in pred_ents],
                }
            )
    return errors
