"""The in-memory form of labelled NLU data, whatever file format it came from."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Entity:
    """An entity annotation: ``text[start:end]`` is the span, ``value`` its canonical value."""

    start: int
    end: int
    value: str
    entity: str
    role: str | None = None
    group: str | None = None

    def as_dict(self) -> dict:
        out = {"start": self.start, "end": self.end, "value": self.value, "entity": self.entity}
        if self.role is not None:
            out["role"] = self.role
        if self.group is not None:
            out["group"] = self.group
        return out


@dataclass(frozen=True)
class Example:
    """One labelled message. ``source`` is ``path:line`` so errors can point back at it."""

    text: str
    intent: str | None
    entities: tuple[Entity, ...] = ()
    source: str | None = None


@dataclass
class TrainingData:
    """Examples plus the lexical resources Rasa files carry beside them."""

    examples: list[Example] = field(default_factory=list)
    # variant text (lower-cased) -> canonical value
    synonyms: dict[str, str] = field(default_factory=dict)
    # (entity or feature name, pattern)
    regexes: list[tuple[str, str]] = field(default_factory=list)
    # entity name -> list of values
    lookups: dict[str, list[str]] = field(default_factory=dict)

    def merge(self, other: TrainingData) -> TrainingData:
        lookups = {k: list(v) for k, v in self.lookups.items()}
        for name, values in other.lookups.items():
            lookups.setdefault(name, []).extend(values)
        return TrainingData(
            examples=self.examples + other.examples,
            synonyms={**self.synonyms, **other.synonyms},
            regexes=self.regexes + other.regexes,
            lookups=lookups,
        )

    @property
    def texts(self) -> list[str]:
        return [e.text for e in self.examples]

    @property
    def intents(self) -> list[str | None]:
        return [e.intent for e in self.examples]

    @property
    def intent_examples(self) -> list[Example]:
        return [e for e in self.examples if e.intent]

    @property
    def entity_types(self) -> list[str]:
        return sorted({ent.entity for e in self.examples for ent in e.entities})

    def typical_entity_texts(self) -> dict[str, str]:
        """The most common annotated text of each entity type (the first seen, among equals)."""
        counts: dict[str, Counter] = {}
        for example in self.examples:
            for ent in example.entities:
                counts.setdefault(ent.entity, Counter())[example.text[ent.start : ent.end]] += 1
        return {entity: texts.most_common(1)[0][0] for entity, texts in counts.items()}

    def intent_counts(self) -> Counter:
        return Counter(e.intent for e in self.examples if e.intent)

    def subset(self, indices) -> TrainingData:
        """The same resources with only the examples at ``indices`` (for cross-validation)."""
        return TrainingData(
            examples=[self.examples[i] for i in indices],
            synonyms=dict(self.synonyms),
            regexes=list(self.regexes),
            lookups={k: list(v) for k, v in self.lookups.items()},
        )
