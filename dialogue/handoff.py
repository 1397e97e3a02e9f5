"""Handing a conversation to a person: when, what they get, what the customer is told.

Settings live in ``config.yml`` under ``escalation:`` (every key optional; defaults shown)::

    escalation:
      enabled: true                    # false: never hand off (clarification still works)
      human_request_intents: [contact_human_agent, human_handoff]
      refusal_intents: []              # intents the assistant must not handle itself
      correction_intents: [deny]
      max_consecutive_corrections: 2   # corrections in a row, each right after a bot message
      high_risk_keywords: [legal, lawyer, fraud, complaint, sue]   # whole words, any case
      frustration:
        threshold: -0.6                # sentiment (compound, -1..1) at or below counts
        count: 2                       # ... this many times among
        window: 3                      # ... the latest this many user messages
        severe_threshold: -0.85        # one message at or below this is enough
      clarify: true                    # ask "Did you mean ...?" on nlu_fallback
      max_failed_clarifications: 2     # clarifications in a row that did not help
      max_action_failures: 2           # custom actions failing in a row
      summary_turns: 10                # messages in the handoff summary

A ``max_*`` setting of 0 turns that trigger off. Corrections count even when the dialogue
expected a "no" (the default treats every ``deny`` right after a bot message as one); list
other intents, or none, to suit the assistant.

A human request intent only hands off when no rule of the project answers that intent, so a
Rasa project with its own handoff rules keeps them. Only what happened since the conversation
was last resumed by an agent (and in the current session) counts towards the thresholds.

Sentiment is VADER's compound score (the ``vaderSentiment`` package). Without it, a small
built-in lexicon of negative and positive words is used, scored the same way (word valences
summed, a preceding "not"/"never" flips a word, normalised by ``x / sqrt(x^2 + 15)``).

On handoff the engine stores a record (see :func:`build_record`) in a
:class:`dialogue.stores.handoff.HandoffStore`, says ``utter_handoff`` (or
:data:`HANDOFF_TEXT`) and pauses the conversation (``pause`` event): the assistant stays silent
until an agent resumes it.
"""

from __future__ import annotations

import itertools
import logging
import math
import re
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping

from dialogue.actions import FAILURE_METADATA_KEY
from dialogue.domain import Domain
from dialogue.policies.fallback import ACTION_HANDOFF, REASON_FAILED_CLARIFICATIONS, count_failed_clarifications
from dialogue.slot_filling import INTERNAL_SLOTS
from dialogue.tracker import DialogueStateTracker

logger = logging.getLogger(__name__)

__all__ = [
    "ACTION_HANDOFF",
    "EscalationConfig",
    "Escalation",
    "FrustrationSettings",
    "HANDOFF_TEXT",
    "SentimentAnalyzer",
    "action_outcomes",
    "build_record",
]

HANDOFF_TEXT = (
    "I'm passing you to a member of our support team. They will see our conversation so far, "
    "so you won't need to repeat yourself. Someone will reply right here as soon as possible, "
    "usually within a few minutes during opening hours."
)

REASON_HUMAN_REQUEST = "human_request"
REASON_REFUSED_INTENT = "refused_intent"
REASON_KEYWORD = "high_risk_keyword"
REASON_FRUSTRATION = "frustration"
REASON_CORRECTIONS = "repeated_corrections"
REASON_ACTION_FAILURES = "action_failures"
REASON_FAILED_CLARIFICATIONS = REASON_FAILED_CLARIFICATIONS


@dataclass
class FrustrationSettings:
    threshold: float = -0.6
    count: int = 2
    window: int = 3
    severe_threshold: float = -0.85


