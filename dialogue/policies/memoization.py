"""Rasa's (Augmented)MemoizationPolicy: stories replayed exactly.

Every story (``or`` steps expanded, stories joined at their checkpoints) is turned into
states; for each action it takes, the last ``max_history`` states before it are remembered
with that action. A conversation matches when its last ``max_history`` states are exactly
such a remembered history. A story shorter than ``max_history`` only matches a history of the
same length, i.e. it is anchored at the story's beginning.

The augmented variant also forgets the beginning of the conversation, action by action (as
Rasa's AugmentedMemoizationPolicy does: the forgotten part takes its slots and latest message
with it), so a story can match from any action of the recent history. Histories remembered with
different actions contradict each other and are dropped.
"""

from __future__ import annotations

import itertools
import logging

from dialogue.domain import Domain
from dialogue.policies.base import Policy, Prediction, PredictionContext
from dialogue.policies.state import Featurizer, State, story_events
from dialogue.story_data import CheckpointStep, OrStep, Story

logger = logging.getLogger(__name__)

DEFAULT_MAX_HISTORY = 5
_MAX_TRACES = 5_000
_MAX_JOINS = 3
_AMBIGUOUS = object()


class MemoizationPolicy(Policy):
    name = "MemoizationPolicy"

    def __init__(
        self,
        domain: Domain,
        stories: list[Story],
        max_history: int | None = DEFAULT_MAX_HISTORY,
        augmented: bool = True,
        featurizer: Featurizer | None = None,
    ) -> None:
        self.domain = domain
        self.max_history = max_history or DEFAULT_MAX_HISTORY
        self.augmented = augmented
        self.name = "AugmentedMemoizationPolicy" if augmented else "MemoizationPolicy"
        self.featurizer = featurizer or Featurizer(domain)
        self.lookup: dict[tuple, object] = {}
        for trace in story_traces(stories):
            self._memorise(trace)
        self.lookup = {k: v for k, v in self.lookup.items() if v is not _AMBIGUOUS}

    def _memorise(self, steps: list) -> None:
        events = story_events(steps)
        states = self.featurizer.states(events)
        actions = [e["name"] for e in events if e["event"] == "action"]
        for i, action in enumerate(actions):
            key = tuple(states[: i + 1][-self.max_history :])
            known = self.lookup.get(key)
            if known is None:
                self.lookup[key] = action
            elif known != action:
                self.lookup[key] = _AMBIGUOUS

    def recall(self, states: list[State]) -> str | None:
        found = self.lookup.get(tuple(states[-self.max_history :]))
        return found if isinstance(found, str) else None

    def predict(self, context: PredictionContext) -> Prediction | None:
        if not self.lookup:
            return None
        action = self.recall(context.recent_states(self.max_history).states)
        if action is None and self.augmented:
            action = self._recall_truncated(context.applied)
        return None if action is None else Prediction(action, self.name)

    def _recall_truncated(self, applied: list[dict]) -> str | None:
        # From the (max_history + 1)-th latest action on, forget one more action each time.
        for start in _latest_actions(applied, self.max_history + 1):
            states = self.featurizer.states(applied[start:])
            action = self.recall(states)
            if action is not None:
                return action
        return None


def _latest_actions(events: list[dict], count: int) -> list[int]:
    """The indices of the latest ``count`` action events, oldest first."""
    found: list[int] = []
    for i in range(len(events) - 1, -1, -1):
        if len(found) == count:
            break
        if events[i]["event"] == "action":
            found.append(i)
    found.reverse()
    return found


def story_traces(stories: list[Story]) -> list[list]:
    """Linear step lists: each story on its own and joined to the stories its checkpoints lead
    to (up to a few joins), with ``or`` steps expanded."""
    parts = []
    for story in stories:
        steps = list(story.steps)
        starts, ends = [], []
        while steps and isinstance(steps[0], CheckpointStep):
            starts.append(steps.pop(0).name)
        while steps and isinstance(steps[-1], CheckpointStep):
            ends.insert(0, steps.pop().name)
        body = [s for s in steps if not isinstance(s, CheckpointStep)]
        parts.append((starts, body, ends))
    following: dict[str, list[int]] = {}
    for index, (starts, _, _) in enumerate(parts):
        for name in starts:
            following.setdefault(name, []).append(index)

    traces: list[list] = []

    def extend(steps: list, ends: list[str], depth: int) -> None:
        if len(traces) >= _MAX_TRACES:
            return
        traces.extend(_expand_or(steps))
        if depth >= _MAX_JOINS:
            return
        for name in ends:
            for index in following.get(name, ()):
                _, body, more = parts[index]
                extend(steps + body, more, depth + 1)

    for _, body, ends in parts:
        if body:
            extend(body, ends, 0)
    if len(traces) >= _MAX_TRACES:
        logger.warning("stories expand to more than %d paths; the rest are not memorised", _MAX_TRACES)
    return traces[:_MAX_TRACES]


def _expand_or(steps: list) -> list[list]:
    options = [step.alternatives if isinstance(step, OrStep) else [step] for step in steps]
    return [list(c) for c in itertools.islice(itertools.product(*options), 64)]
