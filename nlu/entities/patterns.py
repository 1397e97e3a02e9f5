"""Regular-expression entity extraction, after Rasa's RegexEntityExtractor."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sklearn.base import BaseEstimator

from nlu.entities._spans import check_lengths, make_entity
from nlu.registry import register


def compile_patterns(patterns: Sequence[tuple[str, str]] | None, flags: int = 0) -> list[tuple[str, re.Pattern]]:
    """``[(name, compiled)]``; an invalid pattern raises ``ValueError`` naming it."""
    compiled = []
    for item in patterns or ():
        try:
            name, pattern = item
        except (TypeError, ValueError):
            raise ValueError(f"a regex must be a (name, pattern) pair, got {item!r}") from None
        try:
            compiled.append((str(name), re.compile(pattern, flags)))
        except (re.error, TypeError) as exc:
            raise ValueError(f"invalid regex {pattern!r} for {name!r}: {exc}") from None
    return compiled


@register("RegexEntityExtractor.v1", "RegexEntityExtractor")
class RegexEntityExtractor(BaseEstimator):
    """Every non-empty match of each ``(entity, pattern)`` is an entity with confidence 1.0.

    Matches of one pattern do not overlap each other (``re.finditer``); matches of different
    patterns may. Output is sorted by start (pattern order among equal spans).

    ``case_sensitive`` defaults to ``False``, as in Rasa.
    """

    kind = "entity_extractor"
    from_data = {"patterns": "regexes"}
    name = "RegexEntityExtractor"

    def __init__(self, patterns: Sequence[tuple[str, str]] | None = None, case_sensitive: bool = False):
        self.patterns = patterns
        self.case_sensitive = case_sensitive

    def fit(self, X: Sequence[str] | None = None, y=None):
        if X is not None:
            check_lengths(X, y)
        self.compiled_ = compile_patterns(self.patterns, 0 if self.case_sensitive else re.IGNORECASE)
        return self

    def predict(self, X: Sequence[str]) -> list[list[dict]]:
        compiled = getattr(self, "compiled_", None)
        if compiled is None:  # needs no training: compile on first use
            compiled = self.fit().compiled_
        out = []
        for text in X:
            ents = []
            for name, regex in compiled:
                for m in regex.finditer(text):
                    if m.end() > m.start():
                        ents.append(make_entity(text, m.start(), m.end(), name, 1.0, self.name, decode=False))
            ents.sort(key=lambda e: (e["start"], -e["end"]))
            out.append(ents)
        return out
