"""Intent classification and Rasa-style fallback."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from nlu.featurizers import replace_entities
from nlu.registry import register

FALLBACK_INTENT = "nlu_fallback"


@register("LogisticRegressionIntentClassifier.v1", "LogisticRegressionIntentClassifier")
class LogisticRegressionIntentClassifier(ClassifierMixin, BaseEstimator):
    """Multinomial logistic regression with temperature-scaled probabilities.

    A strongly fitted model (high ``C``) ranks best but is over-confident; one temperature,
    fitted on a held-out slice, makes confidences mean what they say (see ``bench/nlu.py``
    for the measured calibration error), which is what thresholds need.
    """

    kind = "intent_classifier"

    def __init__(self, C=20.0, max_iter=2000, calibrate=True, calibration_size=0.1, random_state=0):
        self.C = C
        self.max_iter = max_iter
        self.calibrate = calibrate
        self.calibration_size = calibration_size
        self.random_state = random_state

    def _model(self):
        return LogisticRegression(C=self.C, max_iter=self.max_iter, random_state=self.random_state)

    def fit(self, X, y):
        y = np.asarray(y)
        self.temperature_ = 1.0
        if self.calibrate and _can_hold_out(y, self.calibration_size):
            fit_idx, cal_idx = train_test_split(
                np.arange(len(y)), test_size=self.calibration_size, stratify=y, random_state=self.random_state
            )
            held_out = self._model().fit(X[fit_idx], y[fit_idx])
            self.temperature_ = _fit_temperature(
                _logits(held_out, X[cal_idx]), np.searchsorted(held_out.classes_, y[cal_idx])
            )
        self.model_ = self._model().fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return _softmax(_logits(self.model_, X) / self.temperature_)

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


@register("FallbackClassifier.v1", "FallbackClassifier")
class FallbackClassifier(BaseEstimator):
    """Rasa's fallback: predict ``nlu_fallback`` when the top intent is weak or ambiguous.

    ``threshold``: minimum confidence of the top intent. ``ambiguity_threshold``: minimum
    margin between the top two. The ranking is kept unchanged, so the dialogue can offer
    the top candidates to the user. The defaults are Rasa's.

    ``similarity_threshold`` (off unless set; needs a ``SentenceEmbeddingFeaturizer``) also
    falls back when no training example is at least that similar to the message (cosine of
    sentence embeddings): out-of-scope messages are often classified confidently but lie far
    from all the training data. The floor is lowered, when needed, to the similarity that only
    ``max_in_scope_loss`` of held-out training examples fall under, so that data phrased more
    sparsely than usual does not lose in-scope messages to it. Examples of
    ``out_of_scope_intent`` are not counted as training data here.

    A message can also lie far only because of its entities: a film title or a product name the
    training data never had. A message under the floor that has entities of the types in the
    training data is judged again, with each entity replaced by its type's most common text in
    the training data (``with_typical_entities``), which the pipeline embeds for it.
    """

    kind = "fallback"
    typical_entity_texts_: dict = {}  # models saved before it existed replace no entities

    def __init__(self, threshold=0.3, ambiguity_threshold=0.1, similarity_threshold=None, max_in_scope_loss=0.005,
                 out_of_scope_intent="out_of_scope"):
        self.threshold = threshold
        self.ambiguity_threshold = ambiguity_threshold
        self.similarity_threshold = similarity_threshold
        self.max_in_scope_loss = max_in_scope_loss
        self.out_of_scope_intent = out_of_scope_intent

    def fit(self, embeddings=None, intents=None, typical_entity_texts=None):
        """``embeddings``: the training texts' sentence vectors; ``intents``: their intents;
        ``typical_entity_texts``: the most common text of each entity type in the training data."""
        self.examples_ = None
        self.similarity_floor_ = None
        self.typical_entity_texts_ = dict(typical_entity_texts or {})
        if self.similarity_threshold is None:
            return self
        if embeddings is None or intents is None:
            raise ValueError(
                "FallbackClassifier: similarity_threshold needs sentence embeddings; add a "
                "SentenceEmbeddingFeaturizer to the pipeline or remove similarity_threshold"
            )
        from nlu.novelty import NearestExamples

        vectors = np.asarray(embeddings)[np.asarray(intents) != self.out_of_scope_intent]
        if len(vectors) < 2:
            return self
        self.examples_ = NearestExamples(vectors)
        cap = self.examples_.held_out_similarity(vectors, self.max_in_scope_loss)
        self.similarity_floor_ = min(float(self.similarity_threshold), cap)
        return self

    def should_fallback(self, ranking: list[dict], far_from_training_data: bool = False) -> bool:
        """``far_from_training_data``: what :meth:`far_from_training_data` found for the message."""
        if not ranking:
            return True
        top = ranking[0]["confidence"]
        second = ranking[1]["confidence"] if len(ranking) > 1 else 0.0
        return top < self.threshold or top - second < self.ambiguity_threshold or far_from_training_data

    def far_from_training_data(self, embeddings) -> np.ndarray:
        """For each sentence vector (one per row), whether no training example is as similar as the
        floor; all False when there is no floor. One search for the whole batch."""
        embeddings = np.asarray(embeddings)
        if getattr(self, "examples_", None) is None:
            return np.zeros(len(embeddings), dtype=bool)
        return self.examples_.nearest(embeddings)[:, 0] < self.similarity_floor_

    def with_typical_entities(self, text: str, entities) -> str | None:
        """``text`` with each entity of a type the training data has replaced by that type's most
        common text there; None when no entity is replaced."""
        replaced = replace_entities(text, entities, self.typical_entity_texts_.get)
        return replaced if replaced != text else None

    def apply(self, intent: dict, ranking: list[dict], far_from_training_data: bool = False) -> dict:
        if self.should_fallback(ranking, far_from_training_data):
            return {"name": FALLBACK_INTENT, "confidence": self.threshold}
        return intent


MIN_CALIBRATION_EXAMPLES = 100


def _can_hold_out(y, size) -> bool:
    """Enough data to spare a stratified slice large enough to fit a temperature on."""
    _, counts = np.unique(y, return_counts=True)
    held_out = int(len(y) * size)
    return counts.min() >= 2 and held_out >= max(len(counts), MIN_CALIBRATION_EXAMPLES)


def _logits(model, X):
    """One logit per class (sklearn's binary models give one column: the two are its halves).

    ``decision_function``'s arithmetic without its input checks, which cost more than the product
    itself on one message.
    """
    logits = np.asarray(X @ model.coef_.T) + model.intercept_
    if logits.shape[1] == 1:
        logits = np.hstack([-logits, logits]) / 2
    return logits


def _softmax(logits):
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _fit_temperature(logits, labels) -> float:
    """The temperature minimising held-out log-loss (a one-dimensional bounded search)."""
    from scipy.optimize import minimize_scalar

    def nll(t):
        p = _softmax(logits / t)
        return -np.mean(np.log(p[np.arange(len(labels)), labels] + 1e-12))

    return float(minimize_scalar(nll, bounds=(0.05, 20.0), method="bounded").x)
