"""The likely intents of a message, as features for an entity tagger.

Which entity a span is often depends on the request around it: a title after "play" is a track or
an album, after "find" a book or a film. A tagger that sees a few words either side cannot tell;
one that is told the message's likely intents can. ``IntentCues`` is a small intent classifier of
the tagger's own (word n-grams only: cheap, and independent of the pipeline's classifier, which
reads the tagger's entities) whose probabilities become token attributes ``intent=<name>``.

The tagger learns from out-of-fold probabilities: what the classifier says of messages it was not
trained on, so the tagger learns how far to trust them. On SNIPS this raised entity micro-F1 from
94.6 to 95.2 on the validation split (with character n-grams too: 95.4, at four times the cost).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.model_selection import StratifiedKFold

from nlu.featurizers import WordNgramFeaturizer
from nlu.intents import LogisticRegressionIntentClassifier

FOLDS = 5
TOP = 2  # intents given to the tagger ...
FLOOR = 0.05  # ... when at least this likely


class IntentCues:
    def __init__(self, random_state: int = 0):
        self.random_state = random_state

    def fit_out_of_fold(self, texts: Sequence[str], intents: Sequence[str | None]) -> list[dict] | None:
        """Trains on the texts that have an intent and returns every text's cues as the tagger
        should learn from them: out-of-fold ones, none for texts without an intent. ``None``
        (and nothing trained) when there are not two intents with two examples each."""
        labelled = [i for i, intent in enumerate(intents) if intent]
        y = np.array([intents[i] for i in labelled])
        names, counts = np.unique(y, return_counts=True)
        folds = min(FOLDS, int(counts.min())) if len(names) >= 2 else 0
        if folds < 2:
            return None
        chosen = [texts[i] for i in labelled]
        self.featurizer_ = WordNgramFeaturizer(entity_placeholders=False).fit(chosen)
        X = self.featurizer_.transform(chosen)
        out_of_fold = np.zeros((len(labelled), len(names)))
        splits = StratifiedKFold(folds, shuffle=True, random_state=self.random_state).split(X, y)
        for train, held_out in splits:
            classifier = self._classifier().fit(X[train], y[train])
            out_of_fold[np.ix_(held_out, np.searchsorted(names, classifier.classes_))] = classifier.predict_proba(X[held_out])
        self.classifier_ = self._classifier().fit(X, y)
        cues: list[dict] = [{} for _ in texts]
        for row, i in enumerate(labelled):
            cues[i] = _top(names, out_of_fold[row])
        return cues

    def predict(self, texts: Sequence[str]) -> list[dict]:
        probabilities = self.classifier_.predict_proba(self.featurizer_.transform(texts))
        return [_top(self.classifier_.classes_, row) for row in probabilities]

    def _classifier(self):
        return LogisticRegressionIntentClassifier(calibrate=False, random_state=self.random_state)


def _top(names, probabilities) -> dict:
    """``{"intent=<name>": probability}`` for the likeliest intents."""
    best = np.argsort(-probabilities)[:TOP]
    return {f"intent={names[i]}": float(probabilities[i]) for i in best if probabilities[i] >= FLOOR}
