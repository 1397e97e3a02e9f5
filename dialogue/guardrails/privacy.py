"""Personal data in conversations: what is masked before it is stored, logged or sent to an LLM.

Configured by ``privacy:`` in config.yml (every key optional; defaults shown)::

    privacy:
      patterns: {ORDER_ID: ['\\bORD-\\d{5}\\b']}  # extra types (nlu.pii.MaskingPolicy)
      mask:                                        # types masked per destination
        store: [EMAIL_ADDRESS, PHONE_NUMBER, IBAN_CODE, IP_ADDRESS, STREET_ADDRESS]
        logs:  [... as store]
        audit: [... as store]
        export: [... as store, PERSON, LOCATION]
        llm:   [... as store, PERSON, LOCATION]
      keep_slots: []            # slots stored unmasked (a workflow needs them in a later turn)
      card_warning: "..."       # said when a customer pastes a payment card number
      consent_slot: privacy_consent   # records {"notice", "accepted", "timestamp"} from message metadata
      output: {...}             # the output rail, see dialogue.guardrails.output
      retention_days: {...}     # see dialogue.retention

Full card numbers and government identifiers are masked everywhere whatever the lists say.

**Stored conversations.** A turn runs on the message as typed: the NLU, slot mappings and the
action server see the real e-mail address the customer gave, so identification works in the
turn it is given. Only what is *written to the tracker store* is masked: the user event's text,
``parse_data`` text and entity values, slot values (``slot`` events) and bot texts, each with the
``store`` types. A slot listed in ``keep_slots`` is stored as set, for workflows that read a slot
in a later turn. The next turn therefore sees ``<EMAIL_ADDRESS>`` in the ``email`` slot: a tool
that needs the address again asks for it (the verified customer is read from the back office,
never from a slot). Handoff records are masked the same way.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Mapping

from nlu.pii import MaskingLogFilter, MaskingPolicy, may_hold
from nlu.pii import install_log_masking as install_masking_filter


CARD_WARNING = (
    "For your security, please don't share payment card details in this chat: I've removed them from our "
    "conversation and haven't used them. To add or change a card, use the secure payment page in your account; "
    "if you have a problem with a payment, tell me and, once you've confirmed it's you, I'll send you a secure "
    "link to it. We will never ask you for your full card number, its security code or your PIN."
)


@dataclass(frozen=True)
class PrivacyConfig:
    """The ``privacy:`` section of config.yml (see the module docstring)."""

    masking: MaskingPolicy = field(default_factory=MaskingPolicy)
    keep_slots: frozenset[str] = frozenset()
    card_warning: str = CARD_WARNING
    consent_slot: str = "privacy_consent"
    section: Mapping[str, Any] = field(default_factory=dict)  # the raw section, for the other readers

    @classmethod
    def from_config(cls, section: Any, source: str = "config.yml") -> "PrivacyConfig":
        masking = MaskingPolicy.from_config(section, source)
        section = dict(section or {})
        keep = section.get("keep_slots") or []
        if not isinstance(keep, list) or not all(isinstance(s, str) for s in keep):
            raise ValueError(f"{source}: privacy.keep_slots must be a list of slot names")
        warning = section.get("card_warning", CARD_WARNING)
        if not isinstance(warning, str) or not warning.strip():
            raise ValueError(f"{source}: privacy.card_warning must be a non-empty text")
        consent_slot = section.get("consent_slot", "privacy_consent")
        if not isinstance(consent_slot, str) or not consent_slot:
            raise ValueError(f"{source}: privacy.consent_slot must be a slot name")
        return cls(masking, frozenset(keep), warning, consent_slot, section)


class ConversationMasker:
    """Masks a turn's events and handoff records before they are stored."""

    def __init__(self, config: PrivacyConfig | None = None) -> None:
        self.config = config or PrivacyConfig()
        self.policy = self.config.masking

    def text(self, text: Any, destination: str = "store") -> Any:
        return self.policy.mask_text(text, destination) if isinstance(text, str) else text

    def has_card_number(self, text: str) -> bool:
        """Whether ``text`` holds a full payment card number (Luhn-checked)."""
        if not text or not may_hold(text, ["CREDIT_CARD"]):
            return False
        return any(f.entity_type == "CREDIT_CARD" for f in self.policy.masker().analyze(text, ["CREDIT_CARD"]))

    def event(self, event: Mapping[str, Any], destination: str = "store") -> dict:
        """A copy of ``event`` with the personal data in it masked for ``destination``."""
        out = copy.deepcopy(dict(event))
        kind = out.get("event")
        if kind in ("user", "bot"):
            out["text"] = self.text(out.get("text"), destination)
        if kind == "user" and isinstance(out.get("parse_data"), dict):
            parse = out["parse_data"]
            entities = [e for e in parse.get("entities") or [] if isinstance(e, dict)]
            self._mask_entities(entities, parse.get("text"), destination)
            parse["text"] = self.text(parse.get("text"), destination)
        if kind == "slot" and (destination != "store" or out.get("name") not in self.config.keep_slots):
            out["value"] = self.policy.mask_values(out.get("value"), destination)
        return out

    def _mask_entities(self, entities: list[dict], text: Any, destination: str) -> None:
        """Mask, in place, the values of ``entities`` (of the message ``text``). A value inside a
        span masked in the text becomes that span's ``<TYPE>``, whatever its type (the number
        entities 4012 and 1881 of a card number); any other value is masked as rendered, so a
        number (378282246310005) is masked like the text it was parsed from."""
        types = self.policy.types(destination)
        spans = []
        if entities and isinstance(text, str) and may_hold(text, types):
            spans = self.policy.masker().analyze(text, types)
        for entity in entities:
            start, end, value = entity.get("start"), entity.get("end"), entity.get("value")
            covering = [f for f in spans if isinstance(start, int) and isinstance(end, int)
                        and start < f.end and f.start < end]
            if covering:
                entity["value"] = " ".join(f"<{f.entity_type}>" for f in covering)
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                masked = self.policy.mask_text(str(value), destination)
                entity["value"] = value if masked == str(value) else masked
            else:
                entity["value"] = self.policy.mask_values(value, destination)

    def events(self, events: list[Mapping[str, Any]], destination: str = "store") -> list[dict]:
        return [self.event(e, destination) for e in events]

    def record(self, record: Mapping[str, Any], destination: str = "store") -> dict:
        """A handoff record (summary, slots, last message ...) with every text in it masked."""
        return self.policy.mask_values(dict(record), destination)


class MaskingAnswerer:
    """A knowledge answerer whose questions are masked (``llm`` types) before retrieval and the
    LLM see them; the knowledge package itself knows nothing of personal data."""

    def __init__(self, answerer: Any, masker: ConversationMasker) -> None:
        self.answerer = answerer
        self.masker = masker

    def answer(self, question: str, filters: dict | None = None):
        return self.answerer.answer(self.masker.text(question, "llm"), filters)

    async def answer_async(self, question: str, filters: dict | None = None):
        import asyncio

        return await asyncio.to_thread(self.answer, question, filters)


def install_log_masking(masker: ConversationMasker) -> MaskingLogFilter:
    """Mask the ``logs`` types in what the root logger's handlers write (see
    :func:`nlu.pii.install_log_masking`)."""
    return install_masking_filter(lambda text: masker.text(text, "logs"))
