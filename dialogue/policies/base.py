"""What every policy shares: the prediction it returns and the view of the conversation it reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from dialogue.policies.state import Featurizer, RecentStates, State
from dialogue.tracker import DialogueStateTracker

ACTION_LISTEN = "action_listen"


@dataclass
class Prediction:
    """The next action, who chose it and how sure it is.

    ``events`` are logged before the action (Rasa's policy events); ``reason`` explains
    predictions of the escalation machinery (e.g. why a handoff was chosen).
    """

    action: str
    policy: str
    confidence: float = 1.0
    events: list[dict] = field(default_factory=list)
    reason: str | None = None


class PredictionContext:
    """The tracker plus its states, computed once per prediction and shared by the policies."""

    def __init__(self, tracker: DialogueStateTracker, featurizer: Featurizer) -> None:
        self.tracker = tracker
        self.featurizer = featurizer

    @cached_property
    def applied(self) -> list[dict]:
        return self.tracker.applied_events()

    @cached_property
    def states(self) -> list[State]:
        """All the current session's states (see :mod:`dialogue.policies.state`), computed from
        scratch; policies use :meth:`recent_states`."""
        return self.featurizer.states(self.applied)

    def recent_states(self, count: int) -> RecentStates:
        """The session's latest ``count`` states, computed incrementally across predictions."""
        return self.featurizer.recent_states(self.tracker, count, self.applied)

    @property
    def intent(self) -> str | None:
        return (self.tracker.latest_message.get("intent") or {}).get("name")


def rejected_this_turn(tracker: DialogueStateTracker, loop: str | None = None) -> bool:
    """Whether ``loop`` (default: the active loop) was rejected since the latest user message.

    Rasa keeps a loop's ``rejected`` flag until the loop runs again; a rejection is only about
    the message it happened on, so older ones are ignored here.
    """
    loop = loop or tracker.active_loop_name
    if not loop or not tracker.is_active_loop_rejected:
        return False
    for event in reversed(tracker.current_session_events()):
        kind = event["event"]
        if kind == "user":
            return False
        if kind == "action_execution_rejected" and event.get("name") == loop:
            return True
    return False


class Policy:
    """A policy predicts the next action or abstains (None)."""

    name = "Policy"

    def predict(self, context: PredictionContext) -> Prediction | None:  # pragma: no cover - interface
        raise NotImplementedError
