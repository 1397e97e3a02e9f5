"""Stratified K-fold cross-validation with out-of-fold predictions.

Every example is predicted exactly once, by the model trained on the other folds; the report
files are then written over all examples together (the union of the test folds), so the
confusion matrix covers the whole data set.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold

from nlu.training_data import TrainingData

from .intents import map_fallback
from .report import BATCH_SIZE, Parser, _intent_of, parse_all, write_results

# Stratum of examples that have no intent (entity-only examples).
NO_INTENT = "<no intent>"


def _strata(data: TrainingData) -> list[str]:
    return [e.intent or NO_INTENT for e in data.examples]


def check_folds(data: TrainingData, folds: int) -> None:
    """Raise ``ValueError`` unless ``folds`` stratified folds can be cut from ``data``.

    Every intent needs at least 2 examples, and at least ``folds`` of them: the number of folds
    is capped by the smallest intent.
    """
    if folds < 2:
        raise ValueError(f"cross-validation needs at least 2 folds, got {folds}")
    counts = Counter(_strata(data))
    if not counts:
        raise ValueError("cross-validation needs examples, the data has none")
    too_small = sorted(name for name, c in counts.items() if c < 2)
    if too_small:
        raise ValueError(
            "cross-validation needs at least 2 examples per intent; "
            f"these have only one: {', '.join(too_small)}"
        )
    smallest = min(counts.values())
    if folds > smallest:
        names = sorted(name for name, c in counts.items() if c == smallest)
        raise ValueError(
            f"{folds} folds requested but intent {names[0]!r} has only {smallest} examples; "
            f"use at most {smallest} folds (or add examples)"
        )


def fold_assignment(data: TrainingData, folds: int, seed: int = 0) -> list[int]:
    """The test fold (``0..folds-1``) of every example, stratified on intents and shuffled
    with ``seed``."""
    check_folds(data, folds)
    strata = _strata(data)
    fold_of = [-1] * len(strata)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for k, (_, test_idx) in enumerate(splitter.split(np.zeros(len(strata)), strata)):
        for i in test_idx:
            fold_of[int(i)] = k
    return fold_of


def out_of_fold_parses(
    data: TrainingData,
    folds: int,
    train: Callable[[TrainingData], Parser],
    seed: int = 0,
    *,
    batch_size: int = BATCH_SIZE,
    show_progress: bool | None = None,
) -> tuple[list[dict], list[int]]:
    """``(parses, fold_of)``: one parse per example (data order) from the model that did not see
    it in training, and the fold each example was tested in."""
    fold_of = fold_assignment(data, folds, seed)
    parses: list[dict | None] = [None] * len(data.examples)
    for k in range(folds):
        test_idx = [i for i, f in enumerate(fold_of) if f == k]
        train_idx = [i for i, f in enumerate(fold_of) if f != k]
        parser = train(data.subset(train_idx))
        fold_parses = parse_all(
            parser,
            [data.examples[i].text for i in test_idx],
            batch_size=batch_size,
            show_progress=show_progress,
            description=f"Fold {k + 1}/{folds}",
        )
        for i, parse in zip(test_idx, fold_parses):
            parses[i] = parse
    missing = [i for i, p in enumerate(parses) if p is None]
    if missing:  # cannot happen with StratifiedKFold; guard the invariant anyway
        raise RuntimeError(f"{len(missing)} examples got no out-of-fold prediction")
    return parses, fold_of  # type: ignore[return-value]


def cross_validate(
    data: TrainingData,
    folds: int,
    train: Callable[[TrainingData], Parser],
    out_dir: Path,
    seed: int = 0,
    *,
    plots: bool = True,
    batch_size: int = BATCH_SIZE,
    show_progress: bool | None = None,
) -> dict:
    """Stratified ``folds``-fold cross-validation; writes the files of ``evaluate`` to ``out_dir``.

    ``train`` gets the training part of each fold (a :class:`TrainingData` with the same
    synonyms, regexes and lookups) and returns a parser. Returns the summary of ``evaluate``
    over the out-of-fold predictions of all examples, plus ``folds`` (the intent accuracy of
    each fold's test part), ``fold_accuracy_mean`` and ``fold_accuracy_std`` (population std).
    Raises ``ValueError`` when an intent has fewer than 2 examples or fewer than ``folds``.
    """
    parses, fold_of = out_of_fold_parses(
        data, folds, train, seed, batch_size=batch_size, show_progress=show_progress
    )
    summary = write_results(data, parses, out_dir, plots=plots)

    # The fallback mapping follows the whole data set, so it is the same in every fold.
    gold_all = [e.intent for e in data.examples]
    scored = map_fallback(gold_all, [_intent_of(p)[0] for p in parses])
    accuracies: list[float] = []
    for k in range(folds):
        idx = [i for i, f in enumerate(fold_of) if f == k and gold_all[i]]
        correct = sum(gold_all[i] == scored[i] for i in idx)
        accuracies.append(correct / len(idx) if idx else 0.0)

    summary["folds"] = accuracies
    summary["fold_accuracy_mean"] = float(np.mean(accuracies)) if accuracies else 0.0
    summary["fold_accuracy_std"] = float(np.std(accuracies)) if accuracies else 0.0
    return summary
