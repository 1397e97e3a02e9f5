"""What the engine does about personal data in a turn (built from ``privacy:`` in config.yml).

- a message holding a full payment card number is not acted on: the customer is told not to
  share card details and where to add a payment method safely (``privacy.card_warning``); the
  number is masked before the message is stored, like every card number;
- the turn's bot messages pass the output rail (:mod:`dialogue.guardrails.output`);
- the turn's events and handoff record are masked before they are stored
  (:mod:`dialogue.guardrails.privacy`);
- help-centre questions are masked before retrieval and the LLM see them;
- the customer's answer to the privacy notice, sent by the channel as message metadata, is
  recorded as a slot event (:meth:`PersonalDataRail.consent_events`).
"""

from __future__ import annotations

import threading
from typing import Any, Iterable, Mapping

from dialogue import events as ev
from dialogue.guardrails.output import OutputConfig, OutputRail
from dialogue.guardrails.privacy import ConversationMasker, MaskingAnswerer, PrivacyConfig


class PersonalDataRail:
    def __init__(self, config: PrivacyConfig | None = None, output: OutputConfig | None = None,
                 templates: Mapping[str, Iterable[str]] | None = None) -> None:
        self.config = config or PrivacyConfig()
        self.masker = ConversationMasker(self.config)
        self.output = OutputRail(self.masker, output, templates)

    @classmethod
    def from_config(cls, section: Any, templates: Mapping[str, Iterable[str]] | None = None,
                    source: str = "config.yml") -> "PersonalDataRail":
        """From the ``privacy:`` section of config.yml (``None``: the defaults)."""
        config = PrivacyConfig.from_config(section, source)
        output = OutputConfig.from_config(config.section.get("output"), config.masking.known_types, source)
        return cls(config, output, templates)

    def warm_up(self) -> threading.Thread:
        """Load Presidio and spaCy in the background (seconds), so the first turn does not wait."""
        thread = threading.Thread(target=lambda: self.config.masking.masker().analyzer, name="pii-warm-up", daemon=True)
        thread.start()
        return thread

    def consent_events(self, metadata: Mapping[str, Any] | None, now: float) -> list[dict]:
        """A ``slot`` event recording the customer's answer to the privacy notice, when the
        message's metadata carries one: ``{"consent": {"notice": "privacy-2026-01", "accepted": true}}``
        (the slot, ``privacy.consent_slot``, default ``privacy_consent``, is best declared in the
        domain, ``type: any``, ``influence_conversation: false``)."""
        consent = (metadata or {}).get("consent") if isinstance(metadata, Mapping) else None
        if not isinstance(consent, Mapping) or not isinstance(consent.get("accepted"), bool):
            return []
        value = {"notice": str(consent.get("notice") or ""), "accepted": consent["accepted"], "timestamp": now}
        return [ev.slot_set(self.config.consent_slot, value, timestamp=now)]

    def card_pasted(self, text: str) -> bool:
        return self.masker.has_card_number(text)

    def card_warning(self) -> dict:
        """The message that answers a pasted card number."""
        return {"text": self.config.card_warning, "privacy": "card_details_removed"}

    def check_output(self, new_events: list[dict], tracker_events: Iterable[Mapping[str, Any]], sender_id: str) -> int:
        """Pass the turn's bot messages through the output rail. What the customer gave in this
        conversation: the texts of their messages (this turn's as typed, earlier turns' as
        stored, masked) and the values of the conversation's slots (drawn from their messages;
        ``keep_slots`` are stored as set, so "455 Pine Street" given turns ago still counts).
        The conversation is read only when a bot message may hold personal data."""

        def given():
            for event in tracker_events:
                if event.get("event") == "user":
                    yield event.get("text")
                elif event.get("event") == "slot":
                    yield from _strings(event.get("value"))

        return self.output.check_events(new_events, given(), sender_id)

    def for_storage(self, events: list[Mapping[str, Any]]) -> list[dict]:
        return self.masker.events(events, "store")

    def record_for_storage(self, record: Mapping[str, Any]) -> dict:
        return self.masker.record(record, "store")

    def knowledge(self, answerer: Any) -> MaskingAnswerer | None:
        return None if answerer is None else MaskingAnswerer(answerer, self.masker)


def _strings(value: Any) -> list[str]:
    """The strings in a slot value (a text, or a list of them)."""
    if isinstance(value, str):
        return [value]
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []
