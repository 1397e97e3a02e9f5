"""Dialogue policies: which action comes next.

Deterministic, in Rasa's priority order: rules and forms (:class:`RulePolicy`), stories
(:class:`MemoizationPolicy`, augmented by default), then the fallback
(:class:`FallbackPolicy`: clarification on ``nlu_fallback``, default fallback, listen).
:class:`PolicyEnsemble` puts them together from ``config.yml``.
"""

from dialogue.policies.base import Policy, Prediction, PredictionContext, rejected_this_turn
from dialogue.policies.ensemble import PolicyEnsemble
from dialogue.policies.fallback import (
    ACTION_ASK_AFFIRMATION,
    ACTION_DEFAULT_FALLBACK,
    ACTION_HANDOFF,
    NLU_FALLBACK_INTENT,
    FallbackPolicy,
    failed_clarifications,
)
from dialogue.policies.memoization import MemoizationPolicy
from dialogue.policies.rule import RulePolicy
from dialogue.policies.state import Featurizer, Pattern, State

__all__ = [
    "ACTION_ASK_AFFIRMATION",
    "ACTION_DEFAULT_FALLBACK",
    "ACTION_HANDOFF",
    "NLU_FALLBACK_INTENT",
    "FallbackPolicy",
    "Featurizer",
    "MemoizationPolicy",
    "Pattern",
    "Policy",
    "PolicyEnsemble",
    "Prediction",
    "PredictionContext",
    "RulePolicy",
    "State",
    "failed_clarifications",
    "rejected_this_turn",
]
