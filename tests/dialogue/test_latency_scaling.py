"""The work of a turn does not grow with the conversation.

The policies' states are folded incrementally (only the events applied since the previous
prediction) and the escalation checks read only the latest messages. Both must give exactly
what a computation over the whole session gives, also after reverts, restarts, repeated form
executions, tracker copies and store round trips.
"""

from __future__ import annotations

import asyncio
import json
import random

import pytest

from dialogue import events as ev
from dialogue import handoff
from dialogue.engine import Assistant, UserMessage
from dialogue.handoff import Escalation, EscalationConfig, FrustrationSettings, SentimentAnalyzer
from dialogue.policies import Featurizer, PolicyEnsemble, failed_clarifications
from dialogue.policies.base import PredictionContext
from dialogue.policies.memoization import MemoizationPolicy
from dialogue.policies.rule import RulePolicy
from dialogue.stores.sql import SQLTrackerStore
from dialogue.tracker import DialogueStateTracker
from test_policies import DOMAIN, STORIES, conversation, rules

RULES = """
rules:
- rule: welcome, then agreed
  conversation_start: true
  steps:
  - intent: greet
  - action: utter_welcome
  - intent: affirm
  - action: utter_ok
- rule: greet
  steps:
  - intent: greet
  - action: utter_greet
- rule: vip greeting
  condition:
  - slot_was_set:
    - vip: true
  steps:
  - intent: greet
  - action: utter_vip
- rule: hours
  steps:
  - intent: ask_hours
  - action: utter_hours
- rule: greeted, then agreed
  steps:
  - intent: greet
  - action: utter_greet
  - intent: affirm
  - action: utter_ok
- rule: start buying
  condition:
  - active_loop: null
  steps:
  - intent: buy
  - action: buy_form
  - active_loop: buy_form
- rule: submit
  condition:
  - active_loop: buy_form
  steps:
  - action: buy_form
  - active_loop: null
  - action: utter_ok
"""
SLOTS = {name: slot.initial_value for name, slot in DOMAIN.slots.items()}


@pytest.fixture
def story_data(tmp_path):
    return rules(tmp_path, STORIES + RULES)


# ---------------------------------------------------------------------- turns of a real engine


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_work_per_turn_is_the_same_after_50_and_500_turns(tmp_path, story_data, monkeypatch, store):
    read = [0]
    window = handoff.recent_events

    def counted(tracker):
        for event in window(tracker):
            read[0] += 1
            yield event

    monkeypatch.setattr(handoff, "recent_events", counted)
    ensemble = PolicyEnsemble.from_config(DOMAIN, story_data, None)
    sessions = ensemble.featurizer.sessions
    tracker_store = SQLTrackerStore(f"sqlite:///{tmp_path / 'tracker.db'}") if store == "sqlite" else None
    assistant = Assistant(
        DOMAIN, policies=ensemble, tracker_store=tracker_store, sentiment=SentimentAnalyzer(use_vader=False)
    )
    # rules, a form (its repeated executions drop the turns in between from the applied
    # events) and a message nothing answers (the default fallback reverts it)
    messages = ["/greet", "/ask_hours", "/buy", '/inform{"product": "shoes"}', '/inform{"size": "large"}', "/stop"]

    async def conversation() -> dict[int, tuple[int, int]]:
        work = {}
        for turn in range(500):
            folded, events_read = sessions.folded, read[0]
            await assistant.handle_message(UserMessage(messages[turn % len(messages)], "long"))
            work[turn] = (sessions.folded - folded, read[0] - events_read)
        await assistant.aclose()
        return work

    work = asyncio.run(conversation())
    early = [work[turn] for turn in range(40, 50)]
    late = [work[turn] for turn in range(490, 500)]
    assert early == late  # the same messages cost the same at turn 40 and at turn 490
    assert max(folded for folded, _ in late) <= 12 and max(read for _, read in late) <= 40


# ---------------------------------------------------------------------- states


def _random_event(rng: random.Random) -> dict:
    roll = rng.random()
    if roll < 0.30:
        return ev.action_executed(rng.choice(["action_listen", "action_listen", "utter_greet", "buy_form", "action_buy"]))
    if roll < 0.50:
        entities = rng.sample(
            [{"entity": "product", "value": "shoes"}, {"entity": "size", "value": "large", "role": "r"}], rng.randint(0, 2)
        )
        intent = rng.choice(["greet", "affirm", "buy", "inform", "chitchat"])
        return ev.user_uttered(intent, {"intent": {"name": intent, "confidence": 1.0}, "entities": entities})
    if roll < 0.65:
        name = rng.choice(["product", "size", "vip", "note"])
        return ev.slot_set(name, rng.choice({"product": ["a", None], "size": ["small", "LARGE", "xl", None],
                                             "vip": [True, False, None], "note": ["n", None]}[name]))
    if roll < 0.72:
        return ev.active_loop(rng.choice(["buy_form", None]))
    if roll < 0.76:
        return ev.entities_added([{"entity": "product", "value": "hat"}])
    if roll < 0.80:
        return ev.action_execution_rejected("buy_form")
    if roll < 0.85:
        return ev.bot_uttered("ok")
    return rng.choice(
        [ev.action_reverted(), ev.user_utterance_reverted(), ev.all_slots_reset()] * 4
        + [ev.restarted(), ev.session_started()]
    )


