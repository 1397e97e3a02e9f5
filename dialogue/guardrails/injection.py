"""The input rail against prompt injection: every user message is screened before the NLU.

:class:`InjectionScreen` combines the rules of :mod:`dialogue.guardrails.injection_rules` with
the trained classifier of :mod:`dialogue.guardrails.injection_model`: a message is flagged when
a rule matches, when the classifier's score reaches ``threshold``, or when a base64 or hex blob
in it decodes to text that is flagged (rule ``encoded_payload``; a rot13 reading is checked
with the rules only).

:class:`InjectionRail` is what the engine calls (``Assistant(input_rail=...)``). A flagged
message is stored as a ``user`` event whose metadata carries the verdict under
:data:`METADATA_KEY` (``{"flagged", "score", "rules"}``, so analytics can count attempts), with
an empty parse: it reaches neither the NLU, nor a slot, nor the policies, so no knowledge answer
(LLM) and no free-text slot ever sees it. The assistant answers with the domain response named
by ``response`` (default ``utter_injection_blocked``), or :data:`BLOCKED_TEXT` when the domain
has none, and the ``max_attempts``-th flagged message of a session hands the conversation to a
person (reason :data:`REASON_PROMPT_INJECTION`). Each flagged message is logged, without its
text.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from dialogue.guardrails.injection_rules import decoded_payloads, fold, matching_rules

logger = logging.getLogger(__name__)

METADATA_KEY = "input_guard"
REASON_PROMPT_INJECTION = "prompt_injection"
ENCODED_PAYLOAD = "encoded_payload"
DEFAULT_THRESHOLD = 0.5  # chosen with bench/guard.py: few false alarms on ordinary customer messages
BLOCKED_TEXT = (
    "Sorry, I can't act on that message. Please tell me in your own words what you need help with, "
    "for example an order, a return or your account."
)


@dataclass(frozen=True)
class Verdict:
    flagged: bool
    score: float = 0.0  # the classifier's highest score over the message and its decoded payloads
    rules: tuple[str, ...] = ()

    def as_metadata(self) -> dict:
        return {"flagged": self.flagged, "score": round(self.score, 4), "rules": list(self.rules)}


class InjectionScreen:
    """Rules and a classifier (``scores(texts) -> [probability of an attack]``, or None: rules only)."""

    def __init__(self, classifier: Any = None, threshold: float = DEFAULT_THRESHOLD) -> None:
        self.classifier = classifier
        self.threshold = threshold

    def screen(self, text: str) -> Verdict:
        return self.screen_batch([text])[0]

    def screen_batch(self, texts: Iterable[str]) -> list[Verdict]:
        texts = list(texts)
        payloads = [decoded_payloads(text) for text in texts]
        blobs = [[plain for encoding, plain in found if encoding != "rot13"] for found in payloads]
        scores = self._scores([fold(text) for text in texts] + [fold(b) for found in blobs for b in found])
        own, decoded_scores = scores[: len(texts)], iter(scores[len(texts):])
        verdicts = []
        for text, found, blob_texts, score in zip(texts, payloads, blobs, own):
            rules = matching_rules(text)
            blob_scores = [next(decoded_scores) for _ in blob_texts]
            if any(matching_rules(plain) for _, plain in found) or any(s >= self.threshold for s in blob_scores):
                rules.append(ENCODED_PAYLOAD)
            score = max([score, *blob_scores])
            verdicts.append(Verdict(bool(rules) or score >= self.threshold, score, tuple(rules)))
        return verdicts

    def _scores(self, texts: list[str]) -> list[float]:
        if self.classifier is None or not texts:
            return [0.0] * len(texts)
        return list(self.classifier.scores(texts))


@dataclass
class InjectionRail:
    """What the engine asks of the input rail (see the module docstring)."""

    screen: InjectionScreen = field(default_factory=InjectionScreen)
    max_attempts: int = 3  # 0: never hand off
    response: str = "utter_injection_blocked"

    def check(self, text: str, sender_id: str) -> Verdict:
        verdict = self.screen.screen(text)
        if verdict.flagged:
            logger.warning("conversation %s: message refused as prompt injection (rules: %s; score %.2f)",
                           sender_id, ", ".join(verdict.rules) or "none", verdict.score)
        return verdict

    @staticmethod
    def blocked_parse(text: str) -> dict:
        """The parse stored for a flagged message: no intent, no entities."""
        return {"text": text, "intent": {"name": None, "confidence": 0.0}, "entities": [], "intent_ranking": []}

    @staticmethod
    def metadata(metadata: Mapping[str, Any] | None, verdict: Verdict) -> dict:
        return {**(metadata or {}), METADATA_KEY: verdict.as_metadata()}

    def should_hand_off(self, events: Iterable[Mapping[str, Any]]) -> bool:
        """Whether the flagged messages among ``events`` (a session's) reach ``max_attempts``."""
        return bool(self.max_attempts) and flagged_count(events) >= self.max_attempts


def flagged_count(events: Iterable[Mapping[str, Any]]) -> int:
    """How many user messages among ``events`` the input rail flagged."""
    return sum(
        1 for e in events
        if e.get("event") == "user" and ((e.get("metadata") or {}).get(METADATA_KEY) or {}).get("flagged")
    )


def load_rail(config: Any, models_dir: str | Path) -> InjectionRail | None:
    """The rail of a project (``config``: :class:`dialogue.guardrails.config.InjectionConfig`):
    None when disabled; the classifier from ``config.model``, else the newest ``guard-*.tar.gz`` in
    ``models_dir``, else one trained in memory on the shipped examples (once per process)."""
    from nlu.model import ModelNotFoundError

    from dialogue.guardrails.injection_model import default_classifier, load_guard

    if not config.enabled:
        return None
    try:
        classifier = load_guard(config.model or models_dir)
    except ModelNotFoundError:
        if config.model:
            raise
        logger.info("no prompt-injection model in %s (`desk train guard` saves one); using the shipped examples", models_dir)
        classifier = default_classifier()
    return InjectionRail(InjectionScreen(classifier, config.threshold), config.max_attempts, config.response)
