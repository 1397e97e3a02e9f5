"""Rule, memoization and fallback policies on hand-built conversations, and a real Rasa project."""

from __future__ import annotations

import textwrap
from pathlib import Path

from dialogue import events as ev
from dialogue.domain import Domain
from dialogue.policies import (
    FallbackPolicy,
    Featurizer,
    MemoizationPolicy,
    PolicyEnsemble,
    RulePolicy,
    failed_clarifications,
)
from dialogue.policies.base import PredictionContext
from dialogue.project import load_project
from dialogue.story_data import read_story_file
from dialogue.tracker import DialogueStateTracker

FINANCIAL_DEMO = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "rasa" / "financial-demo"

DOMAIN = Domain(
    {
        "version": "3.1",
        "intents": ["greet", "affirm", "deny", "inform", "ask_hours", "buy", "stop", {"chitchat": {"use_entities": []}}],
        "entities": ["product", "size"],
        "slots": {
            "product": {"type": "text", "mappings": [{"type": "from_entity", "entity": "product"}]},
            "size": {"type": "categorical", "values": ["small", "large"], "mappings": [{"type": "from_entity", "entity": "size"}]},
            "vip": {"type": "bool", "mappings": [{"type": "custom"}]},
            "note": {"type": "text", "influence_conversation": False, "mappings": [{"type": "custom"}]},
        },
        "forms": {"buy_form": {"required_slots": ["product", "size"]}},
        "responses": {
            name: [{"text": name}]
            for name in (
                "utter_greet",
                "utter_welcome",
                "utter_vip",
                "utter_hours",
                "utter_ok",
                "utter_product",
                "utter_sorry",
                "utter_stopped",
                "utter_bye",
            )
        },
        "actions": ["action_buy", "action_check"],
    }
)


def rules(tmp_path: Path, text: str):
    path = tmp_path / "rules.yml"
    path.write_text('version: "3.1"\n' + textwrap.dedent(text))
    return read_story_file(path)


def conversation(*steps) -> DialogueStateTracker:
    """``"greet"`` / ``("inform", [{"entity": ...}])``: a user message after action_listen;
    ``"utter_x"``/``"action_x"``: an action; ``{"slot": value}``; ``("loop", name)``;
    ``("rejected", name)``."""
    slots = {name: slot.initial_value for name, slot in DOMAIN.slots.items()}
    tracker = DialogueStateTracker("u", slots)
    tracker.update_many(
        [ev.action_executed("action_session_start"), ev.session_started(), ev.action_executed("action_listen")]
    )
    for step in steps:
        if isinstance(step, dict):
            tracker.update_many([ev.slot_set(k, v) for k, v in step.items()])
        elif isinstance(step, tuple) and step[0] == "loop":
            tracker.update(ev.active_loop(step[1]))
        elif isinstance(step, tuple) and step[0] == "rejected":
            tracker.update(ev.action_execution_rejected(step[1]))
        elif isinstance(step, tuple) or not (step.startswith(("utter_", "action_")) or step.endswith("_form")):
            intent, entities = step if isinstance(step, tuple) else (step, [])
            if tracker.latest_action_name != "action_listen":
                tracker.update(ev.action_executed("action_listen"))
            tracker.update(ev.user_uttered(intent, {"intent": {"name": intent, "confidence": 1.0}, "entities": entities}))
        else:
            tracker.update(ev.action_executed(step))
    return tracker


def predict(policy, tracker):
    prediction = policy.predict(PredictionContext(tracker, Featurizer(DOMAIN)))
    return None if prediction is None else prediction.action


