"""Checks on an answer before it is used.

A generated answer is used only when :func:`check_answer` passes: it cites at least one of the
retrieved passages (by passage id or by title), and every number, amount, date, time, percentage
and duration it states is also stated in the passages it cites. :func:`supported` is the
faithfulness measure of the evaluation: every sentence of the answer is backed by its sources
(its values found there, and most of its content words).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

from .facts import values
from .text import sentences, terms

_CITATION = re.compile(r"\(\s*sources?\s*:[^)]*\)|\[\s*(?:passage\s*)?(?:id\s*[:=]\s*)?[0-9a-f]{6,}\s*\]", re.I)
_HEX = re.compile(r"\b[0-9a-f]{6,}\b")


class SourcePassage(Protocol):
    chunk_id: str
    title: str
    version: str
    text: str


@dataclass
class Check:
    ok: bool
    problems: list[str] = field(default_factory=list)
    cited: list = field(default_factory=list)  # the passages the answer cites


def cited_passages(text: str, passages: list) -> list:
    """The passages ``text`` names: by id (or an id prefix of 6+ characters) or by title."""
    lowered = text.lower()
    ids = {m.group(0) for m in _HEX.finditer(lowered)}
    cited, titles = [], set()
    for passage in passages:
        by_id = any(len(token) >= 6 and passage.chunk_id.startswith(token) for token in ids)
        if by_id or (passage.title and passage.title.lower() in lowered):
            cited.append(passage)
            titles.add(passage.title)
    # citing a title cites every retrieved passage of that document
    return cited + [p for p in passages if p not in cited and p.title in titles]


def strip_citations(text: str) -> str:
    return _CITATION.sub(" ", text)


def check_answer(text: str, passages: list) -> Check:
    """Is ``text`` grounded in ``passages`` (the passages that were retrieved for it)?

    ``cited`` lists the passages the answer rests on: those it names by id, and of a document it
    names by title, the passages that state its values (or else share the most words with it)."""
    if not text or not text.strip():
        return Check(False, ["the answer is empty"])
    cited = cited_passages(text, passages)
    if not cited:
        return Check(False, ["it cites none of the retrieved passages"])
    body = strip_citations(text)
    stated = values(body)
    known = {id(p): values(f"{p.title}, version {p.version}. {p.text}") for p in cited}
    problems = [
        f"'{value.text}' is not stated in the passages it cites"
        for value in stated
        if not any(value.within(other) for p in cited for other in known[id(p)])
    ]
    return Check(not problems, problems, _narrow(text, body, stated, cited, known))


def _narrow(text: str, body: str, stated: list, cited: list, known: dict) -> list:
    lowered = text.lower()
    ids = {m.group(0) for m in _HEX.finditer(lowered)}
    by_id = [p for p in cited if any(len(t) >= 6 and p.chunk_id.startswith(t) for t in ids)]
    words = set(terms(body))
    out = list(by_id)
    for title in dict.fromkeys(p.title for p in cited if p.title.lower() in lowered):
        candidates = [p for p in cited if p.title == title]
        with_values = [p for p in candidates if stated and any(v.within(o) for v in stated for o in known[id(p)])]
        best = with_values or [max(candidates, key=lambda p: len(words & set(terms(p.text))))]
        out += [p for p in best if p not in out]
    return out


def supported(text: str, passages: list, min_words: float = 0.6) -> bool:
    """Every sentence of ``text`` is backed by ``passages``: all its values are stated there, and
    at least ``min_words`` of its content words occur there."""
    source = " ".join(f"{p.title}. {p.text}" for p in passages)
    known, vocabulary = values(source), set(terms(source))
    for _, sentence in sentences(strip_citations(text)):
        if any(not any(v.within(other) for other in known) for v in values(sentence)):
            return False
        words = set(terms(sentence))
        if words and len(words & vocabulary) / len(words) < min_words:
            return False
    return True
