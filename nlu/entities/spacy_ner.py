"""spaCy's transition-based NER trained from a blank pipeline: the alternative to the CRF tagger."""

from __future__ import annotations

import random
import time
from collections.abc import Sequence

from sklearn.base import BaseEstimator

from nlu.entities._spans import check_lengths, encode_label, make_entity
from nlu.registry import register


@register("SpacyNEREntityExtractor.v1", "SpacyNEREntityExtractor")
class SpacyNEREntityExtractor(BaseEstimator):
    """spaCy ``ner`` (hash-embedding CNN + transition-based parser) trained from ``spacy.blank(lang)``.

    Labels carry role and group like the CRF (``entity#role@group``). Training runs ``epochs``
    passes of spaCy's own update loop, stopping early once ``max_seconds`` have passed.

    ``confidence``: the pipe is spaCy's beam NER (``beam_ner``), so an entity's confidence is the
    share of probability mass of the ``beam_width`` candidate parses that contain it.
    """

    kind = "entity_extractor"
    name = "SpacyNEREntityExtractor"

    def __init__(
        self,
        epochs: int = 10,
        max_seconds: float = 300.0,
        dropout: float = 0.2,
        beam_width: int = 4,
        lang: str = "en",
        random_state: int = 0,
    ):
        self.epochs = epochs
        self.max_seconds = max_seconds
        self.dropout = dropout
        self.beam_width = beam_width
        self.lang = lang
        self.random_state = random_state

    def fit(self, X: Sequence[str], y: Sequence[Sequence[dict]]):
        import spacy
        from spacy.training import Example
        from spacy.util import compounding, fix_random_seed, minibatch

        check_lengths(X, y)
        fix_random_seed(self.random_state)
        nlp = spacy.blank(self.lang)
        ner = nlp.add_pipe("beam_ner", name="ner", config={"beam_width": self.beam_width})
        examples = []
        for text, ents in zip(X, y):
            doc = nlp.make_doc(text)
            spans, taken = [], set()
            for ent in sorted(ents or (), key=lambda e: (e["start"], -e["end"])):
                span = doc.char_span(ent["start"], ent["end"], label=encode_label(ent), alignment_mode="expand")
                if span is None or taken.intersection(range(span.start, span.end)):
                    continue
                taken.update(range(span.start, span.end))
                spans.append((span.start_char, span.end_char, span.label_))
            examples.append(Example.from_dict(doc, {"entities": spans}))
        labels = sorted({label for ex in examples for *_, label in _char_spans(ex)})
        self.labels_ = labels
        if not labels:
            self.nlp_ = None
            return self
        for label in labels:
            ner.add_label(label)
        optimizer = nlp.initialize(lambda: examples)
        rng = random.Random(self.random_state)
        started = time.perf_counter()
        self.epochs_done_ = 0
        for _ in range(self.epochs):
            rng.shuffle(examples)
            losses: dict = {}
            for batch in minibatch(examples, size=compounding(4.0, 32.0, 1.001)):
                nlp.update(batch, drop=self.dropout, sgd=optimizer, losses=losses)
                if time.perf_counter() - started > self.max_seconds:
                    break
            self.epochs_done_ += 1
            if time.perf_counter() - started > self.max_seconds:
                break
        self.nlp_ = nlp
        return self

    def predict(self, X: Sequence[str]) -> list[list[dict]]:
        if not hasattr(self, "labels_"):
            raise RuntimeError("SpacyNEREntityExtractor is not fitted; call fit first")
        if self.nlp_ is None:
            return [[] for _ in X]
        ner = self.nlp_.get_pipe("ner")
        out = []
        docs = [self.nlp_.make_doc(text) for text in X]
        beams = ner.predict(docs)
        ner.set_annotations(docs, beams)
        for text, doc, scored in zip(X, docs, ner.scored_ents(beams)):
            ents = []
            for ent in doc.ents:
                conf = scored.get((ent.start, ent.end, ent.label_), 0.0)
                ents.append(make_entity(text, ent.start_char, ent.end_char, ent.label_, conf, self.name))
            out.append(ents)
        return out

    def __getstate__(self):
        state = dict(super().__getstate__())
        nlp = state.get("nlp_")
        if nlp is not None:
            state["nlp_"] = ("spacy", nlp.config.to_str(), nlp.to_bytes())
        return state

    def __setstate__(self, state):
        packed = state.get("nlp_")
        if isinstance(packed, tuple) and packed and packed[0] == "spacy":
            from spacy.util import load_model_from_config
            from thinc.api import Config

            nlp = load_model_from_config(Config().from_str(packed[1]), auto_fill=True)
            state["nlp_"] = nlp.from_bytes(packed[2])
        super().__setstate__(state)


def _char_spans(example):
    return [(e.start_char, e.end_char, e.label_) for e in example.reference.ents]