def test_rules_predict_and_end_with_listen(tmp_path):
    policy = RulePolicy(
        DOMAIN,
        rules(
            tmp_path,
            """
            rules:
            - rule: greet
              steps:
              - intent: greet
              - action: utter_greet
            - rule: welcome at the start
              conversation_start: true
              steps:
              - intent: greet
              - action: utter_welcome
            - rule: hours, then keep going
              wait_for_user_input: false
              steps:
              - intent: ask_hours
              - action: utter_hours
            """,
        ).rules,
    )
    assert predict(policy, conversation("greet")) == "utter_welcome"  # the more specific rule
    assert predict(policy, conversation("greet", "utter_welcome")) == "action_listen"
    assert predict(policy, conversation("greet", "utter_welcome", "greet")) == "utter_greet"
    assert predict(policy, conversation("greet", "utter_welcome", "greet", "utter_greet")) == "action_listen"
    assert predict(policy, conversation("ask_hours")) == "utter_hours"
    assert predict(policy, conversation("ask_hours", "utter_hours")) is None  # wait_for_user_input: false
    assert predict(policy, conversation("affirm")) is None
    assert policy.handles_intent("greet") and not policy.handles_intent("affirm")


def test_rule_conditions_entities_slots_and_or(tmp_path):
    policy = RulePolicy(
        DOMAIN,
        rules(
            tmp_path,
            """
            rules:
            - rule: vip greeting
              condition:
              - slot_was_set:
                - vip: true
              steps:
              - intent: greet
              - action: utter_vip
            - rule: greet
              steps:
              - intent: greet
              - action: utter_greet
            - rule: product named
              steps:
              - intent: inform
                entities:
                - product: shoes
              - action: utter_product
            - rule: large only
              condition:
              - slot_was_set:
                - size: large
              steps:
              - intent: buy
              - action: action_buy
            - rule: ok for either
              steps:
              - or:
                - intent: affirm
                - intent: deny
              - action: utter_ok
            - rule: not set
              condition:
              - slot_was_set:
                - product: null
              steps:
              - intent: stop
              - action: utter_stopped
            - rule: chitchat ignores entities
              steps:
              - intent: chitchat
                entities:
                - product
              - action: utter_sorry
            """,
        ).rules,
    )
    assert predict(policy, conversation("utter_x", "greet")) == "utter_greet"
    assert predict(policy, conversation({"vip": True}, "utter_x", "greet")) == "utter_vip"
    assert predict(policy, conversation({"vip": False}, "utter_x", "greet")) == "utter_greet"
    assert predict(policy, conversation(("inform", [{"entity": "product", "value": "boots"}]))) == "utter_product"
    assert predict(policy, conversation("inform")) is None
    both = [{"entity": "product", "value": "a"}, {"entity": "size", "value": "small"}]
    assert predict(policy, conversation(("inform", both))) is None  # entities must match exactly
    assert predict(policy, conversation({"size": "LARGE"}, "buy")) == "action_buy"
    assert predict(policy, conversation({"size": "small"}, "buy")) is None
    assert predict(policy, conversation("affirm")) == predict(policy, conversation("deny")) == "utter_ok"
    assert predict(policy, conversation("stop")) == "utter_stopped"
    assert predict(policy, conversation({"product": "x"}, "stop")) is None
    # use_entities: [] hides the entity from the dialogue: in the rule and in the message alike
    assert predict(policy, conversation(("chitchat", [{"entity": "product", "value": "x"}]))) == "utter_sorry"
    assert predict(policy, conversation("chitchat")) == "utter_sorry"


