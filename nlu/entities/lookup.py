"""Lookup-table entity extraction: whole-word, case-insensitive matches of listed values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sklearn.base import BaseEstimator

from nlu.entities._spans import check_lengths, make_entity
from nlu.entities.gazetteer import TokenTrie
from nlu.entities.tokenizer import tokenize
from nlu.registry import register


@register("LookupEntityExtractor.v1", "LookupEntityExtractor")
class LookupEntityExtractor(BaseEstimator):
    """Finds the values of ``tables`` (``{entity: [values]}``) in messages, confidence 1.0.

    Matching is case-insensitive and whole-word (token by token, so ``York`` does not match
    inside ``Yorkshire``); whitespace runs count as one space. Matches do not overlap: scanning
    left to right, the longest value starting at a position wins. A value listed under several
    entities is reported for the first table that lists it. ``value`` is the text as written
    (an ``EntitySynonymMapper`` later in the pipeline can normalise it).

    Values sit in a token trie, so the cost per message grows with its length, not with the
    number of values.
    """

    kind = "entity_extractor"
    from_data = {"tables": "lookups"}
    name = "LookupEntityExtractor"

    def __init__(self, tables: Mapping[str, Sequence[str]] | None = None):
        self.tables = tables

    def fit(self, X: Sequence[str] | None = None, y=None):
        if X is not None:
            check_lengths(X, y)
        if self.tables is not None and not isinstance(self.tables, Mapping):
            raise ValueError("tables must map an entity name to a list of values")
        for name, values in (self.tables or {}).items():
            if isinstance(values, str):
                raise ValueError(f"lookup table {name!r} must be a list of values, not a string")
        self.trie_ = TokenTrie(self.tables)
        return self

    def predict(self, X: Sequence[str]) -> list[list[dict]]:
        trie = getattr(self, "trie_", None)
        if trie is None:  # needs no training: build on first use
            trie = self.fit().trie_
        out = []
        for text in X:
            tokens = tokenize(text)
            out.append([
                make_entity(text, tokens[i].start, tokens[j - 1].end, names[0], 1.0, self.name, decode=False)
                for i, j, names in trie.longest_matches(tokens)
            ])
        return out
