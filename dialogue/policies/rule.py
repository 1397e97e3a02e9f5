"""Rasa's RulePolicy: rules, loop (form) happy paths and the default intents.

Order of precedence, as in Rasa 3:

1. the default intents right after a user message: ``restart`` -> ``action_restart``,
   ``back`` -> ``action_back``, ``session_start`` -> ``action_session_start``;
2. the active loop: it runs after every action until it rejects the user's message (then the
   rules decide), and ``action_listen`` follows a loop that ran;
3. rules. Each rule is compiled into patterns, one per action it predicts: the states before
   that action, each saying only what the rule says (intent, entities, slots of
   ``slot_was_set`` and conditions that influence the conversation, active loop, previous
   action). Rules end with an implicit ``action_listen`` unless ``wait_for_user_input: false``;
   ``conversation_start: true`` rules only match at the beginning of a session. The most
   specific matching rule wins (most states, then most constraints). When a rule without an
   ``active_loop`` constraint would end in ``action_listen`` while a loop is active, the loop is
   predicted instead, so a form continues after an interruption answered by a general rule.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, replace

from dialogue.domain import Domain
from dialogue.policies.base import ACTION_LISTEN, Policy, Prediction, PredictionContext, rejected_this_turn
from dialogue.policies.state import UNSET, Featurizer, Pattern, State
from dialogue.story_data import (
    ActionStep,
    ActiveLoopStep,
    OrStep,
    Rule,
    SlotWasSetStep,
    UserStep,
)

logger = logging.getLogger(__name__)

DEFAULT_INTENT_ACTIONS = {
    "restart": "action_restart",
    "back": "action_back",
    "session_start": "action_session_start",
}
_MAX_VARIANTS = 256


@dataclass(frozen=True)
class RuleKey:
    """``patterns`` (oldest first) predict ``action``."""

    patterns: tuple
    action: str
    rule: str

    @property
    def specificity(self) -> tuple[int, int]:
        return len(self.patterns), sum(p.size for p in self.patterns)


# The unknown history before a rule that does not start a conversation.
_SNIPPET = "__rule_snippet__"


def compile_rule(rule: Rule, featurizer: Featurizer) -> list[RuleKey]:
    """The (patterns -> action) keys of one rule, for every combination of its ``or`` steps."""
    keys: list[RuleKey] = []
    for steps in _variants(rule.steps):
        keys.extend(_compile_variant(rule, steps, featurizer))
    return keys


def _variants(steps: list) -> list[list]:
    options = [step.alternatives if isinstance(step, OrStep) else [step] for step in steps]
    variants = []
    for combination in itertools.product(*options):
        variants.append(list(combination))
        if len(variants) >= _MAX_VARIANTS:
            logger.warning("a rule has more than %d `or` combinations; the rest are ignored", _MAX_VARIANTS)
            break
    return variants


def _compile_variant(rule: Rule, steps: list, featurizer: Featurizer) -> list[RuleKey]:
    current = Pattern(prev_action=None if rule.conversation_start else _SNIPPET, start=rule.conversation_start)
    slots: dict = {}
    for condition in rule.condition:
        current = _apply(current, condition, featurizer, slots)
    current = replace(current, slots=_slot_items(slots))
    history: list[Pattern] = []
    keys: list[RuleKey] = []

    def predict(action: str) -> None:
        nonlocal current, history
        if current.prev_action == _SNIPPET:
            history = []  # what came before the rule is not part of it
        else:
            history.append(current)
            if not (len(history) == 1 and current.start):  # nothing to predict before the first message
                keys.append(RuleKey(tuple(history), action, rule.name))
        current = replace(current, prev_action=action, start=False)

    for step in steps:
        if isinstance(step, UserStep):
            if current.prev_action == _SNIPPET:
                current = replace(current, prev_action=ACTION_LISTEN)
            elif current.prev_action != ACTION_LISTEN:
                predict(ACTION_LISTEN)
            entities = None
            if step.entities:
                labels = featurizer.entity_labels(step.intent, step.entities)
                entities = labels or None
            current = replace(current, intent=step.intent, entities=entities)
        elif isinstance(step, ActionStep):
            predict(step.name)
        else:
            current = _apply(current, step, featurizer, slots)
            current = replace(current, slots=_slot_items(slots))
    if rule.wait_for_user_input and current.prev_action not in (_SNIPPET, ACTION_LISTEN, None):
        predict(ACTION_LISTEN)
    return keys


def _apply(current: Pattern, step, featurizer: Featurizer, slots: dict) -> Pattern:
    if isinstance(step, ActiveLoopStep):
        return replace(current, active_loop=UNSET if step.name is None else step.name)
    if isinstance(step, SlotWasSetStep):
        for name, value in step.slots.items():
            constraint = featurizer.slot_constraint(name, value)
            if constraint is not None:
                slots[name] = constraint
    return current


def _slot_items(slots: dict) -> tuple:
    return tuple(sorted(slots.items()))


class RulePolicy(Policy):
    name = "RulePolicy"

    def __init__(self, domain: Domain, rules: list[Rule], featurizer: Featurizer | None = None) -> None:
        self.domain = domain
        self.featurizer = featurizer or Featurizer(domain)
        self.keys: list[RuleKey] = []
        for rule in rules:
            self.keys.extend(compile_rule(rule, self.featurizer))
        # index by predicted-after-state prev_action for quick filtering
        self._by_prev: dict[str | None, list[RuleKey]] = {}
        for key in self.keys:
            self._by_prev.setdefault(key.patterns[-1].prev_action, []).append(key)
        self.rule_intents = {
            p.intent for key in self.keys for p in key.patterns if p.intent is not None
        }
        self.longest = max((len(key.patterns) for key in self.keys), default=1)

    def handles_intent(self, intent: str) -> bool:
        """Whether some rule reacts to ``intent``."""
        return intent in self.rule_intents

    def predict(self, context: PredictionContext) -> Prediction | None:
        tracker = context.tracker
        if tracker.latest_action_name == ACTION_LISTEN and tracker.latest_message_event is not None:
            default = DEFAULT_INTENT_ACTIONS.get(context.intent)
            if default:
                return Prediction(default, self.name)

        loop = tracker.active_loop_name
        if loop and not rejected_this_turn(tracker, loop):
            if tracker.latest_action_name != loop:
                return Prediction(loop, self.name)
            return Prediction(ACTION_LISTEN, self.name)

        best = self.best_match(*context.recent_states(self.longest))
        if best is None:
            return None
        if loop and best.action == ACTION_LISTEN and best.patterns[-1].active_loop in (None, UNSET):
            # a general rule is done while a loop is active: go back to the loop
            return Prediction(loop, self.name)
        return Prediction(best.action, self.name)

    def best_match(self, states: list[State], start: int = 0) -> RuleKey | None:
        """The most specific rule matching the latest ``states``: all the session's states, or
        its latest ones (at least as many as the longest rule has) beginning with its
        ``start``-th state."""
        if not states:
            return None
        best: RuleKey | None = None
        for key in self._by_prev.get(states[-1].prev_action, ()):
            if _matches(key.patterns, states, start) and (best is None or key.specificity > best.specificity):
                best = key
        return best


def _matches(patterns: tuple, states: list[State], start: int = 0) -> bool:
    if len(patterns) > len(states):
        return False
    offset = len(states) - len(patterns)
    for i, pattern in enumerate(patterns):
        if pattern.start and start + offset + i != 0:
            return False
        if not pattern.matches(states[offset + i]):
            return False
    return True
