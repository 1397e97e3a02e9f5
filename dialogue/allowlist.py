"""Least privilege for tools: which custom actions each intent and form may call.

The project's ``policy.yml`` (beside ``domain.yml``) maps intents and forms to the custom
actions they may run::

    allowlist:
      track_order: [action_identify_customer, action_order_status]
      cancel_order_form: [action_cancel_order]

A custom action runs only when the latest intent, the active form, or a form that was active
during the current turn lists it; a form's own ``validate_<form>`` and ``action_ask_<slot>``
need no entry. A project without an allowlist allows every action (as Rasa does). The action
server applies the same file on its side, so a call must pass both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import yaml

from dialogue.tracker import DialogueStateTracker

POLICY_FILE = "policy.yml"


class ToolAllowlist:
    def __init__(self, rules: Mapping[str, list[str]], forms=()) -> None:
        self.rules = {scope: frozenset(tools) for scope, tools in rules.items()}
        # A form's validation and slot questions only check and ask; they never act on an account.
        self.form_helpers = frozenset(f"validate_{form}" for form in forms)

    @classmethod
    def load(cls, project_dir: Path, forms=()) -> ToolAllowlist | None:
        """The allowlist of ``project_dir/policy.yml``, or None when there is none."""
        path = Path(project_dir) / POLICY_FILE
        if not path.is_file():
            return None
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ValueError(f"{path}: invalid YAML: {exc}") from None
        rules = data.get("allowlist") if isinstance(data, dict) else None
        if rules is None:
            return None
        if not isinstance(rules, dict) or not all(
            isinstance(tools, list) and all(isinstance(t, str) for t in tools) for tools in rules.values()
        ):
            raise ValueError(f"{path}: `allowlist` maps intents and forms to lists of action names")
        return cls(rules, forms)

    def allows(self, action: str, tracker: DialogueStateTracker) -> bool:
        if action in self.form_helpers or action.startswith("action_ask_"):
            return True
        return any(action in self.rules.get(scope, ()) for scope in self.scopes(tracker))

    @staticmethod
    def scopes(tracker: DialogueStateTracker) -> set[str]:
        """The latest intent, the active form, and every form active during the current turn
        (including the one active when the turn began: a completed form's submit action runs
        after the form has deactivated)."""
        scopes = {tracker.active_loop_name, (tracker.latest_message.get("intent") or {}).get("name")}
        turn_began = False
        for event in reversed(tracker.current_session_events()):
            if event["event"] == "user":
                turn_began = True
            elif event["event"] == "active_loop":
                scopes.add(event.get("name"))
                if turn_began:
                    break
        return {s for s in scopes if s}