def _expected(featurizer: Featurizer, tracker: DialogueStateTracker, count: int) -> tuple[list, int]:
    states = featurizer.states(tracker.applied_events())
    latest = states[-count:]
    return latest, len(states) - len(latest)


@pytest.mark.parametrize("seed", range(12))
def test_recent_states_equal_states_computed_from_scratch(seed):
    rng = random.Random(seed)
    featurizer = Featurizer(DOMAIN)
    lineages = [DialogueStateTracker("s", SLOTS)]
    for _ in range(600):
        roll = rng.random()
        if roll < 0.03:  # another tracker of the same conversation, diverging from here
            lineages.append(rng.choice(lineages).copy())
            lineages = lineages[-3:]
        elif roll < 0.06:  # reloaded from a store: equal events, other objects
            tracker = rng.choice(lineages)
            lineages[lineages.index(tracker)] = DialogueStateTracker("s", SLOTS, json.loads(json.dumps(tracker.events)))
        tracker = lineages[-1] if rng.random() < 0.8 else rng.choice(lineages)
        tracker.update(_random_event(rng))
        if rng.random() < 0.5:
            count = rng.randint(1, 10)
            states, start = featurizer.recent_states(tracker, count)
            assert (states, start) == _expected(featurizer, tracker, count)


def test_the_fold_is_extended_not_rebuilt():
    featurizer = Featurizer(DOMAIN)
    tracker = DialogueStateTracker("s", SLOTS)
    for turn in range(300):
        before = featurizer.sessions.folded
        tracker.update_many(
            [ev.action_executed("action_listen"), ev.user_uttered("hi", {"intent": {"name": "greet"}})]
        )
        featurizer.recent_states(tracker, 5)
        tracker.update(ev.action_executed("utter_greet"))
        featurizer.recent_states(tracker, 5)
        assert featurizer.sessions.folded - before == 3
    tracker.update(ev.user_utterance_reverted())  # back to before the latest message
    before = featurizer.sessions.folded
    assert featurizer.recent_states(tracker, 5) == _expected(featurizer, tracker, 5)
    assert featurizer.sessions.folded == before  # resumed from a checkpoint
    tracker.update_many([ev.restarted(), ev.action_executed("action_listen")])
    states, start = featurizer.recent_states(tracker, 5)
    assert (states, start) == _expected(featurizer, tracker, 5) and len(states) == 2 and start == 0
    for _ in range(20):
        tracker.update_many([ev.user_uttered("hi", {"intent": {"name": "greet"}}), ev.action_executed("action_listen")])
        featurizer.recent_states(tracker, 3)
    assert featurizer.recent_states(tracker, 15) == _expected(featurizer, tracker, 15)  # more than kept so far


def test_conversation_start_rules_only_match_at_the_start(story_data):
    rule = RulePolicy(DOMAIN, story_data.rules)
    steps = ["greet", "utter_welcome", "affirm", "utter_ok"]
    tracker = conversation(*steps)
    assert rule.best_match(*rule.featurizer.recent_states(tracker, rule.longest)).rule == "welcome, then agreed"
    later = conversation("ask_hours", "utter_hours", *steps)  # the same states, not at the start
    states = rule.featurizer.states(later.applied_events())
    assert rule.best_match(*rule.featurizer.recent_states(later, rule.longest)) is rule.best_match(states) is None