@dataclass
class EscalationConfig:
    enabled: bool = True
    human_request_intents: list[str] = field(default_factory=lambda: ["contact_human_agent", "human_handoff"])
    refusal_intents: list[str] = field(default_factory=list)
    correction_intents: list[str] = field(default_factory=lambda: ["deny"])
    max_consecutive_corrections: int = 2
    high_risk_keywords: list[str] = field(
        default_factory=lambda: ["legal", "lawyer", "fraud", "complaint", "sue"]
    )
    frustration: FrustrationSettings = field(default_factory=FrustrationSettings)
    clarify: bool = True
    max_failed_clarifications: int = 2
    max_action_failures: int = 2
    summary_turns: int = 10

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None, where: str = "config.yml") -> EscalationConfig:
        """Read the ``escalation:`` section; a wrong key or type raises ``ValueError``."""
        if section is None:
            return cls()
        if not isinstance(section, Mapping):
            raise ValueError(f"{where}: `escalation` must be a mapping")
        config = cls()
        known = set(cls.__dataclass_fields__)
        for key, value in section.items():
            if key not in known:
                expected = ", ".join(sorted(known))
                raise ValueError(f"{where}: unknown key `escalation.{key}` (expected one of: {expected})")
            if key == "frustration":
                config.frustration = _frustration(value, where)
            elif key in ("enabled", "clarify"):
                setattr(config, key, _bool(value, f"escalation.{key}", where))
            elif key in ("human_request_intents", "refusal_intents", "correction_intents", "high_risk_keywords"):
                setattr(config, key, _names(value, f"escalation.{key}", where))
            else:
                setattr(config, key, _int(value, f"escalation.{key}", where))
        return config


def _frustration(value: Any, where: str) -> FrustrationSettings:
    if value is None:
        return FrustrationSettings()
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: `escalation.frustration` must be a mapping")
    settings = FrustrationSettings()
    for key, item in value.items():
        name = f"escalation.frustration.{key}"
        if key in ("threshold", "severe_threshold"):
            if isinstance(item, bool) or not isinstance(item, (int, float)) or not -1 <= item <= 1:
                raise ValueError(f"{where}: `{name}` must be a number between -1 and 1")
            setattr(settings, key, float(item))
        elif key in ("count", "window"):
            setattr(settings, key, _int(item, name, where))
        else:
            raise ValueError(f"{where}: unknown key `{name}` (expected threshold, count, window, severe_threshold)")
    return settings


