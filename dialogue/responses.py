"""Rendering domain responses into bot messages, choosing and filling variations as Rasa does.

A variation is eligible when all of its ``condition`` items hold for the current slots
(strings compare case-insensitively). Preference, first non-empty wins: conditional variations
for the output channel, unconditional ones for the channel, conditional ones without a
channel, unconditional ones without a channel. ``{name}`` placeholders are filled from slots
(an unset slot reads "None") and extra variables; a string naming anything else is left
exactly as written.
"""

from __future__ import annotations

import copy
import random
import re
from typing import Any

from dialogue.domain import Domain

# Keys of a variation whose strings are templates.
_TEMPLATED_KEYS = ("text", "image", "custom", "buttons", "attachment", "quick_replies")
_PLACEHOLDER = re.compile(r"{([^\n{}]+?)}")


class ResponseRenderer:
    def __init__(self, domain: Domain) -> None:
        self.domain = domain

    def generate(
        self,
        name: str,
        slots: dict[str, Any],
        channel: str | None = None,
        rng: random.Random | None = None,
        variables: dict[str, Any] | None = None,
    ) -> dict | None:
        """The chosen variation of response ``name`` with its templates filled (a copy, all
        keys kept), or None when the domain has no such response or no variation fits."""
        variations = self.eligible(name, slots, channel)
        if not variations:
            return None
        chosen = copy.deepcopy((rng or random).choice(variations))
        values = {slot: None for slot in self.domain.slots}
        values.update(slots)
        values.update(variables or {})
        for key in _TEMPLATED_KEYS:
            if key in chosen:
                chosen[key] = _fill(chosen[key], values)
        return chosen

    def render(
        self,
        name: str,
        slots: dict[str, Any],
        channel: str | None = None,
        rng: random.Random | None = None,
        variables: dict[str, Any] | None = None,
    ) -> list[dict] | None:
        """The messages a channel sends for response ``name`` (see ``messages``)."""
        response = self.generate(name, slots, channel, rng, variables)
        return None if response is None else messages(response)

    def eligible(self, name: str, slots: dict[str, Any], channel: str | None) -> list[dict]:
        """The variations of ``name`` that may be chosen now."""
        variations = self.domain.responses.get(name, [])
        conditional = [v for v in variations if v.get("condition") and _holds(v["condition"], slots)]
        default = [v for v in variations if v.get("condition") is None]
        for group, wanted in ((conditional, channel), (default, channel), (conditional, None), (default, None)):
            picked = [v for v in group if v.get("channel") == wanted]
            if picked:
                return picked
        return []


def messages(response: dict) -> list[dict]:
    """Split one response into the messages Rasa's REST channel returns for it.

    Text (with buttons or quick replies as ``buttons``) first, and plain text split at blank
    lines; then custom, image, attachment (unless it repeats the image), and one message per
    element. Empty parts are left out.
    """
    out: list[dict] = []
    text = response.get("text")
    buttons = response.get("quick_replies") or response.get("buttons")
    if buttons:
        out.append({k: v for k, v in (("text", text), ("buttons", buttons)) if v is not None})
    elif text:
        out.extend({"text": part} for part in text.strip().split("\n\n"))
    for key in ("custom", "image", "attachment"):
        if response.get(key) and not (key == "attachment" and response[key] == response.get("image")):
            out.append({key: response[key]})
    for element in response.get("elements") or []:
        title = f"{element.get('title', '')} : {element.get('subtitle', '')}"
        out.append({"text": title, "buttons": element.get("buttons", [])})
    return out


def _holds(conditions: list[dict], slots: dict[str, Any]) -> bool:
    for condition in conditions:
        actual, wanted = slots.get(condition["name"]), condition["value"]
        if isinstance(actual, str) and isinstance(wanted, str):
            if actual.casefold() != wanted.casefold():
                return False
        elif actual != wanted:
            return False
    return True


def _fill(template: Any, values: dict[str, Any]) -> Any:
    if isinstance(template, str):
        return _fill_text(template, values)
    if isinstance(template, dict):
        return {k: _fill(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill(item, values) for item in template]
    return template


def _fill_text(template: str, values: dict[str, Any]) -> str:
    """Rasa's interpolation: ``str.format`` over the values, so ``{{x}}`` stays ``{x}``."""
    try:
        text = _PLACEHOLDER.sub(r"{0[\1]}", template).format(values)
    except (KeyError, IndexError, ValueError, AttributeError):
        return template
    if "0[" in text:  # a placeholder was escaped as {{name}}: undo the rewrite
        try:
            return template.format({})
        except (KeyError, IndexError, ValueError):
            return template
    return text
