"""The last word when no rule, form or story predicts anything.

Right after a user message:

- the NLU was not confident (intent ``nlu_fallback``): ask which of the two likeliest intents
  was meant (``action_default_ask_affirmation``: a question with one button per intent), unless
  clarification is switched off or the previous ``max_failed_clarifications`` clarifications
  in a row did not help, in which case the conversation is handed to a person;
- otherwise ``action_default_fallback`` ("Sorry, I didn't get that", the message reverted).

After any other action: back to the active loop if one is active, else ``action_listen``.
"""

from __future__ import annotations

from typing import Iterable

from dialogue.policies.base import ACTION_LISTEN, Policy, Prediction, PredictionContext
from dialogue.tracker import DialogueStateTracker

NLU_FALLBACK_INTENT = "nlu_fallback"
ACTION_DEFAULT_FALLBACK = "action_default_fallback"
ACTION_ASK_AFFIRMATION = "action_default_ask_affirmation"
ACTION_HANDOFF = "action_human_handoff"
REASON_FAILED_CLARIFICATIONS = "failed_clarifications"


def failed_clarifications(events: list[dict]) -> int:
    """Clarifications asked since the latest user message that was understood.

    Each of them was followed by another message the NLU did not understand, so each failed.
    ``events``: the events to look at (e.g. the session since the latest resume), oldest first;
    the latest user message is not counted as understood or not.
    """
    return count_failed_clarifications(reversed(events))


def count_failed_clarifications(newest_first: Iterable[dict]) -> int:
    """:func:`failed_clarifications` of events given newest first (read only as far as needed)."""
    count = 0
    seen_latest_user = False
    for event in newest_first:
        kind = event["event"]
        if kind == "user":
            if not seen_latest_user:
                seen_latest_user = True
                continue
            intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
            if intent != NLU_FALLBACK_INTENT:
                break
        elif kind == "action" and event.get("name") == ACTION_ASK_AFFIRMATION and seen_latest_user:
            count += 1
    return count


def _session_backwards(tracker: DialogueStateTracker) -> Iterable[dict]:
    return reversed(tracker.current_session_events())


class FallbackPolicy(Policy):
    name = "FallbackPolicy"

    def __init__(self, clarify: bool = True, max_failed_clarifications: int = 2, recent=None) -> None:
        self.clarify = clarify
        self.max_failed_clarifications = max_failed_clarifications
        # tracker -> the events considered for counting failed clarifications, newest first
        # (default: the session's)
        self.recent = recent or _session_backwards

    def predict(self, context: PredictionContext) -> Prediction:
        tracker = context.tracker
        if tracker.latest_action_name != ACTION_LISTEN:
            loop = tracker.active_loop_name
            if loop and tracker.latest_action_name != loop:
                return Prediction(loop, self.name)
            return Prediction(ACTION_LISTEN, self.name)
        if context.intent == NLU_FALLBACK_INTENT and self.clarify:
            if count_failed_clarifications(self.recent(tracker)) >= self.max_failed_clarifications:
                return Prediction(ACTION_HANDOFF, self.name, reason=REASON_FAILED_CLARIFICATIONS)
            return Prediction(ACTION_ASK_AFFIRMATION, self.name)
        return Prediction(ACTION_DEFAULT_FALLBACK, self.name)
