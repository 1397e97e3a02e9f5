"""Mapping entity values to canonical values, after Rasa's EntitySynonymMapper."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sklearn.base import BaseEstimator

from nlu.entities._spans import check_lengths
from nlu.registry import register


@register("EntitySynonymMapper.v1", "EntitySynonymMapper")
class EntitySynonymMapper(BaseEstimator):
    """Replaces an entity's ``value`` by its canonical value when ``value.lower()`` is a known variant.

    Variants come from ``synonyms`` (``{variant: canonical}``, as in the training data) and, when
    fitted on annotated examples, from every annotation whose ``value`` differs from the text it
    covers (as Rasa does): ``text[start:end].lower() -> value``. Explicit synonyms win over
    learned ones. Only string values are mapped; the span (``start``/``end``) is left as it was,
    and ``"EntitySynonymMapper"`` is appended to the entity's ``processors`` list.
    """

    kind = "entity_processor"
    from_data = {"synonyms": "synonyms"}
    name = "EntitySynonymMapper"

    def __init__(self, synonyms: Mapping[str, str] | None = None):
        self.synonyms = synonyms

    def fit(self, X: Sequence[str] | None = None, y: Sequence[Sequence[dict]] | None = None):
        mapping: dict[str, str] = {}
        if X is not None and y is not None:
            check_lengths(X, y)
            for text, ents in zip(X, y):
                for ent in ents or ():
                    value = ent.get("value")
                    written = text[ent["start"]:ent["end"]]
                    if isinstance(value, str) and written and written != value:
                        mapping[written.lower()] = value
        for variant, canonical in (self.synonyms or {}).items():
            mapping[str(variant).lower()] = canonical
        self.mapping_ = mapping
        return self

    def process(self, X: Sequence[str], entities: Sequence[Sequence[dict]]) -> list[list[dict]]:
        check_lengths(X, entities)
        mapping = getattr(self, "mapping_", None)
        if mapping is None:
            mapping = self.fit().mapping_
        out = []
        for ents in entities:
            new = []
            for ent in ents:
                ent = dict(ent)
                value = ent.get("value")
                if isinstance(value, str):
                    canonical = mapping.get(value.lower())
                    if canonical is not None and canonical != value:
                        ent["value"] = canonical
                        ent["processors"] = [*ent.get("processors", ()), self.name]
                new.append(ent)
            out.append(new)
        return out
