"""Stories, rules and test stories: every step kind, its line, directories, and bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialogue.story_data import (
    ANY_VALUE,
    ActionStep,
    ActiveLoopStep,
    BotStep,
    CheckpointStep,
    OrStep,
    Rule,
    SlotWasSetStep,
    Story,
    StoryData,
    StoryDataError,
    UserStep,
    load_story_data,
    read_story_file,
)
from dialogue.yaml_lines import Source

FINANCIAL_DEMO = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "rasa" / "financial-demo"

SHOP_STORIES = """\
version: "3.1"
stories:
- story: order status
  metadata:
    author: shop team
  steps:
  - intent: order_status
    entities:
    - order_id: A-17
    - city: Berlin
      role: to
    - express
  - action: action_check_order
  - slot_was_set:
    - order_found: true
    - carrier
  - bot: Your parcel is on its way.
  - or:
    - intent: thanks
    - intent: /goodbye
  - action: utter_goodbye
  - checkpoint: after_order
    slot_was_set:
    - vip: true
- story: checkout
  steps:
  - checkpoint: after_order
  - intent: buy
  - action: checkout_form
  - active_loop: checkout_form
  - active_loop: null
rules:
- rule: greet at the start
  conversation_start: true
  steps:
  - intent: greet
  - action: utter_greet
- rule: submit checkout
  condition:
  - active_loop: checkout_form
  - slot_was_set:
    - requested_slot: null
  wait_for_user_input: false
  steps:
  - action: checkout_form
  - active_loop: null
  - action: action_place_order
- rule: thanks or vip
  steps:
  - or:
    - intent: thanks
    - slot_was_set:
      - vip: true
  - action: utter_welcome
"""

TEST_STORIES = """\
stories:
- story: track with markup
  steps:
  - user: |
      where is order [A-17](order_id) going to [Berlin]{"entity": "city", "role": "to"}?
    intent: order_status
  - action: action_check_order
  - user: hello