def test_loops_take_priority_and_come_back_after_interruptions(tmp_path):
    policy = RulePolicy(
        DOMAIN,
        rules(
            tmp_path,
            """
            rules:
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
              - action: action_buy
            - rule: hours
              steps:
              - intent: ask_hours
              - action: utter_hours
            - rule: stop buying
              condition:
              - active_loop: buy_form
              steps:
              - intent: stop
              - action: action_deactivate_loop
              - active_loop: null
              - action: utter_stopped
            """,
        ).rules,
    )
    assert predict(policy, conversation("buy")) == "buy_form"
    active = ("buy", "buy_form", ("loop", "buy_form"))
    assert predict(policy, conversation(*active)) == "action_listen"
    assert predict(policy, conversation(*active, "inform")) == "buy_form"  # the form comes first
    # the form rejected the message: the rules answer it, then the form asks again
    assert predict(policy, conversation(*active, "ask_hours", ("rejected", "buy_form"))) == "utter_hours"
    assert predict(policy, conversation(*active, "ask_hours", ("rejected", "buy_form"), "utter_hours")) == "buy_form"
    assert predict(policy, conversation(*active, "stop", ("rejected", "buy_form"))) == "action_deactivate_loop"
    stopped = (*active, "stop", ("rejected", "buy_form"), "action_deactivate_loop", ("loop", None))
    assert predict(policy, conversation(*stopped)) == "utter_stopped"
    assert predict(policy, conversation(*active, "inform", "buy_form", ("loop", None))) == "action_buy"
    assert predict(policy, conversation(*active, "restart")) == "action_restart"


STORIES = """
stories:
- story: ask then confirm
  steps:
  - intent: buy
  - action: utter_product
  - intent: affirm
  - action: action_buy
- story: ask then deny
  steps:
  - intent: buy
  - action: utter_product
  - intent: deny
  - action: utter_ok
  - checkpoint: after_deny
- story: continue after deny
  steps:
  - checkpoint: after_deny
  - intent: greet
  - action: utter_bye
- story: contradicts itself
  steps:
  - intent: chitchat
  - action: utter_sorry
- story: contradicts the other
  steps:
  - intent: chitchat
  - action: utter_ok
"""


def test_memoization_replays_stories(tmp_path):
    stories = rules(tmp_path, STORIES).stories
    augmented = MemoizationPolicy(DOMAIN, stories, max_history=5, augmented=True)
    plain = MemoizationPolicy(DOMAIN, stories, max_history=5, augmented=False)
    assert predict(plain, conversation("buy")) == "utter_product"
    assert predict(plain, conversation("buy", "utter_product")) == "action_listen"
    assert predict(plain, conversation("buy", "utter_product", "affirm")) == "action_buy"
    assert predict(plain, conversation("buy", "utter_product", "deny")) == "utter_ok"
    assert predict(plain, conversation("buy", "utter_product", "deny", "utter_ok", "greet")) == "utter_bye"
    assert predict(plain, conversation("chitchat")) is None  # contradicting stories are dropped
    # after something else happened only the augmented policy finds the story
    history = ("greet", "utter_greet", "buy", "utter_product", "affirm")
    assert predict(plain, conversation(*history)) is None
    assert predict(augmented, conversation(*history)) == "action_buy"
    assert predict(augmented, conversation("greet", "utter_greet", "affirm")) is None
    assert augmented.name == "AugmentedMemoizationPolicy"


def test_ensemble_priority_and_fallback(tmp_path):
    data = rules(tmp_path, STORIES + "rules:\n- rule: r\n  steps:\n  - intent: buy\n  - action: utter_hours\n")
    ensemble = PolicyEnsemble.from_config(DOMAIN, data, [{"name": "RulePolicy"}, {"name": "AugmentedMemoizationPolicy"}, {"name": "TEDPolicy"}])
    assert [p.name for p in ensemble.policies] == ["RulePolicy", "AugmentedMemoizationPolicy"]
    prediction = ensemble.predict(conversation("buy"))
    assert (prediction.action, prediction.policy) == ("utter_hours", "RulePolicy")  # rules beat stories
    assert ensemble.predict(conversation("buy"), excluded={"utter_hours"}).action == "utter_product"
    assert ensemble.predict(conversation("inform")).action == "action_default_fallback"
    assert ensemble.predict(conversation("inform", "utter_hours")).action == "action_listen"
    tracker = conversation("inform")
    tracker.update(ev.followup("action_check"))
    assert ensemble.predict(tracker).action == "action_check"