@pytest.mark.parametrize("seed", range(6))
def test_predictions_equal_predictions_over_all_states(story_data, seed):
    """Rules and stories matched against the latest states decide as against all of them."""
    rng = random.Random(seed)
    ensemble = PolicyEnsemble.from_config(DOMAIN, story_data, None)
    rule = next(p for p in ensemble.policies if isinstance(p, RulePolicy))
    memo = next(p for p in ensemble.policies if isinstance(p, MemoizationPolicy))
    tracker = DialogueStateTracker("s", SLOTS)
    tracker.update_many([ev.action_executed("action_session_start"), ev.session_started(), ev.action_executed("action_listen")])
    for _ in range(250):
        roll = rng.random()
        if roll < 0.05:
            tracker.update(rng.choice([ev.user_utterance_reverted(), ev.action_reverted(), ev.restarted()]))
        elif roll < 0.1:
            tracker.update(ev.slot_set("vip", rng.choice([True, None])))
        if tracker.latest_action_name != "action_listen":
            tracker.update(ev.action_executed("action_listen"))
        intent = rng.choice(["greet", "affirm", "deny", "buy", "ask_hours", "chitchat", "inform"])
        tracker.update(ev.user_uttered(intent, {"intent": {"name": intent, "confidence": 1.0}}))
        for _ in range(4):
            context = PredictionContext(tracker, ensemble.featurizer)
            assert rule.best_match(*context.recent_states(rule.longest)) == rule.best_match(context.states)
            assert memo.recall(context.recent_states(memo.max_history).states) == memo.recall(context.states)
            action = ensemble.predict(tracker).action
            if rng.random() < 0.2:  # histories no rule or story leads to
                action = rng.choice(["utter_welcome", "utter_greet", "utter_ok", "action_listen"])
            tracker.update(ev.action_executed(action))
            if action == "buy_form":
                tracker.update(ev.active_loop(rng.choice(["buy_form", None])))
            if action == "action_listen":
                break


# ---------------------------------------------------------------------- escalation


def _whole_window(tracker: DialogueStateTracker) -> list[dict]:
    events = tracker.current_session_events()
    resumes = [i for i, e in enumerate(events) if e["event"] == "resume"]
    return events[resumes[-1] + 1 :] if resumes else list(events)


def _check_over_the_whole_window(escalation: Escalation, tracker: DialogueStateTracker):
    """``check_message`` as computed over every event since the latest resume."""
    config = escalation.config
    window = _whole_window(tracker)
    users = [e for e in window if e["event"] == "user"]
    if not config.enabled or not users:
        return None
    intent = users[-1]["parse_data"]["intent"]["name"]
    text = users[-1].get("text") or ""
    if intent in config.human_request_intents and intent not in escalation.rule_intents:
        return "human_request", intent
    if intent in config.refusal_intents:
        return "refused_intent", intent
    if escalation._keywords is not None and not text.startswith("/") and escalation._keywords.search(text):
        return "high_risk_keyword", escalation._keywords.search(text).group(1).lower()
    frustration = config.frustration
    scores = [escalation.sentiment.score(e.get("text")) for e in users[-max(frustration.window, 1) :]]
    if scores and scores[-1] <= frustration.severe_threshold:
        return "frustration", f"sentiment {scores[-1]:.2f}"
    if frustration.count and sum(s <= frustration.threshold for s in scores) >= frustration.count:
        return "frustration", f"sentiment {', '.join(f'{s:.2f}' for s in scores)}"
    streak, bot = [], False
    for event in window:
        if event["event"] == "bot":
            bot = True
        elif event["event"] == "user":
            streak.append(bot and event["parse_data"]["intent"]["name"] in config.correction_intents)
            bot = False
    count = 0
    for is_correction in reversed(streak):
        if not is_correction:
            break
        count += 1
    if config.max_consecutive_corrections and count >= config.max_consecutive_corrections:
        return "repeated_corrections", intent
    return None


@pytest.mark.parametrize("seed", range(8))
def test_escalation_checks_equal_checks_over_the_whole_window(seed):
    rng = random.Random(seed)
    texts = ["fine", "this is terrible", "I hate this useless garbage", "not bad", "/deny", "thanks, great", ""]
    for _ in range(20):
        config = EscalationConfig(
            max_consecutive_corrections=rng.randint(0, 4),
            frustration=FrustrationSettings(count=rng.randint(0, 3), window=rng.randint(0, 4)),
            human_request_intents=["human"],
            high_risk_keywords=rng.choice([[], ["lawyer"]]),
        )
        escalation = Escalation(config, sentiment=SentimentAnalyzer(use_vader=False))
        tracker = DialogueStateTracker("s", {})
        for _ in range(rng.randint(0, 60)):
            roll = rng.random()
            if roll < 0.4:
                intent = rng.choice(["deny", "deny", "affirm", "nlu_fallback", "human"])
                text = rng.choice(texts + ["call my lawyer"] * (intent == "affirm"))
                tracker.update(ev.user_uttered(text, {"intent": {"name": intent, "confidence": 1.0}}))
            elif roll < 0.7:
                tracker.update(ev.bot_uttered("ok"))
            elif roll < 0.75:
                tracker.update(ev.conversation_resumed())
            elif roll < 0.78:
                tracker.update(ev.session_started())
            else:
                tracker.update(ev.action_executed(rng.choice(["action_listen", "action_default_ask_affirmation"])))
            assert escalation.check_message(tracker) == _check_over_the_whole_window(escalation, tracker)
            assert handoff.escalation_window(tracker) == _whole_window(tracker)
            assert escalation.failed_clarifications(tracker) == failed_clarifications(_whole_window(tracker))
