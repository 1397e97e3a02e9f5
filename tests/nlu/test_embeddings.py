"""The sentence encoder at both precisions: the int8 copy must stay close to the published vectors."""

import pickle
import shutil
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import onnxruntime as ort
import pytest

from nlu.embeddings import exported_encoder, shared_encoder
from nlu.featurizers import SentenceEmbeddingFeaturizer

TEXTS = [
    "I want to cancel my order",
    "please stop the delivery of what I bought yesterday",
    "what is your refund policy for damaged items?",
    "book a table for two at an italian restaurant tonight",
]


def test_int8_vectors_stay_close_to_float32():
    exact = shared_encoder(precision="float32").encode(TEXTS)
    quantized = shared_encoder(precision="int8").encode(TEXTS)
    assert quantized.shape == exact.shape == (len(TEXTS), 384)
    np.testing.assert_allclose(np.linalg.norm(quantized, axis=1), 1.0, atol=1e-4)
    assert (quantized * exact).sum(axis=1).min() > 0.98
    # Meaning survives: the paraphrase is still the nearest of the other texts.
    similarity = quantized @ quantized.T
    assert similarity[0, 1] > max(similarity[0, 2], similarity[0, 3])


def test_int8_graph_is_a_quarter_of_the_size():
    float32, int8 = exported_encoder(precision="float32"), exported_encoder(precision="int8")
    assert int8 != float32 and int8.exists()
    assert int8.stat().st_size < float32.stat().st_size / 3


def test_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="float32, int8"):
        exported_encoder(precision="fp16")


def test_int8_vector_of_a_text_does_not_depend_on_its_batch():
    encoder = shared_encoder(precision="int8")
    together = encoder.encode(TEXTS)
    alone = np.vstack([encoder.encode([text]) for text in TEXTS])
    np.testing.assert_array_equal(together, alone)


@pytest.mark.parametrize("precision", ["float32", "int8"])
def test_layer_vectors_end_with_the_sentence_vector(precision):
    encoder = shared_encoder(precision=precision)
    assert encoder.layers == 7  # the token embeddings and six transformer layers
    layers = encoder.encode(TEXTS, layers=(-1, 4, 0))
    assert layers.shape == (len(TEXTS), 3, 384)
    np.testing.assert_allclose(np.linalg.norm(layers, axis=2), 1.0, atol=1e-4)
    np.testing.assert_allclose(layers[:, 0], encoder.encode(TEXTS), atol=1e-6)
    middle_to_last = (layers[:, 1] * layers[:, 0]).sum(axis=1)
    tokens_to_last = (layers[:, 2] * layers[:, 0]).sum(axis=1)
    assert (middle_to_last < 0.99).all() and (tokens_to_last < middle_to_last).all()


def test_featurizer_adds_a_middle_layer_and_old_models_keep_their_features():
    featurizer = SentenceEmbeddingFeaturizer().fit(TEXTS)
    assert featurizer.precision == "int8" and featurizer.hidden_layers == (4,)
    embedded = featurizer.embed(TEXTS)
    np.testing.assert_allclose(featurizer.sentence_vectors(embedded), shared_encoder(precision="int8").encode(TEXTS))
    assert featurizer.transform(TEXTS).shape == (len(TEXTS), 2 * 384)

    saved_before_both = pickle.loads(pickle.dumps(featurizer))
    del saved_before_both.precision, saved_before_both.hidden_layers
    features = saved_before_both.transform(TEXTS).toarray()
    np.testing.assert_allclose(features, shared_encoder(precision="float32").encode(TEXTS), atol=1e-6)


def test_featurizer_refuses_layers_the_encoder_does_not_have():
    with pytest.raises(ValueError, match="layers 0 to 6"):
        SentenceEmbeddingFeaturizer(hidden_layers=[4, 7]).fit(TEXTS)


def test_processes_starting_together_each_quantise_safely(tmp_path, monkeypatch):
    float32 = exported_encoder(precision="float32")
    monkeypatch.setenv("DESK_CACHE_DIR", str(tmp_path))
    (tmp_path / "encoders").mkdir()
    shutil.copy(float32, tmp_path / "encoders" / float32.name)
    with ThreadPoolExecutor(2) as pool:
        made = list(pool.map(lambda _: exported_encoder(precision="int8"), range(2)))
    assert made[0] == made[1] and made[0].parent == tmp_path / "encoders"
    assert sorted(p.name for p in made[0].parent.iterdir()) == sorted([float32.name, made[0].name])  # no leftovers
    ort.InferenceSession(str(made[0]), providers=["CPUExecutionProvider"])  # a whole, loadable graph


def test_retrieval_reads_the_graph_the_nlu_exports():
    """``knowledge`` imports nothing of ours, so it names the cached file itself: the names must agree."""
    from knowledge.embeddings import Encoder, model_files

    assert model_files()[1] == exported_encoder(precision="float32")
    np.testing.assert_allclose(Encoder().encode(TEXTS), shared_encoder(precision="float32").encode(TEXTS), atol=1e-5)