def _bool(value: Any, name: str, where: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{where}: `{name}` must be true or false")
    return value


def _int(value: Any, name: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{where}: `{name}` must be a whole number >= 0")
    return value


def _names(value: Any, name: str, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"{where}: `{name}` must be a list of names")
    return [v.strip() for v in value]


# ---------------------------------------------------------------------- sentiment

_NEGATIONS = frozenset({"not", "no", "never", "isn't", "don't", "doesn't", "didn't", "wasn't", "can't", "won't"})
# A compact lexicon in VADER's valence scale (-4..4), used only without vaderSentiment.
_LEXICON = {
    "angry": -2.3, "annoyed": -1.8, "annoying": -1.9, "awful": -2.8, "bad": -2.5, "broken": -1.6,
    "disappointed": -1.9, "disappointing": -2.2, "disgusting": -2.9, "furious": -2.9, "garbage": -2.3,
    "hate": -2.7, "hopeless": -2.4, "horrible": -2.5, "idiot": -2.3, "joke": -0.6, "lost": -1.3,
    "mad": -2.2, "pathetic": -2.3, "rubbish": -2.0, "ridiculous": -2.0, "sick": -2.0, "stupid": -2.4,
    "terrible": -2.1, "unacceptable": -2.0, "upset": -1.6, "useless": -1.8, "waste": -1.8,
    "worst": -3.1, "wrong": -2.1, "fed": -0.5, "scam": -2.7, "liar": -2.9, "sucks": -1.5,
    "good": 1.9, "great": 3.1, "thanks": 1.9, "thank": 1.5, "love": 3.2, "happy": 2.7,
    "excellent": 2.7, "perfect": 2.7, "nice": 1.8, "helpful": 1.7, "awesome": 3.1, "wonderful": 2.7,
}
_WORD = re.compile(r"[a-z']+")


class SentimentAnalyzer:
    """``score(text)``: VADER's compound sentiment in [-1, 1] (negative is unhappy)."""

    def __init__(self, use_vader: bool = True) -> None:
        self._vader = None
        if use_vader:
            try:
                from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
            except ImportError:  # pragma: no cover - depends on the installation
                logger.info("vaderSentiment is not installed; using the built-in sentiment lexicon")
            else:
                self._vader = SentimentIntensityAnalyzer()

    @property
    def backend(self) -> str:
        return "vader" if self._vader is not None else "lexicon"

    def score(self, text: str | None) -> float:
        if not text or text.startswith("/"):
            return 0.0
        if self._vader is not None:
            return float(self._vader.polarity_scores(text)["compound"])
        return lexicon_score(text)


def lexicon_score(text: str) -> float:
    total = 0.0
    words = _WORD.findall(text.lower())
    for i, word in enumerate(words):
        valence = _LEXICON.get(word)
        if valence is None:
            continue
        if any(w in _NEGATIONS for w in words[max(0, i - 3) : i]):
            valence *= -0.74
        total += valence
    if "!" in text:
        total += math.copysign(min(text.count("!"), 4) * 0.292, total) if total else 0.0
    return 0.0 if total == 0 else max(-1.0, min(1.0, total / math.sqrt(total * total + 15)))


# ---------------------------------------------------------------------- conversation facts


def escalation_window(tracker: DialogueStateTracker) -> list[dict]:
    """The current session's events since the conversation was last resumed."""
    window = list(recent_events(tracker))
    window.reverse()
    return window


def recent_events(tracker: DialogueStateTracker) -> Iterator[dict]:
    """The :func:`escalation_window` newest first, read only as far as the caller goes."""
    for event in reversed(tracker.current_session_events()):
        if event["event"] == "resume":
            return
        yield event


def user_messages(newest_first: Iterable[Mapping[str, Any]]) -> Iterator[tuple[Mapping[str, Any], bool]]:
    """``(user event, whether a bot message came between it and the previous user message)``
    for the user messages among ``newest_first`` events, newest first (for the oldest one: any
    bot message before it)."""
    user = None
    bot_before = False
    for event in newest_first:
        kind = event["event"]
        if kind == "user":
            if user is not None:
                yield user, bot_before
            user, bot_before = event, False
        elif kind == "bot":
            bot_before = True
    if user is not None:
        yield user, bot_before


def _intent(event: Mapping[str, Any]) -> str | None:
    return ((event.get("parse_data") or {}).get("intent") or {}).get("name")


def action_outcomes(events: Iterable[Mapping[str, Any]], domain: Domain) -> list[dict]:
    """The custom actions (and form validations) that ran, each with ``outcome`` success or
    failure (and the failure ``reason``)."""
    custom = set(domain.actions)
    validated_forms = {f for f in domain.forms if f"validate_{f}" in custom}
    outcomes: list[dict] = []
    latest = None  # the outcome of the latest action event, which a failure message corrects
    for event in events:
        kind = event["event"]
        if kind == "action":
            name = event.get("name")
            latest = None
            if name in custom:
                outcomes.append({"action": name, "outcome": "success"})
                latest = len(outcomes) - 1
            elif name in validated_forms:
                outcomes.append({"action": f"validate_{name}", "outcome": "success"})
                latest = len(outcomes) - 1
        elif kind == "bot":
            failure = (event.get("metadata") or {}).get(FAILURE_METADATA_KEY)
            if isinstance(failure, Mapping):
                entry = {"action": failure.get("action"), "outcome": "failure", "reason": failure.get("reason")}
                if latest is not None:
                    outcomes[latest] = entry
                    latest = None
                else:
                    outcomes.append(entry)
    return outcomes


def consecutive_failures(outcomes: list[dict]) -> int:
    count = 0
    for outcome in reversed(outcomes):
        if outcome["outcome"] != "failure":
            break
        count += 1
    return count


class Escalation:
    """Decides when to hand off and builds what the agent gets."""

    def __init__(
        self,
        config: EscalationConfig | None = None,
        domain: Domain | None = None,
        sentiment: SentimentAnalyzer | None = None,
        rule_intents: Iterable[str] = (),
    ) -> None:
        self.config = config or EscalationConfig()
        self.domain = domain
        self.sentiment = sentiment or SentimentAnalyzer()
        self.rule_intents = set(rule_intents)
        keywords = [k for k in self.config.high_risk_keywords if k.strip()]
        self._keywords = (
            re.compile(r"(?<!\w)(" + "|".join(re.escape(k) for k in keywords) + r")(?!\w)", re.IGNORECASE)
            if keywords
            else None
        )

    # ------------------------------------------------------------------ triggers

    def check_message(self, tracker: DialogueStateTracker) -> tuple[str, str] | None:
        """``(reason, detail)`` when the latest user message calls for a person, else None.

        Only the latest few user messages of the :func:`escalation_window` are read: as many as
        the frustration window and the corrections limit look at.
        """
        if not self.config.enabled:
            return None
        frustration = self.config.frustration
        scored = max(frustration.window, 1)
        corrections = self.config.max_consecutive_corrections
        messages = list(itertools.islice(user_messages(recent_events(tracker)), max(scored, corrections)))
        if not messages:
            return None
        latest = messages[0][0]
        intent = _intent(latest)
        text = latest.get("text") or ""
        if intent in self.config.human_request_intents and intent not in self.rule_intents:
            return REASON_HUMAN_REQUEST, intent
        if intent in self.config.refusal_intents:
            return REASON_REFUSED_INTENT, intent
        if self._keywords is not None and not text.startswith("/"):
            match = self._keywords.search(text)
            if match:
                return REASON_KEYWORD, match.group(1).lower()
        scores = [self.sentiment.score(event.get("text")) for event, _ in reversed(messages[:scored])]
        if scores and scores[-1] <= frustration.severe_threshold:
            return REASON_FRUSTRATION, f"sentiment {scores[-1]:.2f}"
        if frustration.count and sum(s <= frustration.threshold for s in scores) >= frustration.count:
            return REASON_FRUSTRATION, f"sentiment {', '.join(f'{s:.2f}' for s in scores)}"
        if corrections and self._corrections(messages[:corrections]) >= corrections:
            return REASON_CORRECTIONS, intent or ""
        return None

    def _corrections(self, messages: list[tuple[Mapping[str, Any], bool]]) -> int:
        """How many of ``messages`` (from :func:`user_messages`, newest first) are corrections in
        a row: a correction intent right after a bot message."""
        count = 0
        for event, bot_before in messages:
            if not (bot_before and _intent(event) in self.config.correction_intents):
                break
            count += 1
        return count

    def too_many_action_failures(self, tracker: DialogueStateTracker) -> bool:
        limit = self.config.max_action_failures
        if not self.config.enabled or not limit or self.domain is None:
            return False
        return consecutive_failures(action_outcomes(escalation_window(tracker), self.domain)) >= limit

    def failed_clarifications(self, tracker: DialogueStateTracker) -> int:
        return count_failed_clarifications(recent_events(tracker))

    # ------------------------------------------------------------------ record

    def build_record(
        self, tracker: DialogueStateTracker, reason: str, detail: str | None = None, now: float | None = None
    ) -> dict:
        return build_record(
            tracker,
            reason,
            self.domain,
            detail=detail,
            sentiment=self.sentiment,
            summary_turns=self.config.summary_turns,
            now=now,
        )


def build_record(
    tracker: DialogueStateTracker,
    reason: str,
    domain: Domain | None,
    *,
    detail: str | None = None,
    sentiment: SentimentAnalyzer | None = None,
    summary_turns: int = 10,
    now: float | None = None,
) -> dict:
    """What an agent sees when taking over.

    Keys: ``sender_id``, ``reason``, ``detail``, ``created_at`` (epoch seconds), ``summary``
    (the latest ``summary_turns`` messages as ``user: ...`` / ``bot: ...`` lines), ``intent``
    (``name``, ``confidence`` of the latest message), ``slots`` (the filled slots, Rasa's
    internal ones left out), ``actions`` (custom actions with ``outcome`` success/failure),
    ``last_user_message``, ``sentiment`` (of the latest message), ``status`` ("pending").
    """
    events = tracker.current_session_events()
    lines = []
    for event in events:
        if event["event"] == "user":
            lines.append(f"user: {event.get('text') or ''}")
        elif event["event"] == "bot" and event.get("text"):
            lines.append(f"bot: {event['text']}")
    latest = tracker.latest_message_event
    last_text = latest.get("text") if latest else None
    intent = tracker.latest_message.get("intent") or {}
    analyzer = sentiment or SentimentAnalyzer()
    return {
        "sender_id": tracker.sender_id,
        "reason": reason,
        "detail": detail,
        "created_at": time.time() if now is None else now,
        "summary": "\n".join(lines[-summary_turns:] if summary_turns else lines),
        "intent": {"name": intent.get("name"), "confidence": intent.get("confidence")},
        "slots": {k: v for k, v in tracker.slots.items() if v is not None and k not in INTERNAL_SLOTS},
        "actions": action_outcomes(events, domain) if domain is not None else [],
        "last_user_message": last_text,
        "sentiment": analyzer.score(last_text),
        "status": "pending",
    }
