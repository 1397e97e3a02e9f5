"""Project validation: each check on a small online-shop project, and financial-demo."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialogue.validation import Problem, validate_project

FINANCIAL_DEMO = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "rasa" / "financial-demo"

DOMAIN = """\
version: "3.1"
intents:
- greet
- buy
- track_order
- unused_intent
- no_examples
- thanks
entities:
- product
slots:
  product:
    type: text
    mappings:
    - type: from_entity
      entity: product
  size:
    type: categorical
    values: [s, m, l]
    mappings:
    - type: from_entity
      entity: size
    - type: from_text
      intent: [buy, checkout_form]
      conditions:
      - active_loop: checkout_form
  vip:
    type: bool
    mappings:
    - type: custom
  gift_note:
    type: text
    mappings:
    - type: from_text
      conditions:
      - active_loop: gift_form
  colour:
    type: text
    mappings:
    - type: from_text
      conditions:
      - active_loop: checkout_form
  address:
    type: text
    mappings: []
responses:
  utter_greet:
  - text: Hi!
  - text: Hi VIP!
    condition:
    - type: slot
      name: loyalty
      value: gold
  utter_ask_size:
  - text: Which size?
  utter_welcome:
  - text: You're welcome.
actions:
- action_track
forms:
  checkout_form:
    required_slots:
    - size
    - address
"""

NLU = """\
version: "3.1"
nlu:
- intent: greet
  examples: |
    - hi
    - hello
- intent: buy
  examples: |
    - I want [socks](product)
    - hello
    - I want a [red](colour) hat
    - a [blue](colour) one
- intent: track_order
  examples: |
    - where is my order
- intent: unused_intent
  examples: |
    - blah
- intent: thanks
  examples: |
    - thanks
- intent: refund
  examples: |
    - refund please
    - give money back
"""

RULES = """\
version: "3.1"
rules:
- rule: greet
  steps:
  - intent: greet
  - action: utter_greet
- rule: greet and help
  steps:
  - intent: greet
  - action: utter_greet
  - action: utter_help
- rule: no examples
  steps:
  - intent: no_examples
  - action: action_track
- rule: thanks
  steps:
  - intent: thanks
  - action: utter_welcome
"""

STORIES = """\
version: "3.1"
stories:
- story: buy socks
  steps:
  - intent: buy
    entities:
    - product: socks
    - colour: red
  - action: checkout_form
  - active_loop: checkout_form
  - slot_was_set:
    - size: xxl
    - loyalty: gold
  - active_loop: null
  - action: action_refund
  - intent: shout
  - action: action_track
  - active_loop: survey_form
- story: track
  steps:
  - intent: track_order
  - action: action_track
"""


def write(directory: Path, name: str, content: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return path


@pytest.fixture
def shop(tmp_path) -> Path:
    write(tmp_path, "domain.yml", DOMAIN)
    write(tmp_path, "data/nlu.yml", NLU)
    write(tmp_path, "data/rules.yml", RULES)
    write(tmp_path, "data/stories.yml", STORIES)
    return tmp_path


def test_every_problem_is_found_where_it_is(shop):
    domain, nlu, rules, stories = (
        str(shop / name) for name in ("domain.yml", "data/nlu.yml", "data/rules.yml", "data/stories.yml")
    )
    problems = validate_project(shop / "domain.yml", [shop / "data"])
    found = [(p.path, p.line, p.severity) for p in problems]
    expected = [
        (domain, 6, "warning", "intent 'unused_intent' is not used in any story, rule or slot mapping"),
        (domain, 7, "warning", "intent 'no_examples' has no NLU examples: only a '/no_examples' message can trigger it"),
        (domain, 21, "error", "slot 'size' is filled from entity 'size', which is not in the domain"),
        (domain, 23, "warning", "a mapping of slot 'size' names intent 'checkout_form', which is not in the domain"),
        (domain, 34, "error", "a mapping of slot 'gift_note' is conditioned on active_loop 'gift_form', which is not a form"),
        (domain, 40, "warning", "slot 'colour' has a mapping conditioned on form 'checkout_form', which does not require it"),
        (domain, 47, "error", "response 'utter_greet' has a condition on slot 'loyalty', which is not in the domain"),
        (
            domain,
            64,
            "error",
            "form 'checkout_form' requires slot 'address', which has no mapping that fills it"
            " and there is no 'validate_checkout_form' action",
        ),
        (
            domain,
            64,
            "warning",
            "form 'checkout_form' has no 'utter_ask_checkout_form_address' or 'utter_ask_address' response"
            " to ask for slot 'address'",
        ),
        (nlu, 10, "error", "example 'hello' is labelled 'buy' here and 'greet' at " + nlu + ":6"),
        (nlu, 11, "error", "entity 'colour' is annotated 2 time(s) in NLU data but is not in the domain"),
        (nlu, 24, "error", "intent 'refund' has 2 NLU example(s) but is not in the domain"),
        (rules, 11, "error", "response 'utter_help' is not defined in the domain"),
        (
            rules,
            11,
            "error",
            f"rule 'greet and help' predicts 'utter_help' here, but rule 'greet' ({rules}:3)"
            " predicts 'action_listen' in the same situation",
        ),
        (stories, 5, "error", "entity 'colour' is not in the domain"),
        (stories, 11, "warning", "'xxl' is not a valid value of the categorical slot 'size'"),
        (stories, 11, "error", "slot 'loyalty' is not in the domain"),
        (stories, 15, "error", "action 'action_refund' is not in the domain"),
        (stories, 16, "error", "intent 'shout' is not in the domain"),
        (stories, 18, "error", "active_loop 'survey_form' is not a form or action in the domain"),
    ]
    assert sorted(found) == sorted((path, line, severity) for path, line, severity, _ in expected)
    assert {p.message for p in problems} == {message for *_, message in expected}
    assert found == sorted(found, key=lambda f: (f[0], f[1]))  # sorted by file and line
    first = problems[0]
    assert str(first) == f"{first.path}:{first.line}: {first.severity}: {first.message}"


CLEAN_DOMAIN = """\
version: "3.1"
intents: [greet, buy, deny, thanks, checkout]
entities:
- product:
    roles: [gift]
slots:
  product:
    type: text
    mappings:
    - type: from_entity
      entity: product
      conditions:
      - active_loop: checkout_form
  vip:
    type: bool
    mappings:
    - type: custom
  last_order:
    type: text
    influence_conversation: false
    mappings:
    - type: custom
  address:
    type: text
    mappings: []
responses:
  utter_greet:
  - text: Hi!
  utter_greet_vip:
  - text: Hi VIP!
  utter_ask_product:
  - text: Which product?
  utter_ask_checkout_form_address:
  - text: Where to?
  utter_gift:
  - text: A gift!
  utter_welcome:
  - text: You're welcome.
actions:
- validate_checkout_form
- action_place_order
forms:
  checkout_form:
    required_slots: [product, address]
"""

CLEAN_NLU = """\
nlu:
- intent: greet
  examples: |
    - hi
- intent: buy
  examples: |
    - I want [socks](product)
    - buy [socks]{"entity": "product", "role": "gift"} for mum
- intent: deny
  examples: |
    - no
- intent: thanks
  examples: |
    - thanks
- intent: checkout
  examples: |
    - checkout
"""

CLEAN_RULES = """\
rules:
- rule: greet
  steps:
  - intent: greet
  - action: utter_greet
- rule: greet a vip
  condition:
  - slot_was_set:
    - vip: true
  steps:
  - intent: greet
  - action: utter_greet_vip
- rule: greet at the start
  conversation_start: true
  steps:
  - intent: greet
  - action: utter_greet
  - action: utter_greet_vip
- rule: gift purchase
  steps:
  - intent: buy
    entities:
    - product: socks
      role: gift
  - action: utter_gift
- rule: start checkout
  condition:
  - active_loop: null
  steps:
  - or:
    - intent: buy
    - intent: checkout
  - action: checkout_form
  - active_loop: checkout_form
- rule: submit checkout
  condition:
  - active_loop: checkout_form
  - slot_was_set:
    - last_order: null
  steps:
  - action: checkout_form
  - active_loop: null
  - slot_was_set:
    - requested_slot: null
  - action: action_place_order
- rule: deny after the order
  steps:
  - action: action_place_order
  - intent: deny
  - action: utter_welcome
- rule: chain without waiting
  wait_for_user_input: false
  steps:
  - intent: thanks
  - action: utter_welcome
- rule: same chain
  wait_for_user_input: false
  steps:
  - intent: thanks
  - action: utter_welcome
