import numpy as np
import pytest

from nlu.featurizers import CharNgramFeaturizer, WordNgramFeaturizer

TRAIN = [
    "I want to cancel my order",
    "cancel the order I placed yesterday",
    "where is my parcel",
    "where is my order, it is late",
    "refund my money please",
    "I would like a refund for order 1234",
]
UNSEEN = ["", "zzz qqq", "Cancel ORDER ORDER order!", "émigré café refund", "where where where is it"]


@pytest.mark.parametrize("featurizer", [WordNgramFeaturizer(weight=0.7), CharNgramFeaturizer(min_df=1)])
def test_ngram_features_are_scikit_learns_tfidf(featurizer):
    featurizer.fit(TRAIN)
    texts = TRAIN + UNSEEN
    ours = featurizer.transform(texts)
    expected = featurizer.vectorizer_.transform(texts) * featurizer.weight
    assert ours.shape == expected.shape and ours.dtype == np.float32
    assert ours.has_sorted_indices
    np.testing.assert_allclose(ours.toarray(), expected.toarray(), atol=1e-6)
    # Rows are unit length times the weight; a text with no known n-gram is an empty row.
    norms = np.sqrt(ours.multiply(ours).sum(axis=1)).A1
    np.testing.assert_allclose(norms[: len(TRAIN)], featurizer.weight, atol=1e-5)
    assert ours[len(TRAIN) + 1].nnz == 0  # "zzz qqq"


def test_ngram_features_of_no_texts():
    featurizer = WordNgramFeaturizer().fit(TRAIN)
    assert featurizer.transform([]).shape == (0, len(featurizer.vectorizer_.vocabulary_))
