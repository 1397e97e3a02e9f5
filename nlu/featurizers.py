"""Featurizers turn texts into feature matrices; the pipeline stacks their outputs side by side."""

from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer

from nlu.embeddings import DEFAULT_ENCODER, shared_encoder
from nlu.registry import register


class _TfidfFeaturizer(TransformerMixin, BaseEstimator):
    kind = "featurizer"
    analyzer = "word"

    def fit(self, X, y=None):
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

    def transform(self, X):
        return self.vectorizer_.transform(X) * self.weight


@register("WordNgramFeaturizer.v1", "WordNgramFeaturizer")
class WordNgramFeaturizer(_TfidfFeaturizer):
    """Tf-idf over word n-grams: sharp on the words a class is usually phrased with."""

    def __init__(self, min_ngram=1, max_ngram=2, min_df=1, max_features=None, weight=1.0):
        self.min_ngram = min_ngram
        self.max_ngram = max_ngram
        self.min_df = min_df
        self.max_features = max_features
        self.weight = weight


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

    Holds no learned state; the encoder is loaded once per process and shared.
    """

    kind = "featurizer"

    def __init__(self, encoder=DEFAULT_ENCODER, weight=1.0, batch_size=64):
        self.encoder = encoder
        self.weight = weight
        self.batch_size = batch_size

    def fit(self, X, y=None):
        shared_encoder(self.encoder)  # fail early if the encoder cannot load
        self.dimension_ = shared_encoder(self.encoder).dimension
        return self

    def embed(self, X, progress=None) -> np.ndarray:
        """The unit-length sentence vectors (before weighting), one row per text."""
        return shared_encoder(self.encoder).encode(list(X), self.batch_size, progress=progress)

    def transform(self, X, progress=None):
        return self.weighted(self.embed(X, progress))

    def weighted(self, vectors: np.ndarray):
        """The feature block of already-embedded texts."""
        return sparse.csr_matrix(vectors * self.weight)
