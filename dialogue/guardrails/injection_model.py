"""The prompt-injection classifier: labelled texts in, a trained ``guard-*.tar.gz`` out.

It is an NLU pipeline (:mod:`nlu.pipeline`) with two classes, ``injection`` and ``benign``:
word and character n-gram tf-idf (the character n-grams cope with German, misspellings and
odd spacing) and a logistic regression. Training, fingerprinting (an unchanged model is reused)
and the artefact format are the NLU model's (:func:`nlu.model.train_data`).

Labelled data is JSON Lines, ``{"text": "...", "label": 1}`` a line, 1 for an attack and 0 for
an ordinary message. :data:`DEFAULT_DATA` (shipped with Desk: attacks on a shop assistant and
ordinary customer messages) is always part of the training data; ``desk train guard --data
FILE`` adds more.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Iterable

from nlu.model import ModelNotFoundError, NLUModel, load_model, resolve_model_path, train_data
from nlu.readers.errors import TrainingDataError
from nlu.training_data import Example, TrainingData

PREFIX = "guard-"
ATTACK, BENIGN = "injection", "benign"
DEFAULT_DATA = Path(__file__).parent / "data" / "injection.jsonl"
GUARD_CONFIG = {
    "language": "any",
    "pipeline": [
        {"name": "WordNgramFeaturizer"},
        {"name": "CharNgramFeaturizer", "min_df": 1},
        {"name": "LogisticRegressionIntentClassifier", "C": 10.0},
    ],
}


def read_labelled(path: str | Path) -> list[tuple[str, int]]:
    """``(text, label)`` pairs of a JSONL file; a ``TrainingDataError`` names the bad line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
    except FileNotFoundError:
        raise TrainingDataError(str(path), None, "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TrainingDataError(str(path), None, f"cannot read the file: {exc}") from None
    rows = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise TrainingDataError(str(path), number, f"invalid JSON: {exc.msg}") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str) or not obj["text"].strip():
            raise TrainingDataError(str(path), number, 'expected {"text": "...", "label": 0 or 1}')
        if obj.get("label") not in (0, 1) or isinstance(obj.get("label"), bool):
            raise TrainingDataError(str(path), number, "'label' must be 0 (ordinary message) or 1 (attack)")
        rows.append((obj["text"], obj["label"]))
    if not rows:
        raise TrainingDataError(str(path), None, "no labelled messages")
    return rows


def training_data(rows: Iterable[tuple[str, int]]) -> TrainingData:
    return TrainingData([Example(text, ATTACK if label else BENIGN) for text, label in rows])


def train_guard(
    extra_data: Iterable[str | Path] = (), out_dir: str | Path = "models", force: bool = False, include_default: bool = True
) -> tuple[Path, bool]:
    """Train on :data:`DEFAULT_DATA` plus ``extra_data``; ``(path, trained)`` as :func:`nlu.model.train`."""
    paths = ([DEFAULT_DATA] if include_default else []) + [Path(p) for p in extra_data]
    rows = [row for path in paths for row in read_labelled(path)]
    return train_data(training_data(rows), GUARD_CONFIG, out_dir, force=force, prefix=PREFIX)


def fit_classifier(rows: list[tuple[str, int]]) -> "GuardClassifier":
    """A classifier trained in memory (cross-validation)."""
    from nlu.model import train_pipeline

    return GuardClassifier(NLUModel(train_pipeline(training_data(rows), GUARD_CONFIG), {}))


@functools.lru_cache(maxsize=1)
def default_classifier() -> "GuardClassifier":
    """A classifier trained in memory on :data:`DEFAULT_DATA` (for projects without a saved one)."""
    return fit_classifier(read_labelled(DEFAULT_DATA))


def load_guard(path: str | Path) -> "GuardClassifier":
    """A trained classifier: a ``guard-*.tar.gz`` file, or the newest in a directory."""
    if not Path(path).exists():
        raise ModelNotFoundError(f"{path}: no such file or directory; run `desk train guard` first")
    return GuardClassifier(load_model(resolve_model_path(path, PREFIX, "desk train guard")))


class GuardClassifier:
    """``scores(texts)``: the probability that each text is an attack."""

    def __init__(self, model: NLUModel) -> None:
        self.model = model

    @property
    def fingerprint(self) -> str | None:
        return self.model.metadata.get("fingerprint")

    def scores(self, texts: list[str]) -> list[float]:
        return [_attack_probability(parse) for parse in self.model.parse_batch(list(texts))]


def _attack_probability(parse: dict) -> float:
    return next((r["confidence"] for r in parse.get("intent_ranking", []) if r["name"] == ATTACK), 0.0)