"""


def test_a_sound_project_has_no_problems(tmp_path):
    write(tmp_path, "domain.yml", CLEAN_DOMAIN)
    nlu = write(tmp_path, "data/nlu.yml", CLEAN_NLU)
    rules = write(tmp_path, "data/rules.yml", CLEAN_RULES)
    assert validate_project(tmp_path / "domain.yml", [tmp_path / "data"]) == []
    assert validate_project(tmp_path / "domain.yml", [nlu, rules]) == []  # files one by one


def test_rules_that_only_differ_after_the_end_still_contradict(tmp_path):
    write(tmp_path, "domain.yml", CLEAN_DOMAIN)
    rules = write(tmp_path, "rules.yml", """\
rules:
- rule: thanks and wait
  steps:
  - intent: thanks
  - action: utter_welcome
- rule: thanks then greet
  steps:
  - or:
    - intent: deny
    - intent: thanks
  - action: utter_welcome
  - action: utter_greet
- rule: vip thanks
  condition:
  - slot_was_set:
    - vip
  steps:
  - intent: thanks
  - action: utter_greet_vip
""")
    problems = validate_project(tmp_path / "domain.yml", [rules])
    assert [(p.line, p.message) for p in problems if p.severity == "error"] == [
        (
            12,
            "rule 'thanks then greet' predicts 'utter_greet' here, but rule 'thanks and wait'"
            f" ({rules}:2) predicts 'action_listen' in the same situation",
        )
    ]


def test_unreadable_files_are_one_problem(tmp_path):
    write(tmp_path, "domain.yml", "intents: [greet]\nslots: oops\n")
    assert validate_project(tmp_path / "domain.yml", []) == [
        Problem(str(tmp_path / "domain.yml"), 2, "error", "`slots` must be a mapping")
    ]
    write(tmp_path, "domain.yml", "intents: [greet]\n")
    bad_rules = write(tmp_path, "data/rules.yml", "rules:\n- rule: x\n  steps:\n  - bot: hi\n")
    assert validate_project(tmp_path / "domain.yml", [tmp_path / "data"]) == [
        Problem(str(bad_rules), 4, "error", "`bot` steps are not allowed in a rule")
    ]
    bad_nlu = write(tmp_path, "nlu.yml", "nlu:\n- intent: greet\n  examples: |\n    - [hi](x\n")
    (problem,) = validate_project(tmp_path / "domain.yml", [bad_nlu])
    assert (problem.path, problem.line, problem.severity) == (str(bad_nlu), 4, "error")
    missing = tmp_path / "nothing"
    assert validate_project(tmp_path / "domain.yml", [missing]) == [
        Problem(str(missing), None, "error", "no such file or directory")
    ]
    config = write(tmp_path, "config.yml", "language: en\n")
    assert validate_project(tmp_path / "domain.yml", [config]) == [
        Problem(str(config), None, "error", "no `nlu:`, `stories:` or `rules:` section")
    ]


@pytest.mark.skipif(not FINANCIAL_DEMO.is_dir(), reason="financial-demo dataset not present")
def test_financial_demo():
    """What financial-demo really gets wrong: one sentence labelled with two intents, form
    names listed as intents in `from_text` mappings, and two intents with no examples (they
    arrive as button payloads or from another bot)."""
    domain = str(FINANCIAL_DEMO / "domain.yml")
    nlu = str(FINANCIAL_DEMO / "data" / "nlu" / "nlu.yml")
    problems = validate_project(domain, [FINANCIAL_DEMO / "data", FINANCIAL_DEMO / "tests"])
    errors = [p for p in problems if p.severity == "error"]
    assert errors == [
        Problem(
            nlu,
            423,
            "error",
            f"example 'what places have I spent money?' is labelled 'search_transactions' here"
            f" and 'check_balance' at {nlu}:136",
        )
    ]
    warnings = [(p.line, p.message) for p in problems if p.severity == "warning"]
    assert warnings[:2] == [
        (30, "intent 'trigger_handoff' has no NLU examples: only a '/trigger_handoff' message can trigger it"),
        (31, "intent 'handoff' has no NLU examples: only a '/handoff' message can trigger it"),
    ]
    form_as_intent = warnings[2:]
    assert len(form_as_intent) == 12
    assert all(
        message.endswith(("intent 'cc_payment_form', which is not in the domain",
                          "intent 'transfer_money_form', which is not in the domain",
                          "intent 'transaction_search_form', which is not in the domain"))
        for _, message in form_as_intent
    )
    assert form_as_intent[0] == (71, "a mapping of slot 'AA_CONTINUE_FORM' names intent 'cc_payment_form', which is not in the domain")
