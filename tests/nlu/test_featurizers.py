import numpy as np
import pytest

from nlu.featurizers import CharNgramFeaturizer, WordNgramFeaturizer, with_placeholders

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


def _entity(text, value, entity):
    start = text.index(value)
    return {"start": start, "end": start + len(value), "value": value, "entity": entity}


def test_placeholders_replace_known_entity_types_only():
    text = "ship ORD-12345 to new york by friday"
    entities = [_entity(text, "new york", "city"), _entity(text, "ORD-12345", "order_id"), _entity(text, "friday", "time"),
                _entity(text, "york", "city")]  # overlaps "new york": left alone
    assert with_placeholders(text, entities, {"order_id", "city"}) == (
        "ship  __entity_order_id__  to  __entity_city__  by friday"
    )
    assert with_placeholders(text, [], {"city"}) == text
    assert "__entity_ticket_type__" in with_placeholders("a b", [{"start": 0, "end": 1, "entity": "ticket-type"}], {"ticket-type"})


def test_word_ngrams_learn_the_phrasing_around_entities():
    texts = ["cancel order ORD-22222", "where is order ORD-12345", "i live in Lisbon"]
    entities = [[_entity(t, v, e)] for t, (v, e) in
                zip(texts, [("ORD-22222", "order_id"), ("ORD-12345", "order_id"), ("Lisbon", "city")])]
    featurizer = WordNgramFeaturizer().fit(texts, entities=entities)
    vocabulary = featurizer.vectorizer_.vocabulary_
    assert featurizer.entity_types_ == {"order_id", "city"}
    assert "__entity_order_id__" in vocabulary and "cancel order" in vocabulary and "lisbon" not in vocabulary
    unseen = ["cancel order ORD-99999", "i live in Reykjavik"]
    found = [[_entity(unseen[0], "ORD-99999", "order_id")], [_entity(unseen[1], "Reykjavik", "city")]]
    rows = featurizer.transform(unseen, entities=found).toarray()
    np.testing.assert_allclose(rows, featurizer.transform(texts[::2], entities=entities[::2]).toarray())
    # Without entities (or with placeholders off) the words themselves are counted.
    plain = WordNgramFeaturizer(entity_placeholders=False).fit(texts, entities=entities)
    assert plain.entity_types_ == frozenset() and "lisbon" in plain.vectorizer_.vocabulary_
    assert featurizer.transform(unseen).nnz < featurizer.transform(unseen, entities=found).nnz
    assert featurizer.fit(texts).entity_types_ == frozenset()  # fitted again without entities: none kept