def fallback_message(tracker):
    tracker.update(ev.action_executed("action_listen"))
    tracker.update(
        ev.user_uttered(
            "???",
            {
                "intent": {"name": "nlu_fallback", "confidence": 0.3},
                "intent_ranking": [{"name": "buy", "confidence": 0.2}, {"name": "greet", "confidence": 0.1}],
            },
        )
    )


def test_fallback_clarifies_then_hands_off():
    policy = FallbackPolicy(clarify=True, max_failed_clarifications=2)
    tracker = conversation()
    for expected in ("action_default_ask_affirmation", "action_default_ask_affirmation", "action_human_handoff"):
        fallback_message(tracker)
        prediction = policy.predict(PredictionContext(tracker, Featurizer(DOMAIN)))
        assert prediction.action == expected
        tracker.update(ev.action_executed(prediction.action))
    assert prediction.reason == "failed_clarifications"
    assert failed_clarifications(tracker.events) == 2
    # an understood message resets the count
    tracker.update(ev.action_executed("action_listen"))
    tracker.update(ev.user_uttered("hi", {"intent": {"name": "greet", "confidence": 1.0}}))
    fallback_message(tracker)
    assert failed_clarifications(tracker.events) == 0
    assert FallbackPolicy(clarify=False).predict(PredictionContext(tracker, Featurizer(DOMAIN))).action == (
        "action_default_fallback"
    )


def test_financial_demo_loads():
    project = load_project(FINANCIAL_DEMO, endpoints={})
    assert len(project.story_data.rules) >= 15 and len(project.story_data.stories) >= 15
    ensemble = project.policies()
    assert [p.name for p in ensemble.policies] == ["RulePolicy", "AugmentedMemoizationPolicy"]
    domain = project.domain
    slots = {name: slot.initial_value for name, slot in domain.slots.items()}

    def tracker_with(*events):
        tracker = DialogueStateTracker("u", slots)
        tracker.update_many(
            [ev.action_executed("action_session_start"), ev.session_started(), ev.action_executed("action_listen")]
        )
        tracker.update_many(events)
        return tracker

    def user(intent):
        return ev.user_uttered(intent, {"intent": {"name": intent, "confidence": 1.0}})

    greeted = tracker_with(user("greet"))
    assert ensemble.predict(greeted).action == "utter_greet"
    greeted.update(ev.action_executed("utter_greet"))
    assert ensemble.predict(greeted).action == "utter_help"
    greeted.update(ev.action_executed("utter_help"))
    assert ensemble.predict(greeted).action == "action_listen"

    paying = tracker_with(user("pay_cc"))
    assert ensemble.predict(paying).action == "cc_payment_form"
    # switching forms mid-way follows the stories once the form rejects the message
    paying.update_many(
        [
            ev.action_executed("cc_payment_form"),
            ev.active_loop("cc_payment_form"),
            ev.slot_set("requested_slot", "AA_CONTINUE_FORM"),
            ev.action_executed("action_listen"),
            user("search_transactions"),
            ev.action_execution_rejected("cc_payment_form"),
        ]
    )
    prediction = ensemble.predict(paying)
    assert (prediction.action, prediction.policy) == ("action_switch_forms_ask", "AugmentedMemoizationPolicy")

    submitted = tracker_with(
        user("pay_cc"),
        ev.action_executed("cc_payment_form"),
        ev.active_loop("cc_payment_form"),
        ev.action_executed("action_listen"),
        user("inform"),
        ev.action_executed("cc_payment_form"),
        ev.active_loop(None),
        ev.slot_set("requested_slot", None),
    )
    assert ensemble.predict(submitted).action == "action_pay_cc"
    # the project's own handoff rule answers human_handoff
    assert ensemble.rule_policy.handles_intent("human_handoff")
    assert ensemble.predict(tracker_with(user("human_handoff"))).action == "utter_ask_handoff"
