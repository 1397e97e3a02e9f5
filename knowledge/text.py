"""Small text helpers shared by chunking, lexical search, answer selection and the checks."""

from __future__ import annotations

import re

STOPWORDS = frozenset(
    """a about above after again all also am an and any are as at be been before being below
    between both but by can could did do does doing down during each either else etc few for from
    further had has have having he her here hers herself him himself his how i if in into is it its
    itself just let me more most my myself of off on once only or other our ours ourselves out over
    own per please same she should so some such than that the their theirs them themselves then
    there these they this those through to too under until up upon very via was we were what
    when where which while who whom why will with would you your yours yourself yourselves may
    might must shall get got getting one ones thing things way much many i'm i've i'd you're
    you'll we're we'll we've it's that's there's what's within usually normally typically
    generally always another now""".split()
)
NEGATIONS = frozenset(
    """not no never cannot can't won't don't doesn't isn't aren't wasn't weren't didn't shouldn't
    couldn't wouldn't haven't hasn't hadn't nor none nothing neither unable""".split()
)

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "approx.", "no.", "st.", "mr.", "mrs.", "ms.", "dr.", "a.m.", "p.m.", "inc.")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9$£€])")


def words(text: str) -> list[str]:
    """Lower-cased word tokens (apostrophes kept: ``don't``)."""
    return _WORD.findall(text.lower().replace("\u2019", "'").replace("e-mail", "email"))


def stem(word: str) -> str:
    """A light suffix stripper: ``refunds``/``refunded``/``refunding`` -> ``refund``."""
    if word.endswith("'s"):
        word = word[:-2]
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("sses"):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            base = word[: -len(suffix)]
            if len(base) > 3 and base[-1] == base[-2] and base[-1] not in "lsz":
                base = base[:-1]  # shipped -> ship, but cancelled -> cancell -> below
            if base.endswith("ll") and len(base) > 5:
                base = base[:-1]  # cancelled / cancelling -> cancel
            word = base
            break
    if word.endswith("e") and len(word) > 4 and not word.endswith("ee"):
        word = word[:-1]  # issue / issued -> issu, charge / charged -> charg
    return word


def terms(text: str) -> list[str]:
    """Stemmed content words: stop words and negations left out."""
    return [stem(w) for w in words(text) if w not in STOPWORDS and w not in NEGATIONS]


def sentences(text: str) -> list[tuple[int, str]]:
    """Split a paragraph into sentences: ``(character offset, sentence)`` pairs."""
    out: list[tuple[int, str]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        candidate = text[start : match.start()].strip()
        last = candidate.rsplit(None, 1)[-1].lower() if candidate else ""
        if not candidate or last.endswith(_ABBREVIATIONS):
            continue
        out.append((start, candidate))
        start = match.end()
    rest = text[start:].strip()
    if rest:
        out.append((start, rest))
    return out
