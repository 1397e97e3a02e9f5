import numpy as np
import pytest
from scipy import sparse

from nlu import load_data, load_model, registry, train, train_pipeline
from nlu.config import ConfigError, default_config, load_config
from nlu.intents import FALLBACK_INTENT, FallbackClassifier, LogisticRegressionIntentClassifier
from nlu.model import ModelNotFoundError, resolve_model_path
from nlu.pipeline import Pipeline, TrainingError
from nlu.training_data import Entity, Example, TrainingData


def test_registry_knows_versioned_and_plain_names():
    assert registry.get("CRFEntityExtractor") is registry.get("CRFEntityExtractor.v1")
    assert "LogisticRegressionIntentClassifier.v1" in registry.names()


def test_registry_rejects_unknown_names_and_bad_parameters():
    with pytest.raises(registry.UnknownComponentError, match="known components: .*WordNgramFeaturizer"):
        registry.get("NoSuchThing")
    with pytest.raises(ValueError, match="bad parameters for component 'FallbackClassifier'"):
        registry.create("FallbackClassifier", treshold=0.5)


def test_fallback_on_low_confidence_and_on_ambiguity():
    fallback = FallbackClassifier(threshold=0.4, ambiguity_threshold=0.1)
    strong = [{"name": "a", "confidence": 0.8}, {"name": "b", "confidence": 0.1}]
    weak = [{"name": "a", "confidence": 0.35}, {"name": "b", "confidence": 0.05}]
    close = [{"name": "a", "confidence": 0.48}, {"name": "b", "confidence": 0.45}]
    assert fallback.apply(dict(strong[0]), strong) == strong[0]
    assert fallback.apply(dict(weak[0]), weak) == {"name": FALLBACK_INTENT, "confidence": 0.4}
    assert fallback.apply(dict(close[0]), close)["name"] == FALLBACK_INTENT


def test_temperature_scaled_probabilities_are_distributions():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(loc, 1.0, size=(60, 5)) for loc in (-3, 0, 3)])
    y = np.repeat(["low", "mid", "high"], 60)
    model = LogisticRegressionIntentClassifier(C=1.0).fit(X, y)
    proba = model.predict_proba(X)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert model.temperature_ > 0
    assert (model.predict(X) == y).mean() > 0.9
    # The logits are scikit-learn's, on dense and sparse input alike.
    assert (model.predict(X) == model.model_.predict(X)).all()
    assert np.allclose(model.predict_proba(sparse.csr_matrix(X)), proba, atol=1e-6)


def test_two_classes_are_calibrated_too():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(loc, 1.0, size=(600, 5)) for loc in (-1, 1)])
    y = np.repeat(["benign", "injection"], 600)
    model = LogisticRegressionIntentClassifier(C=1.0).fit(X, y)  # enough data to hold out a calibration slice
    proba = model.predict_proba(X)
    assert proba.shape == (1200, 2) and np.allclose(proba.sum(axis=1), 1.0)
    assert model.temperature_ != 1.0
    assert (model.predict(X) == y).mean() > 0.8
    assert (model.predict(X) == model.model_.predict(X)).all()


def test_config_defaults_and_rasa_translation(tmp_path):
    assert load_config(None) == default_config()
    rasa = tmp_path / "config.yml"
    rasa.write_text(
        "language: en\npipeline:\n  - name: WhitespaceTokenizer\n  - name: DIETClassifier\n    epochs: 100\n"
        "  - name: FallbackClassifier\n    threshold: 0.7\n    ambiguity_threshold: 0.1\n"
        "  - name: DucklingEntityExtractor\n    url: http://localhost:8000\n    dimensions: [time, number]\n"
    )
    names = [c["name"] for c in load_config(rasa)["pipeline"]]
    assert names == [c["name"] for c in default_config()["pipeline"]]
    pipeline = load_config(rasa)["pipeline"]
    fallback = next(c for c in pipeline if c["name"] == "FallbackClassifier")
    assert fallback["threshold"] == 0.7 and fallback["ambiguity_threshold"] == 0.1
    assert {"name": "ValueExtractor", "dimensions": ["time", "number"]} in pipeline