"""


def write(directory: Path, name: str, content: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return path


def test_stories_and_rules(tmp_path):
    path = write(tmp_path, "stories.yml", SHOP_STORIES)
    data = load_story_data(path)
    order, checkout = data.stories
    assert order == Story(
        "order status",
        [
            UserStep(
                "order_status",
                [
                    {"entity": "order_id", "value": "A-17"},
                    {"entity": "city", "value": "Berlin", "role": "to"},
                    {"entity": "express"},
                ],
            ),
            ActionStep("action_check_order"),
            SlotWasSetStep({"order_found": True, "carrier": ANY_VALUE}),
            BotStep("Your parcel is on its way."),
            OrStep([UserStep("thanks"), UserStep("goodbye")]),
            ActionStep("utter_goodbye"),
            CheckpointStep("after_order", {"vip": True}),
        ],
        Source(str(path), 3),
    )
    assert [step.line for step in order.steps] == [7, 13, 14, 17, 18, 21, 22]
    assert [alt.line for alt in order.steps[4].alternatives] == [19, 20]
    assert checkout.steps == [
        CheckpointStep("after_order"),
        UserStep("buy"),
        ActionStep("checkout_form"),
        ActiveLoopStep("checkout_form"),
        ActiveLoopStep(None),
    ]
    greet, submit, thanks = data.rules
    assert greet == Rule(
        "greet at the start",
        [UserStep("greet"), ActionStep("utter_greet")],
        [],
        True,
        True,
        Source(str(path), 33),
    )
    assert submit.condition == [ActiveLoopStep("checkout_form"), SlotWasSetStep({"requested_slot": None})]
    assert [c.line for c in submit.condition] == [40, 41]
    assert (submit.conversation_start, submit.wait_for_user_input) == (False, False)
    assert thanks.steps[0] == OrStep([UserStep("thanks"), SlotWasSetStep({"vip": True})])
    assert repr(ANY_VALUE) == "ANY_VALUE"


def test_test_stories_with_entity_markup(tmp_path):
    path = write(tmp_path, "tests/test_stories.yml", TEST_STORIES)
    (story,) = load_story_data(path).stories
    user = story.steps[0]
    assert user.intent == "order_status"
    assert user.user == "where is order A-17 going to Berlin?"
    assert user.entities == [
        {"start": 15, "end": 19, "value": "A-17", "entity": "order_id"},
        {"start": 29, "end": 35, "value": "Berlin", "entity": "city", "role": "to"},
    ]
    assert story.steps[2] == UserStep(None, [], "hello")


def test_directory_reads_only_story_files(tmp_path):
    write(tmp_path, "data/stories.yml", SHOP_STORIES)
    write(tmp_path, "data/rules/extra.yaml", "rules:\n- rule: bye\n  steps:\n  - intent: goodbye\n  - action: utter_goodbye\n")
    write(tmp_path, "data/nlu.yml", 'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hi\n')
    write(tmp_path, "data/domain.yml", "intents: [greet]\n")
    write(tmp_path, "data/empty.yml", "")
    write(tmp_path, "data/list.yml", "- just a list\n")
    write(tmp_path, "data/.hidden/broken.yml", "stories: [")
    write(tmp_path, "data/notes.md", "## story")
    data = load_story_data(tmp_path / "data")
    assert [s.name for s in data.stories] == ["order status", "checkout"]
    assert [r.name for r in data.rules] == ["bye", "greet at the start", "submit checkout", "thanks or vip"]
    assert load_story_data(tmp_path / "data" / "rules") == StoryData([], data.rules[:1])
    assert read_story_file(tmp_path / "data" / "nlu.yml") is None


def test_empty_sections(tmp_path):
    assert load_story_data(write(tmp_path, "s.yml", "stories:\nrules: []\n")) == StoryData()


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        ("stories: []\nresponses: {}\nslots_typo: 1\n", 3, "unknown top-level key 'slots_typo'"),
        ("version: 3.1\nstories: []\n", 1, '`version` (quote it: "3.1")'),
        ("stories:\n  story: x\n", 2, "`stories` must be a list"),
        ("rules: {}\n", 1, "`rules` must be a list"),
        ("stories:\n- just text\n", 2, "a story must be a mapping"),
        ("stories:\n- story: x\n  steps:\n  - action: a\n  when: now\n", 5, "unknown key 'when' in a story"),
        ("rules:\n- rule: x\n  story: y\n  steps: []\n", 3, "unknown key 'story' in a rule"),
        ("stories:\n- steps:\n  - action: a\n", 2, "a story needs a name (`story:`)"),
        ("stories:\n- story: ''\n  steps:\n  - action: a\n", 2, "the story name must be a non-empty string"),
        ("stories:\n- story: x\n", 2, "story 'x' has no steps"),
        ("rules:\n- rule: x\n  steps: []\n", 2, "rule 'x' has no steps"),
        ("stories:\n- story: x\n  steps: {action: a}\n", 3, "`steps` must be a list"),
        ("rules:\n- rule: x\n  steps:\n  - ...\n", 4, "a step must be a mapping"),
        ("stories:\n- story: x\n  steps:\n  - {}\n", 4, "empty step"),
        ("stories:\n- story: x\n  steps:\n  - utter: hi\n", 4, "unknown step key 'utter'"),
        ("stories:\n- story: x\n  steps:\n  - action: a\n    intent: b\n", 4, "unknown key 'action' in a `user` step"),
        ("stories:\n- story: x\n  steps:\n  - action: a\n    slot_was_set: [b]\n", 5, "unknown key 'slot_was_set' in a `action` step"),
        ("rules:\n- rule: x\n  steps:\n  - bot: hello\n", 4, "`bot` steps are not allowed in a rule"),
        ("rules:\n- rule: x\n  steps:\n  - checkpoint: c\n", 4, "`checkpoint` steps are not allowed in a rule"),
        ("rules:\n- rule: x\n  condition:\n  - action: a\n  steps:\n  - action: b\n", 4, "`action` steps are not allowed in a rule condition"),
        ("rules:\n- rule: x\n  conversation_start: yes\n  steps:\n  - action: b\n", 3, "`conversation_start` must be true or false"),
        ("rules:\n- rule: x\n  wait_for_user_input: 0\n  steps:\n  - action: b\n", 3, "`wait_for_user_input` must be true or false"),
        ("stories:\n- story: x\n  steps:\n  - intent: ''\n", 4, "`intent` must be a non-empty string"),
        ("stories:\n- story: x\n  steps:\n  - action:\n", 4, "`action` must be a non-empty string"),
        ("stories:\n- story: x\n  steps:\n  - bot: [hi]\n", 4, "`bot` must be a non-empty string"),
        ("stories:\n- story: x\n  steps:\n  - active_loop: [f]\n", 4, "`active_loop` must be a non-empty string"),
        ("stories:\n- story: x\n  steps:\n  - checkpoint: ''\n", 4, "`checkpoint` must be a non-empty string"),
        ("stories:\n- story: x\n  steps:\n  - user: hi [Ann](name)\n    entities: [name]\n", 5, "mark entities up in the text"),
        ("stories:\n- story: x\n  steps:\n  - user: '   '\n", 4, "`user` must be a non-empty string"),
        ("stories:\n- story: x\n  steps:\n  - intent: buy\n    entities: product\n", 5, "`entities` must be a list"),
        ("stories:\n- story: x\n  steps:\n  - intent: buy\n    entities:\n    - product: socks\n      size: m\n", 6, "an entity item is `- name: value`"),
        ("stories:\n- story: x\n  steps:\n  - intent: buy\n    entities:\n    - product: socks\n      role: [gift]\n", 7, "`role` must be a non-empty string"),
        ("stories:\n- story: x\n  steps:\n  - intent: buy\n    entities:\n    - [product]\n", 6, "an entity must be a mapping"),
        ("stories:\n- story: x\n  steps:\n  - slot_was_set:\n      vip: true\n", 5, "`slot_was_set` must be a list"),
        ("stories:\n- story: x\n  steps:\n  - slot_was_set: []\n", 4, "`slot_was_set` needs at least one slot"),
        ("stories:\n- story: x\n  steps:\n  - slot_was_set:\n    - [vip]\n", 5, "a `slot_was_set` item must be a mapping"),
        ("stories:\n- story: x\n  steps:\n  - or: []\n", 4, "`or` needs at least one alternative"),
        ("stories:\n- story: x\n  steps:\n  - or:\n    - action: a\n", 5, "`action` steps are not allowed in an `or` step"),
        ("stories:\n- story: x\n  steps:\n  - user: |\n      hi\n      [Ann](name\n", 5, "unclosed '('"),
        ("stories:\n- story: x\n  steps:\n  - action: a\n  - action: a\n    action: b\n", 6, "duplicate key 'action'"),
        ("stories:\n- story: x\n  steps:\n  - action: [a\n", 5, "invalid YAML"),
    ],
)
def test_errors_name_file_and_line(tmp_path, content, line, message):
    path = write(tmp_path, "stories.yml", content)
    with pytest.raises(StoryDataError) as info:
        load_story_data(path)
    error = info.value
    assert isinstance(error, ValueError)
    assert (error.path, error.line) == (str(path), line), str(error)
    assert message in error.message
    assert str(error) == f"{path}:{line}: {error.message}"


def test_errors_in_a_directory_name_the_file(tmp_path):
    write(tmp_path, "data/a.yml", "stories:\n- story: ok\n  steps:\n  - action: a\n")
    bad = write(tmp_path, "data/b.yml", "rules:\n- rule: x\n  steps:\n  - bot: hi\n")
    with pytest.raises(StoryDataError) as info:
        load_story_data(tmp_path / "data")
    assert (info.value.path, info.value.line) == (str(bad), 4)


def test_file_level_errors(tmp_path):
    for path, message in [
        (tmp_path / "missing.yml", "no such file or directory"),
        (write(tmp_path, "stories.md", "## story"), "unsupported file type (expected .yml, .yaml)"),
        (write(tmp_path, "nlu.yml", "nlu: []\n"), "no `stories:` or `rules:` section"),
    ]:
        with pytest.raises(StoryDataError) as info:
            load_story_data(path)
        assert (info.value.path, info.value.line, info.value.message) == (str(path), None, message)
        assert str(info.value) == f"{path}: {message}"


@pytest.mark.skipif(not FINANCIAL_DEMO.is_dir(), reason="financial-demo dataset not present")
def test_financial_demo():
    data = load_story_data(FINANCIAL_DEMO / "data")
    assert (len(data.stories), len(data.rules)) == (19, 20)
    search = next(r for r in data.rules if r.name == "Activate transaction_search_form when no other form is active")
    assert search.condition == [ActiveLoopStep(None)]
    assert search.steps == [
        OrStep([UserStep("search_transactions"), UserStep("check_earnings")]),
        ActionStep("transaction_search_form"),
        ActiveLoopStep("transaction_search_form"),
    ]
    assert str(search.source) == f"{FINANCIAL_DEMO / 'data' / 'rules' / 'rules.yml'}:74"
    submit = next(r for r in data.rules if r.name.startswith("Submit cc_payment_form"))
    assert submit.condition == [ActiveLoopStep("cc_payment_form"), SlotWasSetStep({"previous_form_name": None})]
    tests = load_story_data(FINANCIAL_DEMO / "tests" / "test_stories.yml")
    assert len(tests.stories) == 48
    balance = next(s for s in tests.stories if s.name == "Show specific credit card account balance")
    assert balance.steps[0].user == "What's my emblem card balance"
    assert [e["entity"] for e in balance.steps[0].entities] == ["credit_card", "account_type", "amount-of-money"]
    assert balance.steps[0].entities[1]["value"] == "credit"
