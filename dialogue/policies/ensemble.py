"""The policies together, in Rasa's priority order, built from ``config.yml``.

``policies:`` in ``config.yml`` is read as Rasa reads it; Desk runs these:

- ``RulePolicy`` (always on: rules, forms and the default intents),
- ``MemoizationPolicy`` / ``AugmentedMemoizationPolicy`` with ``max_history`` (default 5);
  when ``policies`` is missing, Rasa's defaults apply and stories are memorised with
  augmentation,
- the fallback (clarification, default fallback, listen) when nothing else predicts.

Machine-learned policies (``TEDPolicy``, ``UnexpecTEDIntentPolicy``) and any other names are
ignored with a warning: Desk's dialogue is deterministic. A ``followup`` event's action always
comes first.
"""

from __future__ import annotations

import logging
from typing import Any, Iterable

from dialogue.domain import Domain
from dialogue.policies.base import Policy, Prediction, PredictionContext
from dialogue.policies.fallback import FallbackPolicy
from dialogue.policies.memoization import DEFAULT_MAX_HISTORY, MemoizationPolicy
from dialogue.policies.rule import RulePolicy
from dialogue.policies.state import Featurizer
from dialogue.story_data import StoryData
from dialogue.tracker import DialogueStateTracker

logger = logging.getLogger(__name__)

FOLLOWUP_POLICY = "FollowupAction"
_MEMOIZATION = {"MemoizationPolicy": False, "AugmentedMemoizationPolicy": True}
_KNOWN_IGNORED = {"TEDPolicy", "UnexpecTEDIntentPolicy"}


class PolicyEnsemble:
    """Asks each policy in turn; the first that predicts an allowed action wins."""

    def __init__(self, domain: Domain, policies: list[Policy], fallback: FallbackPolicy | None = None) -> None:
        self.domain = domain
        self.featurizer = Featurizer(domain)
        self.policies = policies
        self.fallback = fallback or FallbackPolicy()

    @property
    def rule_policy(self) -> RulePolicy | None:
        return next((p for p in self.policies if isinstance(p, RulePolicy)), None)

    def predict(self, tracker: DialogueStateTracker, excluded: Iterable[str] = ()) -> Prediction:
        """The next action. ``excluded``: actions that rejected to run in this turn."""
        excluded = set(excluded)
        followup = tracker.followup_action
        if followup and followup not in excluded:
            return Prediction(followup, FOLLOWUP_POLICY)
        context = PredictionContext(tracker, self.featurizer)
        for policy in self.policies:
            prediction = policy.predict(context)
            if prediction is not None and prediction.action not in excluded:
                logger.debug("%s predicted %s", policy.name, prediction.action)
                return prediction
        return self.fallback.predict(context)

    @classmethod
    def from_config(
        cls,
        domain: Domain,
        story_data: StoryData,
        policies_config: list[dict] | None,
        fallback: FallbackPolicy | None = None,
    ) -> PolicyEnsemble:
        featurizer = Featurizer(domain)
        rule = RulePolicy(domain, story_data.rules, featurizer)
        policies: list[Policy] = [rule]
        if policies_config is None:
            policies.append(MemoizationPolicy(domain, story_data.stories, DEFAULT_MAX_HISTORY, True, featurizer))
        else:
            for spec in policies_config:
                name = _policy_name(spec)
                if name == "RulePolicy":
                    continue
                if name in _MEMOIZATION:
                    max_history = spec.get("max_history", DEFAULT_MAX_HISTORY) if isinstance(spec, dict) else None
                    policies.append(
                        MemoizationPolicy(domain, story_data.stories, max_history, _MEMOIZATION[name], featurizer)
                    )
                elif name in _KNOWN_IGNORED:
                    logger.info("%s is not used: Desk's dialogue policies are deterministic", name)
                else:
                    logger.warning("unknown policy %r in config.yml is ignored", name)
        ensemble = cls(domain, policies, fallback)
        ensemble.featurizer = featurizer
        return ensemble


def _policy_name(spec: Any) -> str:
    if isinstance(spec, dict):
        return str(spec.get("name", ""))
    return str(spec)
