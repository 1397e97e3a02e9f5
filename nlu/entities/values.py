"""Structured values (numbers, money, dates and times, e-mails, phone numbers, URLs).

``ValueExtractor`` plays the part of Rasa's DucklingEntityExtractor, without a Duckling server:
it finds candidate spans cheaply and leaves the parsing to maintained libraries
(``phonenumbers``, ``price-parser``, ``dateparser``, ``number-parser``). Output follows
Duckling's shape as Rasa reports it: ``entity`` is the dimension, ``value`` the resolved value and
``additional_info`` Duckling's value object (``{"value", "unit"}`` for money, ``{"value", "grain"}``
for time, ...).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from decimal import Decimal
from functools import lru_cache
from urllib.parse import urlsplit

from sklearn.base import BaseEstimator

from nlu.entities.merge import merge_entities
from nlu.entities.tokenizer import tokenize
from nlu.registry import register

# Overlaps are resolved in this order: the earlier dimension keeps the span.
DIMENSIONS = ("email", "url", "amount-of-money", "phone-number", "time", "number")

# -- e-mail and URL ------------------------------------------------------------------------------

# RFC 5322 "lite": dot-atom local part and a dotted host name with an alphabetic TLD.
# Quoted local parts and IP-literal domains are left out: this detects addresses, it does not
# validate them.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_EMAIL_RE = re.compile(
    rf"(?<![\w.!#$%&'*+/=?^`{{|}}~@-]){_ATEXT}+(?:\.{_ATEXT}+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}(?![\w@-])"
)
_URL_RE = re.compile(r"(?<![\w@.])(?:https?://|www\.)[^\s<>\"']+")
_URL_TRAILING = ".,;:!?)]}'\""

# -- money ---------------------------------------------------------------------------------------

_ISO_CODES = (
    "USD|EUR|GBP|JPY|CNY|INR|CAD|AUD|NZD|CHF|SEK|NOK|DKK|PLN|CZK|HUF|MXN|BRL|ZAR|SGD|HKD|KRW|TRY|RUB|ILS|AED"
)
_SYMBOLS = {"US$": "USD", "C$": "CAD", "A$": "AUD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR", "₩": "KRW"}
_WORDS = {
    "euro": "EUR", "euros": "EUR", "pound": "GBP", "pounds": "GBP", "quid": "GBP",
    "yen": "JPY", "rupee": "INR", "rupees": "INR", "franc": "CHF", "francs": "CHF",
}
_DOLLAR_WORDS = {"dollar", "dollars", "buck", "bucks"}
_CENT_WORDS = {"cent", "cents"}
_MULTIPLIERS = {"k": 1_000, "thousand": 1_000, "m": 1_000_000, "mn": 1_000_000, "million": 1_000_000,
                "bn": 1_000_000_000, "billion": 1_000_000_000}
_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d{1,3}(?:\.\d{3})+(?:,\d{1,2})?|\d+(?:[.,]\d+)?"
_SYM = r"US\$|C\$|A\$|[$€£¥₹₩]"
_UNIT_WORD = r"dollars?|bucks?|euros?|pounds?|quid|yen|rupees?|francs?|cents?"
_MONEY_RE = re.compile(
    rf"""
    (?<![\w.,$€£¥₹₩])
    (?:
        (?P<pre>{_SYM}|\b(?-i:{_ISO_CODES})\b\s?)\s?(?P<num1>{_NUM})(?:\s?(?P<mult1>k|thousand|million|mn|m|bn|billion)\b)?
      | (?P<num2>{_NUM})(?:\s?(?P<mult2>k|thousand|million|mn|bn|billion)\b)?\s?
        (?P<post>{_SYM}|\b(?-i:{_ISO_CODES})\b|\b(?:{_UNIT_WORD})\b)
    )
    (?![\w$€£¥₹₩])
    """,
    re.VERBOSE | re.IGNORECASE,
)

# -- dates and times -----------------------------------------------------------------------------

_MONTHS = r"january|february|april|june|july|august|september|october|november|december"
_MONTHS_AMBIGUOUS = r"may|march|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"  # need a number beside
_WEEKDAYS = r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|weekend"
_UNITS = r"seconds?|minutes?|mins?|hours?|hrs?|days?|weeks?|fortnight|months?|years?"
_COUNT = r"\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|a couple of|a few"
_DATEISH_RE = re.compile(
    rf"""
      \b(?:{_MONTHS})\b
    | \b(?:{_MONTHS_AMBIGUOUS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?\b
    | \b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTHS_AMBIGUOUS})\b
    | \b(?:{_MONTHS_AMBIGUOUS})\.?\s+\d{{4}}\b
    | \b(?:{_WEEKDAYS})s?\b
    | \b(?:today|tonight|tomorrow|yesterday|noon|midnight|midday)\b
    | \b(?:next|last|this|coming|previous)\s+(?:week|month|year|{_WEEKDAYS})\b
    | \b(?:{_COUNT})\s+(?:{_UNITS})\s+(?:ago|from\s+now|later)\b
    | \bin\s+(?:{_COUNT})\s+(?:{_UNITS})\b
    | \b\d{{4}}-\d{{1,2}}-\d{{1,2}}\b
    | \b\d{{1,2}}[/.-]\d{{1,2}}[/.-]\d{{2,4}}\b
    | \b\d{{1,2}}/\d{{1,2}}\b
    | \b\d{{1,2}}(?::\d{{2}})?\s?(?:am|pm|a\.m\.|p\.m\.)(?!\w)
    | \b\d{{1,2}}:\d{{2}}\b
    | \b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|\d{{1,2}})\s+o'?clock\b
    """,
    re.VERBOSE | re.IGNORECASE,
)
_CLOCK_RE = re.compile(
    r"\d:\d{2}|\d\s?(?:am|pm|a\.m\.|p\.m\.)|\bnoon\b|\bmidnight\b|\bmidday\b|o'?clock|\btonight\b"
    r"|\b(?:hours?|hrs?|minutes?|mins?|seconds?)\b",
    re.IGNORECASE,
)
_DAYLIKE_RE = re.compile(
    rf"\b\d{{1,2}}(?:st|nd|rd|th)?\b(?!\s*(?:am|pm|:))|\b(?:{_WEEKDAYS}|today|tomorrow|yesterday|week|days?)\b",
    re.IGNORECASE,
)
_MONTH_WORD_RE = re.compile(rf"\b(?:{_MONTHS}|{_MONTHS_AMBIGUOUS}|month)\b", re.IGNORECASE)
_LEADING_FILLER_RE = re.compile(r"^(?:(?:on|at|by|for|the|of|from)\s+)+", re.IGNORECASE)
_TRAILING_FILLER_RE = re.compile(r"(?:[\s,]+(?:on|at|by|for|the|of|in|and|from))+[\s,]*$|[\s,]+$", re.IGNORECASE)
_LEADING_IN_RE = re.compile(rf"^in\s+(?!(?:{_COUNT})\s+(?:{_UNITS})\b)", re.IGNORECASE)

# -- numbers -------------------------------------------------------------------------------------

_NUMBER_TOKEN_RE = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")
_NUMBER_JOINERS = {"and", "-"}


def _as_number(amount: Decimal | float | int):
    """``int`` when integral, else ``float``."""
    value = float(amount)
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


@lru_cache(maxsize=1)
def _number_vocabulary() -> frozenset[str]:
    """English cardinal words number-parser knows (``one`` ... ``nineteen``, tens, ``hundred``...)."""
    from number_parser.parser import LanguageData

    return frozenset(LanguageData("en").all_numbers)


@lru_cache(maxsize=4096)
def _number_word(word: str):
    """The value of a single English number word, or ``None``."""
    if word not in _number_vocabulary():
        return None
    from number_parser import parse_number

    return parse_number(word, language="en")


@register("ValueExtractor.v1", "ValueExtractor")
class ValueExtractor(BaseEstimator):
    """Extracts structured values by dimension; needs no training (``fit`` only checks parameters).

    Parameters
    ----------
    dimensions:
        Any of ``number``, ``amount-of-money``, ``time``, ``email``, ``phone-number``, ``url``;
        ``None`` means all. Overlapping finds are resolved in the order of :data:`DIMENSIONS`
        (a number inside a date or price is not reported as a number).
    region:
        Default region for phone numbers written without a country code (ISO 3166 code).
    currency:
        ISO 4217 code for a bare ``$`` and for ``dollars``/``bucks``.
    relative_base:
        The "now" that relative dates (``tomorrow``, ``in 2 hours``) count from; ``None`` means
        the current local time at prediction.

    Values: ``number`` an ``int`` or ``float``; ``amount-of-money`` the amount (``int`` or ``float``), with
    ``additional_info = {"value", "unit"}`` (``unit`` an ISO 4217 code); ``time`` an ISO 8601
    string without time zone, with ``additional_info = {"value", "grain"}``; ``phone-number``
    E.164; ``email`` and ``url`` the text as written.
    """

    kind = "entity_extractor"
    name = "ValueExtractor"

    def __init__(
        self,
        dimensions: Sequence[str] | None = None,
        region: str = "US",
        currency: str = "USD",
        relative_base: dt.datetime | str | None = None,
    ):
        self.dimensions = dimensions
        self.region = region
        self.currency = currency
        self.relative_base = relative_base

    def _region(self) -> str:
        return self.region

    def _dims(self) -> tuple[str, ...]:
        if self.dimensions is None:
            return DIMENSIONS
        if isinstance(self.dimensions, str):
            raise ValueError("dimensions must be a list of names, not a single string")
        unknown = sorted(set(self.dimensions) - set(DIMENSIONS))
        if unknown:
            raise ValueError(f"unknown dimension(s) {unknown}; known: {list(DIMENSIONS)}")
        return tuple(d for d in DIMENSIONS if d in set(self.dimensions))

    def _base(self) -> dt.datetime:
        base = self.relative_base
        if base is None:
            return dt.datetime.now().replace(microsecond=0)
        if isinstance(base, str):
            return dt.datetime.fromisoformat(base)
        if isinstance(base, dt.datetime):
            return base
        if isinstance(base, dt.date):
            return dt.datetime(base.year, base.month, base.day)
        raise ValueError(f"relative_base must be a datetime or an ISO 8601 string, got {base!r}")

    def fit(self, X: Sequence[str] | None = None, y=None):
        self.dimensions_ = self._dims()
        self._base()
        if "time" in self.dimensions_:
            _warm_up_dateparser()
        return self

    def predict(self, X: Sequence[str]) -> list[list[dict]]:
        dims = self._dims()
        finders = {
            "email": self._emails,
            "url": self._urls,
            "amount-of-money": self._money,
            "phone-number": self._phones,
            "time": self._times,
            "number": self._numbers,
        }
        return [merge_entities([finders[d](text) for d in dims]) for text in X]

    # -- finders ------------------------------------------------------------------------------

    def _entity(self, start: int, end: int, dim: str, value, info: dict | None = None) -> dict:
        out = {"start": start, "end": end, "value": value, "entity": dim, "confidence": 1.0, "extractor": self.name}
        out["additional_info"] = {"value": value, **(info or {})}
        return out

    def _emails(self, text: str) -> list[dict]:
        return [
            self._entity(m.start(), m.end(), "email", m.group(), {"domain": m.group().rpartition("@")[2].lower()})
            for m in _EMAIL_RE.finditer(text)
        ]

    def _urls(self, text: str) -> list[dict]:
        out = []
        for m in _URL_RE.finditer(text):
            url = m.group().rstrip(_URL_TRAILING)
            if len(url) <= 4 or url.lower() in ("http://", "https://"):
                continue
            host = urlsplit(url if "://" in url else "http://" + url).hostname or ""
            out.append(self._entity(m.start(), m.start() + len(url), "url", url, {"domain": host}))
        return out

    def _money(self, text: str) -> list[dict]:
        from price_parser import Price

        out = []
        for m in _MONEY_RE.finditer(text):
            number = m.group("num1") or m.group("num2")
            marker = (m.group("pre") or m.group("post") or "").strip()
            price = Price.fromstring(number + " " + marker, currency_hint=marker)
            if price.amount is None:
                continue
            amount = price.amount
            mult = (m.group("mult1") or m.group("mult2") or "").lower()
            if mult:
                amount *= _MULTIPLIERS[mult]
            unit = self._currency_code(marker)
            if marker.lower() in _CENT_WORDS:
                amount = amount / 100
            value = _as_number(amount)
            out.append(self._entity(m.start(), m.end(), "amount-of-money", value, {"unit": unit}))
        return out

    def _currency_code(self, marker: str) -> str:
        low = marker.lower()
        if marker == "$" or low in _DOLLAR_WORDS or low in _CENT_WORDS:
            return self.currency
        if marker in _SYMBOLS:
            return _SYMBOLS[marker]
        if low in _WORDS:
            return _WORDS[low]
        return marker.upper()

    def _phones(self, text: str) -> list[dict]:
        if sum(c.isdigit() for c in text) < 5:
            return []
        import phonenumbers

        out = []
        for m in phonenumbers.PhoneNumberMatcher(text, self._region(), leniency=phonenumbers.Leniency.VALID):
            e164 = phonenumbers.format_number(m.number, phonenumbers.PhoneNumberFormat.E164)
            info = {
                "country_code": m.number.country_code,
                "region": phonenumbers.region_code_for_number(m.number),
                "national": phonenumbers.format_number(m.number, phonenumbers.PhoneNumberFormat.NATIONAL),
            }
            out.append(self._entity(m.start, m.end, "phone-number", e164, info))
        return out

    def _times(self, text: str) -> list[dict]:
        hits = list(_DATEISH_RE.finditer(text))
        if not hits:
            return []
        base = self._base()
        settings = {
            "PREFER_DATES_FROM": "future",
            "PREFER_DAY_OF_MONTH": "first",
            "RETURN_AS_TIMEZONE_AWARE": False,
            "RELATIVE_BASE": base,
        }
        spans = [(h.start(), h.end()) for h in hits]
        out = []
        for w_start, w_end in _windows(text, spans):
            out.extend(self._search_dates(text, w_start, w_end, settings))
        # a neighbour can make dateparser miss a date: try uncovered hits on their own
        for start, end in spans:
            if not any(e["start"] < end and start < e["end"] for e in out):
                out.extend(self._search_dates(text, start, end, settings))
        return sorted(out, key=lambda e: e["start"])

    def _search_dates(self, text: str, w_start: int, w_end: int, settings: dict) -> list[dict]:
        from dateparser.search import search_dates

        window = text[w_start:w_end]
        found = search_dates(window, languages=["en"], settings=settings) or []
        out, cursor = [], 0
        for phrase, when in found:
            pos = window.find(phrase, cursor)
            if pos < 0:
                continue
            cursor = pos + len(phrase)
            start, end = w_start + pos, w_start + pos + len(phrase)
            # trim the prepositions and articles that dateparser takes along
            lead = _LEADING_FILLER_RE.match(phrase) or _LEADING_IN_RE.match(phrase)
            if lead:
                start += lead.end()
                phrase = phrase[lead.end():]
            trail = _TRAILING_FILLER_RE.search(phrase)
            if trail:
                end -= len(phrase) - trail.start()
                phrase = phrase[: trail.start()]
            if not phrase or not _DATEISH_RE.search(phrase):
                continue  # a bare number or word that dateparser read as a date
            grain = _grain(phrase)
            if grain not in ("hour", "minute"):
                when = when.replace(hour=0, minute=0, second=0, microsecond=0)
            value = when.isoformat()
            out.append(self._entity(start, end, "time", value, {"grain": grain}))
        return out

    def _numbers(self, text: str) -> list[dict]:
        tokens = tokenize(text)
        out = []
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            if _NUMBER_TOKEN_RE.fullmatch(tok.text):
                value = _as_number(Decimal(tok.text.replace(",", "")))
                out.append(self._entity(tok.start, tok.end, "number", value))
                i += 1
                continue
            if _number_word(tok.text.lower()) is None:
                i += 1
                continue
            # a run of number words, possibly joined by "and" or "-": "two hundred and five"
            j, last = i + 1, i
            while j < len(tokens):
                low = tokens[j].text.lower()
                if _number_word(low) is not None:
                    last = j
                elif low not in _NUMBER_JOINERS:
                    break
                j += 1
            run = text[tok.start:tokens[last].end]
            value = _parse_words(run)
            if value is not None:
                out.append(self._entity(tok.start, tokens[last].end, "number", _as_number(value)))
            else:  # the words do not form one number ("seven thirty"): report each alone
                for k in range(i, last + 1):
                    word_value = _number_word(tokens[k].text.lower())
                    if word_value is not None:
                        out.append(self._entity(tokens[k].start, tokens[k].end, "number", word_value))
            i = last + 1
        return out



@register("DucklingEntityExtractor.v1", "DucklingEntityExtractor")
class DucklingEntityExtractor(ValueExtractor):
    """:class:`ValueExtractor` under Rasa's name, accepting the settings of Rasa's Duckling component.

    ``url`` and ``timeout`` are accepted and ignored: there is no server to call. The country of
    ``locale`` (``en_GB`` -> ``GB``) is the default phone region when ``region`` is not given.
    ``timezone`` is accepted for compatibility; times are reported without a zone, relative to
    ``relative_base`` (local time by default).
    """

    name = "DucklingEntityExtractor"

    def __init__(
        self,
        dimensions: Sequence[str] | None = None,
        region: str | None = None,
        currency: str = "USD",
        relative_base: dt.datetime | str | None = None,
        locale: str | None = None,
        timezone: str | None = None,
        url: str | None = None,
        timeout: float | None = None,
    ):
        super().__init__(dimensions=dimensions, region=region, currency=currency, relative_base=relative_base)
        self.locale = locale
        self.timezone = timezone
        self.url = url
        self.timeout = timeout

    def _region(self) -> str:
        if self.region:
            return self.region
        if self.locale and "_" in self.locale:
            return self.locale.rsplit("_", 1)[1].upper()
        return "US"


def _parse_words(run: str):
    from number_parser import parse_number

    return parse_number(run, language="en")


def _windows(text: str, hits: list[tuple[int, int]], before: int = 1, after: int = 2) -> list[tuple[int, int]]:
    """Merge each date-ish hit with a few words either side into non-overlapping text windows.

    dateparser is slow on long text and gets confused by unrelated tokens (``ORD-12345``), so
    it only sees the neighbourhood of what looks like a date.
    """
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
    spans = []
    for start, end in hits:
        first = next((k for k, w in enumerate(words) if w[1] > start), 0)
        last = max((k for k, w in enumerate(words) if w[0] < end), default=first)
        lo = words[max(0, first - before)][0]
        hi = words[min(len(words) - 1, last + after)][1]
        spans.append((lo, hi))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for lo, hi in spans:
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged


def _grain(phrase: str) -> str:
    if _CLOCK_RE.search(phrase):
        return "minute" if re.search(r"\d:\d{2}|\bminutes?\b|\bmins?\b|\bseconds?\b", phrase, re.I) else "hour"
    if _DAYLIKE_RE.search(phrase) or re.search(r"\d[/.-]\d", phrase):
        return "day"
    if _MONTH_WORD_RE.search(phrase):
        return "month"
    if re.search(r"\byears?\b|\b\d{4}\b", phrase, re.I):
        return "year"
    return "day"


_WARMED = False


def _warm_up_dateparser() -> None:
    """dateparser builds its English tables on first use (~0.1 s): pay for it at fit time."""
    global _WARMED
    if not _WARMED:
        from dateparser.search import search_dates

        search_dates("tomorrow at 5pm", languages=["en"], settings={"RETURN_AS_TIMEZONE_AWARE": False})
        _WARMED = True
