"""Each workflow request starts afresh: which of a form's slots still hold an earlier request's values.

Slots keep their values for the whole conversation, so without this "can I cancel a shipped one
too?" after cancelling ORD-10120 would cancel ORD-10120 again. When a form starts, its
per-request slots (its required slots, and the slots only filled while it is active) that were
set before the message asking for the current workflow (slot ``workflow``) are stale: the form
asks for them again. What that message or the verification after it gave is kept, as are
identification and verification slots.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker


def request_slots(form: str, domain: dict[str, Any]) -> set[str]:
    """The form's required slots and the slots whose every mapping needs the form active."""
    required = set((domain.get("forms", {}).get(form) or {}).get("required_slots") or [])
    only_in_form = {
        name
        for name, slot in (domain.get("slots") or {}).items()
        if slot.get("mappings") and all(
            m.get("conditions") and all(c.get("active_loop") == form for c in m["conditions"])
            for m in slot["mappings"]
        )
    }
    return required | only_in_form


def _before_validation(form: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events before the form's own run that the validation call was made for."""
    for index in range(len(events) - 1, -1, -1):
        if events[index].get("event") == "action" and events[index].get("name") == form:
            return events[:index]
    return events


def _users(events: list[dict[str, Any]]) -> list[int]:
    return [i for i, e in enumerate(events) if e.get("event") == "user"]


def form_starting(form: str, tracker: Tracker) -> bool:
    """Whether this validation call is the form's first, made as it starts."""
    events = _before_validation(form, list(tracker.events or []))
    users = _users(events)
    return bool(users) and any(e.get("event") == "active_loop" and e.get("name") == form for e in events[users[-1]:])


def stale_slots(form: str, tracker: Tracker, domain: dict[str, Any]) -> set[str]:
    """The form's per-request slots set before the current request; empty unless the form is starting."""
    events = _before_validation(form, list(tracker.events or []))
    users = _users(events)
    starting = form_starting(form, tracker)
    workflow = tracker.get_slot("workflow")
    request = next(
        (i for i in reversed(users) if ((events[i].get("parse_data") or {}).get("intent") or {}).get("name") == workflow),
        None,
    )
    if not starting or workflow is None or request is None:
        return set()
    set_since = {e.get("name") for e in events[request:] if e.get("event") == "slot"}
    return {s for s in request_slots(form, domain) if tracker.get_slot(s) is not None and s not in set_since}
