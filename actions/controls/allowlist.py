"""Least privilege on the action server: a tool runs only where ``policy.yml``'s allowlist puts it.

The conversation's state is read from the tracker Rasa sends: the latest message's intent, the
active form, and any form that was active during the current turn (a form that has just
collected its last slot is deactivated before its submit action runs, so the form that was
filling the slots still counts). A form's questions (``action_ask_<slot>``) only ask and need no
entry, as on the dialogue side.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker

from actions.policy import Policy


def conversation_states(tracker: Tracker) -> set[str]:
    """The intent and form names the tool call is judged by."""
    states: set[str] = set()
    intent = (tracker.latest_message or {}).get("intent") or {}
    if intent.get("name"):
        states.add(str(intent["name"]))
    if tracker.active_loop_name:
        states.add(str(tracker.active_loop_name))
    states |= _forms_of_current_turn(tracker.events or [])
    return states


def _forms_of_current_turn(events: list[dict[str, Any]]) -> set[str]:
    active: str | None = None
    at_latest_user: str | None = None
    since_user: set[str] = set()
    for event in events:
        kind = event.get("event")
        if kind == "restart":
            active, at_latest_user, since_user = None, None, set()
        elif kind == "active_loop":
            active = event.get("name") or None
            if active:
                since_user.add(active)
        elif kind == "user":
            at_latest_user, since_user = active, set()
    return since_user | ({at_latest_user} if at_latest_user else set())


def is_allowed(tracker: Tracker, tool: str, policy: Policy) -> bool:
    return tool.startswith("action_ask_") or tool in policy.allowed_tools(conversation_states(tracker))
