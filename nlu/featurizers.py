"""Featurizers turn texts into feature matrices; the pipeline stacks their outputs side by side."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer

from nlu.embeddings import DEFAULT_ENCODER, shared_encoder
from nlu.registry import register


class _TfidfFeaturizer(TransformerMixin, BaseEstimator):
    kind = "featurizer"
    analyzer = "word"

    def fit(self, X, y=None, entities=None):
        X = self._texts(X, entities)
        self.vectorizer_ = TfidfVectorizer(
            analyzer=self.analyzer,
            ngram_range=(self.min_ngram, self.max_ngram),
            sublinear_tf=True,
            lowercase=True,
            min_df=self.min_df,
            max_features=self.max_features,
            dtype=np.float32,
        ).fit(X)
        return self

    def _texts(self, X, entities):
        """The texts the n-grams are counted in."""
        return X

    def transform(self, X, entities=None):
        """What ``self.vectorizer_.transform(X)`` gives, times ``weight``.

        Computed here because scikit-learn's input checks cost several times the arithmetic on
        one short message, and parsing one message is the serving path.
        """
        X = self._texts(X, entities)
        vectorizer = self.vectorizer_
        analyze, vocabulary = vectorizer.build_analyzer(), vectorizer.vocabulary_
        lengths, columns, counts = [], [], []
        for text in X:
            found = sorted(Counter(vocabulary[term] for term in analyze(text) if term in vocabulary).items())
            lengths.append(len(found))
            columns.extend(column for column, _ in found)
            counts.extend(count for _, count in found)
        columns = np.asarray(columns, dtype=np.int32)
        values = (1 + np.log(np.asarray(counts, dtype=np.float32))) * vectorizer.idf_[columns]  # sublinear tf
        row_of_value = np.repeat(np.arange(len(lengths)), lengths)
        norms = np.sqrt(np.bincount(row_of_value, weights=values**2, minlength=len(lengths)))
        norms[norms == 0] = 1
        values *= (self.weight / norms)[row_of_value].astype(np.float32)
        indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
        return sparse.csr_matrix((values, columns, indptr), shape=(len(lengths), len(vocabulary)))


@register("WordNgramFeaturizer.v1", "WordNgramFeaturizer")
class WordNgramFeaturizer(_TfidfFeaturizer):
    """Tf-idf over word n-grams: sharp on the words a class is usually phrased with.

    With ``entity_placeholders`` (the default), an entity's words are counted as one token naming
    its type: "play the album Thriller" and "play the album Bad" both read "play the album
    __entity_album__". Intents then learn from how a request is phrased around its entities
    rather than memorising the names in the training data (on SNIPS this removes a third of the
    intent errors). Training reads the annotated entities; parsing, the ones the pipeline's
    extractors found. Only types annotated in the training data are replaced.
    """

    uses_entities = True
    entity_types_: frozenset = frozenset()  # models saved before placeholders existed have none

    def __init__(self, min_ngram=1, max_ngram=2, min_df=1, max_features=None, weight=1.0,
                 entity_placeholders=True):
        self.min_ngram = min_ngram
        self.max_ngram = max_ngram
        self.min_df = min_df
        self.max_features = max_features
        self.weight = weight
        self.entity_placeholders = entity_placeholders

    def fit(self, X, y=None, entities=None):
        use = self.entity_placeholders and entities is not None
        self.entity_types_ = frozenset(e["entity"] for found in entities for e in found) if use else frozenset()
        return super().fit(X, y, entities)

    def _texts(self, X, entities):
        if not self.entity_types_ or entities is None:
            return X
        return [with_placeholders(text, found, self.entity_types_) for text, found in zip(X, entities)]


def with_placeholders(text: str, entities, types) -> str:
    """``text`` with each entity of one of ``types`` replaced by a token naming its type."""
    return replace_entities(text, entities, lambda entity: _placeholder(entity) if entity in types else None)


def _placeholder(entity: str) -> str:
    return " __entity_" + re.sub(r"\W+", "_", entity) + "__ "


def replace_entities(text: str, entities, replacement) -> str:
    """``text`` with each entity's span replaced by ``replacement(entity_type)``; spans for which it
    returns None, and spans overlapping one already replaced, are kept."""
    pieces, end = [], 0
    for entity in sorted(entities, key=lambda e: e["start"]):
        new = replacement(entity["entity"]) if entity["start"] >= end else None
        if new is None:
            continue
        pieces += [text[end : entity["start"]], new]
        end = entity["end"]
    return "".join(pieces) + text[end:]


@register("CharNgramFeaturizer.v1", "CharNgramFeaturizer")
class CharNgramFeaturizer(_TfidfFeaturizer):
    """Tf-idf over character n-grams inside word boundaries: robust to typos and inflection."""

    analyzer = "char_wb"

    def __init__(self, min_ngram=2, max_ngram=5, min_df=2, max_features=100_000, weight=1.0):
        self.min_ngram = min_ngram
        self.max_ngram = max_ngram
        self.min_df = min_df
        self.max_features = max_features
        self.weight = weight


@register("SentenceEmbeddingFeaturizer.v1", "SentenceEmbeddingFeaturizer")
class SentenceEmbeddingFeaturizer(TransformerMixin, BaseEstimator):
    """Dense sentence embeddings (MiniLM): carries meaning across paraphrases the n-grams miss.

    Holds no learned state; the encoder is loaded once per process and shared. ``precision``
    ``int8`` (the default) runs the encoder with 8-bit weights, ``float32`` as published.
    ``hidden_layers``: the mean-pooled vectors of these encoder layers are features too. The last
    layer is trained to make paraphrases alike, which smooths away wording that tells close intents
    apart; a middle layer keeps more of it (layer 4 of 6 was chosen on CLINC150's and BANKING77's
    validation data). The sentence vector alone is what ``sentence_vectors`` gives fallbacks.
    """

    kind = "featurizer"
    precision = "float32"  # what models saved before ``precision`` existed were trained with
    hidden_layers = ()  # ... and before ``hidden_layers``

    def __init__(self, encoder=DEFAULT_ENCODER, weight=1.0, batch_size=64, precision="int8", hidden_layers=(4,)):
        self.encoder = encoder
        self.weight = weight
        self.batch_size = batch_size
        self.precision = precision
        self.hidden_layers = hidden_layers

    def fit(self, X, y=None):
        encoder = self._encoder()  # fails early if the encoder cannot load
        bad = [layer for layer in self.hidden_layers if not 0 <= layer < encoder.layers]
        if bad:
            raise ValueError(f"hidden_layers {bad}: {self.encoder} has layers 0 to {encoder.layers - 1}")
        self.dimension_ = encoder.dimension
        return self

    def _encoder(self):
        return shared_encoder(self.encoder, self.precision)

    def embed(self, X, progress=None) -> np.ndarray:
        """Unit vectors, ``(texts, 1 + len(hidden_layers), dimension)``: each text's sentence
        vector, then its chosen layers' vectors (before weighting)."""
        return self._encoder().encode(list(X), self.batch_size, progress=progress, layers=(-1, *self.hidden_layers))

    @staticmethod
    def sentence_vectors(embedded: np.ndarray) -> np.ndarray:
        """The sentence vectors in what ``embed`` returned."""
        return embedded[:, 0]

    def transform(self, X, progress=None):
        return self.weighted(self.embed(X, progress))

    def weighted(self, embedded: np.ndarray):
        """The feature block of already-embedded texts."""
        return sparse.csr_matrix(embedded.reshape(len(embedded), -1) * self.weight)