def test_config_errors_name_the_file_and_line(tmp_path):
    bad = tmp_path / "config.yml"
    bad.write_text("pipeline:\n  - name: WordNgramFeaturizer\n   - oops: [\n")
    with pytest.raises(ConfigError, match=r"config.yml:\d+: invalid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "missing.yml")


def test_pipeline_parses_into_rasa_shape(shop_nlu, sparse_config):
    pipeline = train_pipeline(load_data(shop_nlu), sparse_config)
    result = pipeline.parse("please cancel order ORD-12121 now")
    assert set(result) == {"text", "intent", "entities", "intent_ranking"}
    assert result["intent"]["name"] == "cancel_order"
    ranking = result["intent_ranking"]
    assert [r["confidence"] for r in ranking] == sorted((r["confidence"] for r in ranking), reverse=True)
    assert sum(r["confidence"] for r in ranking) <= 1.0 + 1e-6
    order = [e for e in result["entities"] if e["entity"] == "order_id"]
    assert order and order[0]["value"] == "ORD-12121"
    assert result["text"][order[0]["start"] : order[0]["end"]] == "ORD-12121"
    assert {"start", "end", "value", "entity", "confidence", "extractor"} <= set(order[0])


def test_pipeline_applies_synonyms_and_lookups(shop_nlu, sparse_config):
    pipeline = train_pipeline(load_data(shop_nlu), sparse_config)

    def cities(text):
        return [e["value"] for e in pipeline.parse(text)["entities"] if e["entity"] == "city"]

    assert cities("ship it to paris") == ["paris"]  # only in the lookup table
    assert cities("ship it to new york") == ["New York"]  # a synonym's canonical value


def test_fallback_keeps_the_ranking(shop_nlu, sparse_config):
    config = dict(sparse_config)
    config["pipeline"] = [c for c in sparse_config["pipeline"] if c["name"] != "FallbackClassifier"]
    config["pipeline"].append({"name": "FallbackClassifier", "threshold": 0.99})
    result = train_pipeline(load_data(shop_nlu), config).parse("hello")
    assert result["intent"] == {"name": FALLBACK_INTENT, "confidence": 0.99}
    assert result["intent_ranking"][0]["name"] == "greet"


def test_training_needs_two_intents(sparse_config):
    data = TrainingData([Example("hi", "greet"), Example("hello", "greet")])
    with pytest.raises(TrainingError, match="at least two intents"):
        Pipeline.from_config(sparse_config).fit(data)


def test_default_pipeline_model_round_trip(trained_model_path, shop_nlu):
    model = load_model(trained_model_path)
    texts = ["where is ORD-12345", "what's your return policy", "hi there", "cancel it please"]
    first = model.parse_batch(texts)
    assert [p["intent"]["name"] for p in first] == ["track_order", "check_refund_policy", "greet", "cancel_order"]
    again = load_model(trained_model_path).parse_batch(texts)
    assert again == first
    assert model.metadata["training_data"]["examples"] == len(load_data(shop_nlu).examples)


def test_training_again_reuses_the_model_until_data_changes(shop_nlu, sparse_config, tmp_path):
    import yaml

    config = tmp_path / "config.yml"
    config.write_text(yaml.safe_dump(sparse_config))
    first, trained = train(shop_nlu, config, tmp_path / "models")
    assert trained
    second, trained_again = train(shop_nlu, config, tmp_path / "models")
    assert (second, trained_again) == (first, False)
    changed = tmp_path / "nlu.yml"
    changed.write_text(shop_nlu.read_text() + "- intent: goodbye\n  examples: |\n    - bye\n    - see you\n")
    third, trained_third = train(changed, config, tmp_path / "models")
    assert trained_third and third != first
    assert resolve_model_path(tmp_path / "models") == third


def test_loading_a_bad_model_file_fails_clearly(tmp_path):
    bogus = tmp_path / "nlu-20240101-000000-abc.tar.gz"
    bogus.write_bytes(b"not a model")
    with pytest.raises(ModelNotFoundError, match="not a Desk NLU model"):
        load_model(bogus)
    with pytest.raises(ModelNotFoundError, match="run `desk train nlu` first"):
        load_model(tmp_path / "empty") if (tmp_path / "empty").mkdir() is None else None


def _unit(rows):
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_similarity_floor_falls_back_far_from_the_training_data():
    rng = np.random.default_rng(0)
    embeddings = _unit(rng.normal(size=(300, 8)) + np.array([4.0, 0, 0, 0, 0, 0, 0, 0]))
    intents = np.repeat(["a", "b", "c"], 100)
    fallback = FallbackClassifier(threshold=0.2, ambiguity_threshold=0.0, similarity_threshold=0.9,
                                  max_in_scope_loss=0.01).fit(embeddings, intents)
    confident = [{"name": "a", "confidence": 0.9}, {"name": "b", "confidence": 0.05}]
    near = embeddings[0] * 0.999 + embeddings[1] * 0.001
    far = _unit([[-1.0, 0, 0, 0, 0, 0, 0, 1.0]])[0]
    assert list(fallback.far_from_training_data([near, far])) == [False, True]
    assert fallback.apply(dict(confident[0]), confident, far_from_training_data=False) == confident[0]
    assert fallback.apply(dict(confident[0]), confident, far_from_training_data=True)["name"] == FALLBACK_INTENT
    no_floor = FallbackClassifier().fit(embeddings, intents)
    assert list(no_floor.far_from_training_data([near, far])) == [False, False]


def test_similarity_floor_is_capped_by_held_out_training_similarity():
    rng = np.random.default_rng(1)
    embeddings = _unit(rng.normal(size=(400, 16)))  # scattered: neighbours are not very similar
    intents = np.repeat(["a", "b"], 200)
    fallback = FallbackClassifier(similarity_threshold=0.99, max_in_scope_loss=0.01).fit(embeddings, intents)
    assert fallback.similarity_floor_ < 0.99
    nearest_other = np.sort(embeddings @ embeddings.T, axis=1)[:, -2]
    assert np.mean(nearest_other < fallback.similarity_floor_) <= 0.03


def test_similarity_floor_ignores_out_of_scope_examples_and_survives_pickling():
    import pickle

    rng = np.random.default_rng(2)
    inside = _unit(rng.normal(size=(50, 8)) + 5 * np.eye(8)[0])
    outside = _unit(rng.normal(size=(50, 8)) - 5 * np.eye(8)[0])
    fallback = FallbackClassifier(similarity_threshold=0.5).fit(
        np.vstack([inside, outside]), ["in"] * 50 + ["out_of_scope"] * 50)
    assert fallback.far_from_training_data(outside[:1])[0]  # out-of-scope examples are not in-scope data
    restored = pickle.loads(pickle.dumps(fallback))
    assert list(restored.far_from_training_data([outside[0], inside[0]])) == [True, False]


def test_typical_entities_replace_those_of_the_types_trained_on():
    fallback = FallbackClassifier(similarity_threshold=0.9).fit(_unit(np.eye(4)), ["inform"] * 4, {"city": "Lisbon"})
    city = [{"start": 8, "end": 15, "value": "Qaanaaq", "entity": "city"}]
    assert fallback.with_typical_entities("ship to Qaanaaq", city) == "ship to Lisbon"
    assert fallback.with_typical_entities("ship to Qaanaaq", [dict(city[0], entity="port")]) is None  # untrained type
    assert fallback.with_typical_entities("ship to Lisbon", [dict(city[0], end=14)]) is None  # nothing changes


def test_unfamiliar_entity_values_alone_do_not_make_a_message_fall_back(trained_model_path):
    model = load_model(trained_model_path)
    fallback = next(c for c in model.pipeline.components if isinstance(c, FallbackClassifier))
    assert fallback.typical_entity_texts_["city"] in {"Lisbon", "Berlin", "Oslo", "Madrid", "new york"}
    text = "ship to Qaanaaq"  # a town far from the training data's examples, as the encoder sees it
    assert [e["entity"] for e in model.parse(text)["entities"]] == ["city"]
    assert model.parse(text)["intent"]["name"] == "inform"
    assert model.parse("who won the football match in Ouagadougou")["intent"]["name"] == FALLBACK_INTENT
    floor, fallback.similarity_floor_ = fallback.similarity_floor_, 0.95
    assert model.parse(text)["intent"]["name"] == FALLBACK_INTENT  # "ship to Lisbon" is far from this floor too
    fallback.similarity_floor_, fallback.typical_entity_texts_ = floor, {}  # judged on the text alone
    assert model.parse(text)["intent"]["name"] == FALLBACK_INTENT


def test_typical_entity_texts_are_the_most_common_annotated_ones():
    def example(text, start, end, entity):
        return Example(text, "inform", (Entity(start, end, text[start:end].lower(), entity),))

    data = TrainingData([example("to Oslo", 3, 7, "city"), example("to Lima", 3, 7, "city"),
                         example("Lima please", 0, 4, "city"), example("at 5", 3, 4, "number"), Example("hi", "greet")])
    assert data.typical_entity_texts() == {"city": "Lima", "number": "5"}


def test_similarity_floor_needs_sentence_embeddings(shop_nlu, sparse_config):
    config = dict(sparse_config)
    config["pipeline"] = [c for c in sparse_config["pipeline"] if c["name"] != "FallbackClassifier"]
    config["pipeline"].append({"name": "FallbackClassifier", "similarity_threshold": 0.4})
    with pytest.raises(ValueError, match="add a SentenceEmbeddingFeaturizer"):
        train_pipeline(load_data(shop_nlu), config)


def test_intents_read_entity_types_not_the_names_in_the_data(shop_nlu, sparse_config):
    pipeline = train_pipeline(load_data(shop_nlu), sparse_config)
    words = next(c for c in pipeline.components if type(c).__name__ == "WordNgramFeaturizer")
    assert {"order_id", "city", "email"} <= words.entity_types_
    assert "__entity_order_id__" in words.vectorizer_.vocabulary_
    assert "ord" not in words.vectorizer_.vocabulary_  # annotated ids are not memorised as words
    result = pipeline.parse("please cancel order ORD-77777 now")
    assert result["intent"]["name"] == "cancel_order"
    assert [e["value"] for e in result["entities"] if e["entity"] == "order_id"] == ["ORD-77777"]


def test_no_placeholders_without_an_entity_extractor(shop_nlu, sparse_config):
    config = {**sparse_config, "pipeline": [c for c in sparse_config["pipeline"] if "Extractor" not in c["name"]]}
    pipeline = train_pipeline(load_data(shop_nlu), config)
    words = next(c for c in pipeline.components if type(c).__name__ == "WordNgramFeaturizer")
    assert words.entity_types_ == frozenset()  # nothing could find them again when parsing
