"""An NLU pipeline: components built from config, trained together, parsing into Rasa's shape.

Component kinds, in the order a message meets them:
``featurizer`` (texts -> feature matrices, stacked) -> ``intent_classifier`` ->
``entity_extractor`` (each finds entities; their outputs are merged) ->
``entity_processor`` (rewrites entities: synonyms) -> ``fallback`` (weak intents).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy import sparse
from sklearn import config_context

from nlu import registry
from nlu.entities.merge import merge_entities
from nlu.progress import Progress
from nlu.training_data import TrainingData

KINDS = ("featurizer", "intent_classifier", "entity_extractor", "entity_processor", "fallback")
RANKING_LENGTH = 10


class TrainingError(ValueError):
    pass


class Pipeline:
    def __init__(self, components: list):
        for component in components:
            if getattr(component, "kind", None) not in KINDS:
                raise ValueError(f"{type(component).__name__} is not an NLU component (no known `kind`)")
        classifiers = [c for c in components if c.kind == "intent_classifier"]
        if len(classifiers) > 1:
            raise ValueError("a pipeline has at most one intent classifier")
        self.components = components

    @classmethod
    def from_config(cls, config: dict) -> Pipeline:
        components = []
        for spec in config["pipeline"]:
            params = {k: v for k, v in spec.items() if k != "name"}
            components.append(registry.create(spec["name"], **params))
        return cls(components)

    def _of_kind(self, kind):
        return [c for c in self.components if c.kind == kind]

    @property
    def intent_classifier(self):
        found = self._of_kind("intent_classifier")
        return found[0] if found else None

    @property
    def sentence_featurizer(self):
        """The first featurizer that embeds sentences: its sentence vectors are what fallbacks
        judge how far a message is from the training data by."""
        return next((f for f in self._of_kind("featurizer") if hasattr(f, "embed")), None)

    # training -----------------------------------------------------------------------------

    def fit(self, data: TrainingData, progress: Progress | None = None) -> Pipeline:
        progress = progress or Progress()
        examples = data.intent_examples
        texts = [e.text for e in examples]
        intents = np.array([e.intent for e in examples])
        if self.intent_classifier is not None and len(set(intents)) < 2:
            raise TrainingError("the training data needs examples of at least two intents")
        for component in self.components:
            _fill_from_data(component, data)

        entity_components = self._of_kind("entity_extractor") + self._of_kind("entity_processor")
        embeddings = None
        # Entity components train in a background thread while the classifier trains here: the
        # CRF, the slow one, trains in a process of its own, so the two use both cores.
        with ThreadPoolExecutor(max_workers=1) as background:
            entities_trained = background.submit(_fit_entity_components, entity_components, data)
            if self.intent_classifier is not None:
                # Featurizers that read entities learn from the annotated ones, as long as some
                # extractor can find them again when parsing.
                annotated = [[ent.as_dict() for ent in e.entities] for e in examples] if self._of_kind("entity_extractor") else None
                features, embeddings = self._features(texts, progress, fit=True, entities=annotated)
                with progress.step(f"Training intent classifier on {len(texts)} examples"):
                    self.intent_classifier.fit(features, intents)
            if entity_components:
                # What is left of their training: often nothing, as they started first.
                with progress.step("Finishing the entity extractors, which train beside the classifier"):
                    entities_trained.result()
        for component in self._of_kind("fallback"):
            component.fit(embeddings, intents, data.typical_entity_texts())
        return self

    def _features(self, texts, progress: Progress, fit=False, entities=None):
        """The stacked feature matrix, and the sentence embeddings (None without a sentence
        featurizer), which fallbacks use to judge how far a message is from the training data.
        ``entities`` (one list per text) go to the featurizers that read them."""
        blocks, embeddings = [], None
        for featurizer in self._of_kind("featurizer"):
            name = type(featurizer).__name__
            given = {"entities": entities} if getattr(featurizer, "uses_entities", False) else {}
            if fit:
                featurizer.fit(texts, **given)
            if hasattr(featurizer, "embed"):  # dense encoders are the slow step: show a bar
                with progress.step(f"{name}: embedding {len(texts)} texts", total=len(texts)) as advance:
                    embedded = featurizer.embed(texts, progress=advance)
                if featurizer is self.sentence_featurizer:
                    embeddings = featurizer.sentence_vectors(embedded)
                blocks.append(featurizer.weighted(embedded))
            else:
                blocks.append(featurizer.transform(texts, **given))
        return (sparse.hstack(blocks, format="csr") if blocks else None), embeddings

    # parsing ------------------------------------------------------------------------------

    def parse(self, text: str) -> dict:
        return self.parse_batch([text])[0]

    def parse_batch(self, texts: list[str]) -> list[dict]:
        texts = list(texts)
        if not texts:
            return []
        # Inputs were validated when the model was fitted; re-checking them per message costs
        # more than the prediction itself.
        entities = self._extract(texts)  # first: featurizers may read them
        with config_context(assume_finite=True, skip_parameter_validation=True):
            intents, rankings, embeddings = self._classify(texts, entities)
        for fallback in self._of_kind("fallback"):
            far = self._far_from_training_data(fallback, texts, entities, embeddings)
            intents = [
                fallback.apply(intent, ranking, is_far) for intent, ranking, is_far in zip(intents, rankings, far)
            ]
        return [
            {"text": text, "intent": intent, "entities": found, "intent_ranking": ranking}
            for text, intent, ranking, found in zip(texts, intents, rankings, entities)
        ]

    def _far_from_training_data(self, fallback, texts, entities, embeddings) -> np.ndarray:
        """Which messages ``fallback`` finds far from the training data. Those that are, and have
        entities of the types trained on, are judged again with typical entities in place of their
        own: only they are embedded twice."""
        if embeddings is None:
            return np.zeros(len(texts), dtype=bool)
        far = fallback.far_from_training_data(embeddings)
        again = {row: fallback.with_typical_entities(texts[row], entities[row]) for row in np.flatnonzero(far)}
        again = {row: text for row, text in again.items() if text is not None}
        if again:
            encoder = self.sentence_featurizer
            typical = encoder.sentence_vectors(encoder.embed(list(again.values())))
            far[list(again)] = fallback.far_from_training_data(typical)
        return far

    def _classify(self, texts, entities):
        classifier = self.intent_classifier
        if classifier is None:
            empty = {"name": None, "confidence": 0.0}
            return [dict(empty) for _ in texts], [[] for _ in texts], None
        features, embeddings = self._features(texts, Progress(), entities=entities)
        probabilities = classifier.predict_proba(features)
        classes = classifier.classes_
        intents, rankings = [], []
        for row in probabilities:
            top = np.argsort(-row)[:RANKING_LENGTH]
            ranking = [{"name": str(classes[i]), "confidence": float(row[i])} for i in top]
            intents.append(dict(ranking[0]))
            rankings.append(ranking)
        return intents, rankings, embeddings

    def _extract(self, texts):
        per_extractor = [extractor.predict(texts) for extractor in self._of_kind("entity_extractor")]
        merged = [merge_entities([found[i] for found in per_extractor]) for i in range(len(texts))]
        for processor in self._of_kind("entity_processor"):
            merged = processor.process(texts, merged)
        return merged


def _fit_entity_components(components, data: TrainingData) -> None:
    gold = [[ent.as_dict() for ent in e.entities] for e in data.examples]
    intents = [e.intent for e in data.examples]
    for component in components:
        given = {"intents": intents} if getattr(component, "uses_intents", False) else {}
        component.fit(data.texts, gold, **given)


def _fill_from_data(component, data: TrainingData) -> None:
    """Give components that learn from the data's resources (regexes, lookups...) those resources."""
    for param, attribute in getattr(component, "from_data", {}).items():
        if component.get_params().get(param) is None:
            component.set_params(**{param: getattr(data, attribute)})
