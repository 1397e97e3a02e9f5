"""Values stated in a sentence (amounts, durations, dates, times, percentages, counts, yes/no)
and the comparisons built on them: contradictory and near-duplicate statements.

Sentences are compared clause by clause (cut at commas, semicolons, colons, brackets, dashes).
Two clauses are about the same thing when their content words (stemmed; values replaced by their
kind, e.g. ``valdurationbusinessday``; negations left out) largely coincide: one set contains the
other, with two words or more besides values in common, or they share at least 80 % of their
words. Two clauses about the same thing contradict each other when they state values of the same
kind (and unit) and neither clause's values include the other's ("within 14 days" against
"within 30 days"), or when they state the same values and share most words but one denies what
the other affirms ("gift cards can be refunded" against "gift cards cannot be refunded").

These are heuristics on wording: synonyms ("keep", "remember") count as different words, and a
clause is judged without its heading ("In the US it takes 3-5 business days"), so contradictions
in similar wording are found, not every contradiction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from difflib import SequenceMatcher

from .text import NEGATIONS, STOPWORDS, stem, words

NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fourteen": 14, "fifteen": 15,
    "twenty": 20, "thirty": 30, "forty": 40, "forty-five": 45, "sixty": 60, "ninety": 90,
    "hundred": 100,
}
UNITS = {
    "minute": "minute", "min": "minute", "hour": "hour", "hr": "hour", "day": "day",
    "business day": "business_day", "working day": "business_day", "week": "week",
    "month": "month", "year": "year",
}
MONTHS = {m: i for i, m in enumerate(
    "january february march april may june july august september october november december".split(), 1)}

_NUM = r"(?:\d[\d,]*(?:\.\d+)?|" + "|".join(sorted((re.escape(w) for w in NUMBER_WORDS), key=len, reverse=True)) + r")"
_UNIT = r"(?:business|working)[ -]days?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?"
_MASK = re.compile(
    r"https?://\S+|www\.\S+|[\w.+-]+@[\w-]+\.[\w.]+|\+\d[\d ()-]{7,}\d|\b(?:ORD|INV|TCK)-\d+\b", re.I
)
_PATTERNS = [
    ("date", re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")),
    ("date", re.compile(r"\b(" + "|".join(MONTHS) + r")\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b", re.I)),
    ("date", re.compile(r"\b(\d{1,2})\s+(" + "|".join(MONTHS) + r")\s+(\d{4})\b", re.I)),
    ("time", re.compile(r"\b(\d{1,2})(?::(\d{2}))?\s*(a\.?m\.?|p\.?m\.?)|\b(\d{1,2}):(\d{2})\b", re.I)),
    ("money", re.compile(r"([$£€])\s?(\d[\d,]*(?:\.\d+)?)|\b(\d[\d,]*(?:\.\d+)?)\s?(?:usd|eur|gbp|dollars?|euros?|pounds)\b", re.I)),
    ("money", re.compile(r"(?<!feel )\b(free(?: of charge)?|no charge|no cost|no fee|at no extra cost)\b", re.I)),
    ("percent", re.compile(r"\b(\d+(?:\.\d+)?)\s?(?:%|per ?cent)", re.I)),
    ("duration", re.compile(rf"\b({_NUM})(?:\s?(?:-|–|to|and)\s?({_NUM}))?[\s-](?:(?:more|additional|extra|further|full|calendar)\s)?({_UNIT})\b", re.I)),
    ("count", re.compile(r"(?<![\w.])(\d[\d,]*(?:\.\d+)?)(?:\s?[-–]\s?(\d+))?\b")),
]


@dataclass(frozen=True)
class Value:
    """One stated value: ``kind`` (money, duration, date, time, percent, count), its ``unit``
    (for durations) and its number or range (``low``, ``high``)."""

    kind: str
    unit: str
    low: float
    high: float
    text: str

    @property
    def key(self) -> tuple:
        return (self.kind, self.unit, self.low, self.high)

    def within(self, other: "Value") -> bool:
        """Also stated by ``other``: the same kind and unit, and numbers among its numbers (a plain
        count is found in a value of any kind)."""
        if self.kind != "count" and (self.kind != other.kind or self.unit != other.unit):
            return False
        return {self.low, self.high} <= {other.low, other.high}


def _number(text: str) -> float:
    text = text.lower().replace(",", "")
    return float(NUMBER_WORDS[text]) if text in NUMBER_WORDS else float(text)


def _unit(text: str) -> str:
    text = text.lower().replace("-", " ")
    for name, unit in UNITS.items():
        if text.startswith(name):
            return unit
    return text.rstrip("s")


def values(text: str) -> list[Value]:
    """The values ``text`` states, left to right (phone numbers, e-mail addresses, links and
    order/invoice/ticket numbers are not values)."""
    return [value for _, _, value in _spans(text)]


def _spans(text: str) -> list[tuple[int, int, Value]]:
    text = _MASK.sub(lambda m: " " * len(m.group()), text.replace("\u2011", "-"))
    taken = [False] * len(text)
    found: list[tuple[int, int, Value]] = []
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            if any(taken[match.start() : match.end()]):
                continue
            value = _parse(kind, match)
            if value is None:
                continue
            taken[match.start() : match.end()] = [True] * (match.end() - match.start())
            found.append((match.start(), match.end(), value))
    found.sort(key=lambda item: item[0])
    # "3-5 business days in the US, 5-8 to Canada": a bare number after a duration is one too.
    for i in range(1, len(found)):
        before, (start, end, value) = found[i - 1][2], found[i]
        if value.kind == "count" and before.kind == "duration" and value.low < 1000:
            found[i] = (start, end, Value("duration", before.unit, value.low, value.high, value.text))
    return found


def _parse(kind: str, m: re.Match) -> Value | None:
    raw = m.group(0)
    try:
        if kind == "date":
            groups = m.groups()
            if groups[0].isdigit() and len(groups[0]) == 4:
                day = date(int(groups[0]), int(groups[1]), int(groups[2]))
            elif groups[0].isdigit():
                day = date(int(groups[2]), MONTHS[groups[1].lower()], int(groups[0]))
            else:
                day = date(int(groups[2]), MONTHS[groups[0].lower()], int(groups[1]))
            return Value("date", "", day.toordinal(), day.toordinal(), raw)
        if kind == "time":
            if m.group(4):
                hour, minute = int(m.group(4)), int(m.group(5))
            else:
                hour, minute = int(m.group(1)) % 12, int(m.group(2) or 0)
                hour += 12 if m.group(3).lower().startswith("p") else 0
            if hour > 23 or minute > 59:
                return None
            return Value("time", "", hour * 60 + minute, hour * 60 + minute, raw)
        if kind == "money":
            if m.re.groups == 1:
                return Value("money", "", 0.0, 0.0, raw)
            amount = _number(m.group(2) or m.group(3))
            return Value("money", "", amount, amount, raw)
        if kind == "percent":
            return Value("percent", "", float(m.group(1)), float(m.group(1)), raw)
        if kind == "duration":
            low = _number(m.group(1))
            high = _number(m.group(2)) if m.group(2) else low
            return Value("duration", _unit(m.group(3)), min(low, high), max(low, high), raw)
        low = _number(m.group(1))
        high = _number(m.group(2)) if m.group(2) else low
        return Value("count", "", min(low, high), max(low, high), raw)
    except (ValueError, KeyError):
        return None


_CLAUSE = re.compile(r"\s*(?:[;:()]|,\s*(?:(?:and|but|or|so)\b)?|\s[–—-]\s)\s*")


@dataclass(frozen=True)
class Clause:
    """A value-bearing part of a sentence: what it is about, what it states, whether it denies."""

    text: str
    subject: frozenset[str]
    values: tuple[Value, ...]
    negated: bool


def clauses(sentence: str) -> list[Clause]:
    """``sentence`` cut at commas, semicolons, colons, brackets and dashes; values are found in
    the whole sentence first, so that "5-8 to Canada" after "3-5 business days" stays a duration."""
    text = _MASK.sub(lambda m: " " * len(m.group()), sentence.replace("\u2011", "-"))
    spans = _spans(text)
    masked = list(text)
    for start, end, _ in spans:
        masked[start:end] = "#" * (end - start)  # not a word, not a space: clause cuts keep it
    masked = "".join(masked)
    out: list[Clause] = []
    start = 0
    for cut in [*_CLAUSE.finditer(masked), None]:
        end = cut.start() if cut else len(masked)
        part_values = tuple(v for s, e, v in spans if start <= s < end)
        tokens = words(masked[start:end])
        subject = frozenset(stem(w) for w in tokens if w not in STOPWORDS and w not in NEGATIONS)
        subject |= {f"val{v.kind}{v.unit.replace('_', '')}" for v in part_values}
        if subject:
            out.append(Clause(text[start:end].strip(), subject, part_values, any(w in NEGATIONS for w in tokens)))
        start = cut.end() if cut else end
    return out


def same_subject(a: frozenset[str], b: frozenset[str]) -> bool:
    """About the same thing: one clause's words contain the other's (two or more words besides
    values in common), or they share 80 % of their words."""
    shared = a & b
    if sum(not w.startswith("val") for w in shared) < 2:
        return False
    return a <= b or b <= a or len(shared) / len(a | b) >= 0.8


@dataclass(frozen=True)
class Disagreement:
    kind: str  # a value kind ("duration", "money", ...) or "yes/no"
    first: str  # the part of each statement that disagrees
    second: str


def disagreement(a: str, b: str) -> Disagreement | None:
    """How statements (sentences) ``a`` and ``b`` contradict each other, or ``None``."""
    for ca in clauses(a):
        for cb in clauses(b):
            found = clash(ca, cb)
            if found:
                return found
    return None


def clash(a: Clause, b: Clause) -> Disagreement | None:
    if not same_subject(a.subject, b.subject):
        return None
    for kind in ("money", "duration", "date", "time", "percent"):
        ka, kb = [v for v in a.values if v.kind == kind], [v for v in b.values if v.kind == kind]
        units = {v.unit for v in ka} & {v.unit for v in kb}
        if not units:
            continue
        sa = {v.key for v in ka if v.unit in units}
        sb = {v.key for v in kb if v.unit in units}
        if not (sa <= sb or sb <= sa):
            return Disagreement(kind, ", ".join(v.text for v in ka), ", ".join(v.text for v in kb))
    # yes/no needs more in common: three words besides values, and half of all words
    shared = a.subject & b.subject
    if (a.negated != b.negated and {v.key for v in a.values} == {v.key for v in b.values}
            and sum(not w.startswith("val") for w in shared) >= 3 and len(shared) >= 0.5 * len(a.subject | b.subject)):
        return Disagreement("yes/no", a.text, b.text)
    return None


def normalised(text: str) -> list[str]:
    return [w for w in words(text) if w not in STOPWORDS]


def near_duplicate(a: str, b: str, threshold: float = 0.9) -> bool:
    """Near-identical wording (at least five content words, 90 % of them in the same order)."""
    wa, wb = normalised(a), normalised(b)
    if min(len(wa), len(wb)) < 5:
        return False
    return SequenceMatcher(None, wa, wb, autojunk=False).ratio() >= threshold
