"""The output rail: a bot message carrying someone else's personal data is never sent.

Before a turn's messages leave the engine, each bot text is searched for the ``check`` types.
A value found is allowed when

- it is already masked (``j***@example.com``, ``<EMAIL_ADDRESS>``);
- it is public, listed under ``allow`` (the shop's own e-mail address, phone number, store address);
- the customer of this conversation gave it (their own address, the new name they asked for),
  in a message or in a slot filled from one (a message of an earlier turn is read back masked; a
  slot of ``privacy.keep_slots`` is stored as set): the dialogue never sees the back office's
  record of the verified customer (the action server reads it from the database and its tools
  mask what they read), so what this customer gave is the customer's own data as far as the
  dialogue knows;
- it is part of the domain response's own template text, for a response of the domain.

Anything else (another customer's e-mail address, phone number, address or name) replaces the
message with ``safe_text``, marks the bot event ``{"privacy": {"blocked": [types]}}`` and logs a
warning naming the types (never the values). Names and places (spaCy NER) are checked only in
messages that do not come from reviewed content (domain responses, help-centre answers): the
small English model tags many capitalised words as names, so they would block reviewed text; and
a name counts only in the form "First Last" (capitalised words, no digits).

``privacy.output`` in config.yml::

    output:
      enabled: true
      check: [EMAIL_ADDRESS, PHONE_NUMBER, STREET_ADDRESS, IBAN_CODE, PERSON]
      allow: [support@example.com, "+1 503 555 0142"]
      safe_text: "..."

Escaping is the channels' business: REST, websocket and socket.io carry the text as JSON
strings, and the web chat page sets it with ``textContent``, never as HTML.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from nlu.pii import NER_TYPES, Finding, may_hold

from dialogue.guardrails.privacy import ConversationMasker

logger = logging.getLogger(__name__)

SAFE_TEXT = ("Sorry, I can't share that here. If you need these details, a person on our team can help: "
             "type \"agent\".")
DEFAULT_CHECK = ("EMAIL_ADDRESS", "PHONE_NUMBER", "STREET_ADDRESS", "IBAN_CODE", "PERSON")
BLOCKED_METADATA_KEY = "privacy"
_FULL_NAME = re.compile(r"^[A-Z][a-z'’-]+(?:\s+[A-Z][a-z'’-]+)+$")


def normalise(value: str) -> str:
    """Lower case without spaces and punctuation, so "+1 (503) 555-0142" equals "15035550142"."""
    return re.sub(r"[\W_]+", "", value.lower())


@dataclass(frozen=True)
class OutputConfig:
    enabled: bool = True
    check: frozenset[str] = frozenset(DEFAULT_CHECK)
    allow: frozenset[str] = frozenset()  # normalised
    safe_text: str = SAFE_TEXT

    @classmethod
    def from_config(cls, section: Any, known: Iterable[str], source: str = "config.yml") -> "OutputConfig":
        if section is None:
            return cls()
        if not isinstance(section, Mapping):
            raise ValueError(f"{source}: privacy.output must be a mapping")
        check = section.get("check", list(DEFAULT_CHECK))
        if not isinstance(check, list):
            raise ValueError(f"{source}: privacy.output.check must be a list of entity types")
        unknown = sorted(set(map(str, check)) - set(known))
        if unknown:
            raise ValueError(f"{source}: privacy.output.check: unknown entity type(s) {', '.join(unknown)}")
        allow = section.get("allow") or []
        if not isinstance(allow, list):
            raise ValueError(f"{source}: privacy.output.allow must be a list of values")
        safe_text = section.get("safe_text", SAFE_TEXT)
        if not isinstance(safe_text, str) or not safe_text.strip():
            raise ValueError(f"{source}: privacy.output.safe_text must be a non-empty text")
        return cls(bool(section.get("enabled", True)), frozenset(map(str, check)),
                   frozenset(normalise(str(v)) for v in allow), safe_text)


class OutputRail:
    """Checks a turn's bot events (see the module docstring)."""

    def __init__(self, masker: ConversationMasker, config: OutputConfig | None = None,
                 templates: Mapping[str, Iterable[str]] | None = None) -> None:
        self.masker = masker
        self.config = config or OutputConfig()
        # response name -> its template texts, normalised
        self.templates = {name: [normalise(t) for t in texts] for name, texts in (templates or {}).items()}

    def check_events(self, events: list[dict], conversation_texts: Iterable[str], sender_id: str = "") -> int:
        """Replace, in place, the text of each bot event in ``events`` that fails the check;
        ``conversation_texts``: what the customer gave (their messages, slot values), read only
        when a bot message may hold personal data. Returns how many were replaced."""
        if not self.config.enabled:
            return 0
        said: list[str] | None = None
        blocked = 0
        for event in events:
            if event.get("event") != "bot" or not isinstance(event.get("text"), str):
                continue
            if said is None and may_hold(event["text"], self.config.check | {"CREDIT_CARD"}):
                said = [normalise(t) for t in conversation_texts if isinstance(t, str)]
            types = self.disallowed(event, said or [])
            if types:
                blocked += 1
                logger.warning("conversation %s: a bot message with personal data (%s) was replaced by the safe text",
                               sender_id, ", ".join(types))
                event["text"] = self.config.safe_text
                event["metadata"] = {**(event.get("metadata") or {}), BLOCKED_METADATA_KEY: {"blocked": types}}
        return blocked

    def disallowed(self, event: Mapping[str, Any], said: list[str]) -> list[str]:
        """The types of the values in the bot event's text that are not allowed (sorted, unique)."""
        metadata = event.get("metadata") or {}
        template = metadata.get("utter_action")
        reviewed = template in self.templates or "knowledge" in metadata
        types = self.config.check - NER_TYPES if reviewed else self.config.check
        types = types | {"CREDIT_CARD", "US_SSN"}
        if not may_hold(event["text"], types):
            return []
        findings = self.masker.policy.masker().analyze(event["text"], types)
        own_text = self.templates.get(template, [])
        return sorted({f.entity_type for f in findings if not self._allowed(f, said, own_text)})

    def _allowed(self, finding: Finding, said: list[str], template_texts: list[str]) -> bool:
        value = normalise(finding.text)
        if "*" in finding.text or finding.text.startswith("<") or not value:
            return True
        if finding.entity_type == "PERSON" and not _FULL_NAME.match(finding.text):
            return True  # the small NER model's guesses: only "First Last" counts as a name
        if any(value in allowed for allowed in self.config.allow):
            return True  # public, or part of a public value ("Everett St" of "1200 NW Everett St")
        return any(value in text for text in said) or any(value in text for text in template_texts)
