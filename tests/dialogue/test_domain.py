"""Domain loading: sections, merging a directory, Rasa's wire shape, slots, and bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from dialogue.domain import DEFAULT_ACTIONS, Domain, DomainError, Slot
from dialogue.yaml_lines import value

FINANCIAL_DEMO = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "rasa" / "financial-demo"
WIRE_SAMPLE = Path(__file__).resolve().parents[3] / "shared" / "docs" / "wire" / "action_server_request.json"

SHOP_DOMAIN = """\
version: "3.1"
intents:
- greet
- order_status:
    use_entities:
    - order_id
- track_parcel:
    ignore_entities:
    - city
- buy
- goodbye
entities:
- order_id
- city:
    roles: [from, to]
- product:
    groups: ["1", "2"]
- mood:
    influence_conversation: false
slots:
  order_id:
    type: text
    mappings:
    - type: from_entity
      entity: order_id
  gift_wrap:
    type: bool
    initial_value: false
    mappings:
    - type: from_intent
      intent: affirm
      value: yes
      conditions:
      - active_loop: checkout_form
        requested_slot: gift_wrap
  size:
    type: categorical
    values: [Small, Medium, Large]
    mappings:
    - type: from_text
      not_intent: goodbye
  quantity:
    type: float
    min_value: 1
    max_value: 10
    mappings:
    - type: custom
      action: action_count
  basket:
    type: list
    mappings:
    - type: from_trigger_intent
      intent: [buy]
      value: [socks]
  note:
    type: any
    mappings: []
responses:
  utter_greet:
  - text: Welcome to the shop!
  utter_ask_checkout_form_gift_wrap:
  - text: Shall we gift-wrap it?
    buttons:
    - title: Yes
      payload: /affirm
actions:
- action_count
- action_check_order:
    send_domain: true
forms:
  checkout_form:
    required_slots:
    - gift_wrap
    - size
session_config:
  session_expiration_time: 30
"""


def write(directory: Path, name: str, content: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return path


@pytest.fixture
def shop(tmp_path) -> Domain:
    return Domain.load(write(tmp_path, "domain.yml", SHOP_DOMAIN))


def test_sections(shop):
    assert shop.version == "3.1"
    assert shop.intents == sorted(
        ["greet", "order_status", "track_parcel", "buy", "goodbye"]
        + ["restart", "back", "out_of_scope", "session_start", "nlu_fallback"]
    )
    assert shop.intent_properties["order_status"].use_entities == ["order_id"]
    assert shop.intent_properties["track_parcel"].ignore_entities == ["city"]
    assert shop.intent_properties["greet"].use_entities is True
    assert shop.entities == ["city", "mood", "order_id", "product"]
    assert shop.roles == {"city": ["from", "to"]}
    assert shop.groups == {"product": ["1", "2"]}
    assert shop.actions == ["action_count", "action_check_order"]
    assert shop.forms["checkout_form"].required_slots == ["gift_wrap", "size"]
    assert shop.forms["checkout_form"].ignored_intents == []
    assert shop.responses["utter_ask_checkout_form_gift_wrap"][0]["buttons"][0] == {"title": "Yes", "payload": "/affirm"}
    assert shop.session_config.session_expiration_time == 30
    assert shop.session_config.carry_over_slots_to_new_session is True
    assert shop.store_entities_as_slots is True


def test_slots_keep_yaml_1_2_values_and_normalise_intents(shop):
    gift = shop.slots["gift_wrap"]
    assert gift.type == "bool" and gift.initial_value is False and gift.influence_conversation
    assert gift.mappings == [
        {
            "type": "from_intent",
            "intent": ["affirm"],
            "value": "yes",  # YAML 1.2, as Rasa reads it: a string, not True
            "conditions": [{"active_loop": "checkout_form", "requested_slot": "gift_wrap"}],
        }
    ]
    assert shop.slots["size"].values == ["Small", "Medium", "Large"]
    assert shop.slots["size"].mappings == [{"type": "from_text", "not_intent": ["goodbye"]}]
    assert (shop.slots["quantity"].min_value, shop.slots["quantity"].max_value) == (1.0, 10.0)
    assert shop.slots["note"].influence_conversation is False
    # Rasa's own slots come last
    assert list(shop.slots)[-2:] == ["requested_slot", "session_started_metadata"]
    assert shop.slots["requested_slot"] == Slot("requested_slot", "text", influence_conversation=False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yes", "yes"),
        ("No", "No"),
        ("on", "on"),
        ("true", True),
        ("FALSE", False),
        ("~", None),
        ("", None),
        ("Null", None),
        ("42", 42),
        ("-7", -7),
        ("0o17", 15),
        ("0x1F", 31),
        ("3.1", 3.1),
        ("1e3", 1000.0),
        (".5", 0.5),
        ("-.inf", float("-inf")),
        ("2024-01-31", "2024-01-31"),
        ("'42'", "42"),
        ('"true"', "true"),
        ("[a, 1, {b: no}]", ["a", 1, {"b": "no"}]),
    ],
)
def test_yaml_1_2_scalars(text, expected):
    """Rasa reads its files as YAML 1.2: no yes/no booleans, no dates."""
    assert value(yaml.compose(f"key: {text}\n").value[0][1], "f.yml") == expected


def test_action_names(shop):
    names = shop.action_names
    assert names[: len(DEFAULT_ACTIONS)] == list(DEFAULT_ACTIONS)
    assert names[len(DEFAULT_ACTIONS) :] == [
        "action_count",
        "action_check_order",
        "utter_ask_checkout_form_gift_wrap",
        "utter_greet",
        "checkout_form",
    ]


def test_used_entities(shop):
    assert shop.used_entities("order_status") == {"order_id"}
    everything_but_mood = {"order_id", "city", "city#from", "city#to", "product", "product#1", "product#2"}
    assert shop.used_entities("greet") == everything_but_mood
    # an explicit ignore list replaces the default one, which would leave out `mood`
    assert shop.used_entities("track_parcel") == {"order_id", "product", "product#1", "product#2"}
    assert shop.used_entities("not_an_intent") == everything_but_mood | {"mood"}


def test_sources(shop, tmp_path):
    path = str(tmp_path / "domain.yml")
    assert str(shop.source("intent", "greet")) == f"{path}:3"
    assert str(shop.source("slot", "gift_wrap")) == f"{path}:26"
    assert str(shop.source("mapping", "gift_wrap", 0)) == f"{path}:30"
    assert str(shop.source("required_slot", "checkout_form", 1)) == f"{path}:74"
    assert str(shop.source("response", "utter_greet")) == f"{path}:59"
    assert shop.source("slot", "nothing") is None


@pytest.mark.parametrize(
    ("slot", "value", "expected"),
    [
        (Slot("s", "bool"), "Yes", True),
        (Slot("s", "bool"), " false ", False),
        (Slot("s", "bool"), "on", True),
        (Slot("s", "bool"), 0, False),
        (Slot("s", "bool"), True, True),
        (Slot("s", "bool"), "maybe", None),
        (Slot("s", "bool"), 2, None),
        (Slot("s", "float", min_value=1, max_value=10), "4.5", 4.5),
        (Slot("s", "float", min_value=1, max_value=10), 40, 10),
        (Slot("s", "float", min_value=1, max_value=10), -3, 1),
        (Slot("s", "float"), "many", None),
        (Slot("s", "float"), True, None),
        (Slot("s", "float"), "nan", None),
        (Slot("s", "categorical", values=["Small", "Large"]), "LARGE", "Large"),
        (Slot("s", "categorical", values=["Small", "Large"]), "huge", None),
        (Slot("s", "categorical", values=[1, 2]), "2", 2),
        (Slot("s", "text"), "hi", "hi"),
        (Slot("s", "text"), 42, "42"),
        (Slot("s", "text"), {"a": 1}, None),
        (Slot("s", "list"), "socks", ["socks"]),
        (Slot("s", "list"), ["socks", "hats"], ["socks", "hats"]),
        (Slot("s", "any"), {"a": 1}, {"a": 1}),
        (Slot("s", "bool"), None, None),
    ],
)
def test_coerce(slot, value, expected):
    assert slot.coerce(value) == expected


def test_as_dict_matches_rasa_wire_sample(tmp_path):
    """The action-server request captured from Rasa 3.6 carries exactly this domain."""
    domain = Domain.load(
        write(
            tmp_path,
            "domain.yml",
            """\
version: "3.1"
intents:
  - greet
  - goodbye
  - affirm
  - deny
  - mood_great
  - mood_unhappy
  - bot_challenge
responses:
  utter_greet:
  - text: "Hey! How are you?"
  utter_cheer_up:
  - text: "Here is something to cheer you up:"
    image: "https://i.imgur.com/nGF1K8f.jpg"
  utter_did_that_help:
  - text: "Did that help you?"
  utter_happy:
  - text: "Great, carry on!"
  utter_goodbye:
  - text: "Bye"
  utter_iamabot:
  - text: "I am a bot, powered by Rasa."
session_config:
  session_expiration_time: 60
  carry_over_slots_to_new_session: true
actions:
  - action_hello_world
slots:
  greeted:
    type: bool
    influence_conversation: false
    mappings:
    - type: custom
forms: {}
entities: []
""",
        )
    )
    expected = {
        "version": "3.1",
        "intents": ["affirm", "bot_challenge", "deny", "goodbye", "greet", "mood_great", "mood_unhappy"],
        "responses": {
            "utter_greet": [{"text": "Hey! How are you?"}],
            "utter_cheer_up": [{"text": "Here is something to cheer you up:", "image": "https://i.imgur.com/nGF1K8f.jpg"}],
            "utter_did_that_help": [{"text": "Did that help you?"}],
            "utter_happy": [{"text": "Great, carry on!"}],
            "utter_goodbye": [{"text": "Bye"}],
            "utter_iamabot": [{"text": "I am a bot, powered by Rasa."}],
        },
        "session_config": {"session_expiration_time": 60, "carry_over_slots_to_new_session": True},
        "actions": ["action_hello_world"],
        "slots": {"greeted": {"type": "bool", "influence_conversation": False, "mappings": [{"type": "custom"}]}},
    }
    if WIRE_SAMPLE.is_file():
        expected = json.loads(WIRE_SAMPLE.read_text(encoding="utf-8"))["domain"]
    assert json.dumps(domain.as_dict()) == json.dumps(expected)  # key order included


def test_as_dict_adds_defaults_and_keeps_sections_as_written(shop, tmp_path):
    data = shop.as_dict()
    assert list(data) == ["version", "intents", "entities", "slots", "responses", "actions", "forms", "session_config"]
    assert data["session_config"] == {"session_expiration_time": 30}  # as written
    assert data["intents"][0] == "buy" and data["intents"][-1] == {"track_parcel": {"ignore_entities": ["city"]}}
    assert data["actions"][1] == {"action_check_order": {"send_domain": True}}
    data["slots"].clear()
    assert shop.as_dict()["slots"]  # a copy each time
    bare = Domain.load(write(tmp_path, "bare.yml", "intents:\n- greet:\n    use_entities: false\n"))
    assert bare.as_dict() == {
        "intents": [{"greet": {"use_entities": []}}],
        "session_config": {"session_expiration_time": 60, "carry_over_slots_to_new_session": True},
        "version": "3.1",
    }
    assert bare.intent_properties["greet"].use_entities == []
    assert bare.used_entities("greet") == set()


def test_fingerprint_is_stable_and_follows_content(tmp_path):
    first = Domain.load(write(tmp_path, "a.yml", SHOP_DOMAIN)).fingerprint()
    assert first == Domain.load(write(tmp_path, "b.yml", SHOP_DOMAIN)).fingerprint()
    changed = SHOP_DOMAIN.replace("Welcome to the shop!", "Hello!")
    assert first != Domain.load(write(tmp_path, "c.yml", changed)).fingerprint()
    reordered = SHOP_DOMAIN.replace("- greet\n- order_status:", "- order_status:").replace("- buy\n", "- buy\n- greet\n")
    assert first == Domain.load(write(tmp_path, "d.yml", reordered)).fingerprint()


def test_directory_is_merged_as_rasa_merges(tmp_path):
    root = tmp_path / "domain"
    write(root, "a_core.yml", """\
version: "3.1"
intents: [greet, buy]
slots:
  size:
    type: text
    mappings: [{type: from_text}]
responses:
  utter_greet:
  - text: Hi from a
forms:
  checkout_form:
    required_slots: [size]
""")
    write(root, "b_more.yml", """\
intents: [goodbye, greet]
entities: [product]
slots:
  size:
    type: any
    mappings: []
  colour:
    type: text
    mappings: []
responses:
  utter_greet:
  - text: Hi from b
  utter_bye:
  - text: Bye
actions: [checkout_form, action_pay]
session_config:
  session_expiration_time: 5
""")
    write(root, "nested/c_empty.yml", "")
    write(root, "data/nlu.yml", 'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hi\n')
    write(root, ".hidden.yml", "bogus: [")
    write(root, "notes.txt", "not yaml")
    domain = Domain.load(root)
    assert [i for i in domain.intents if i in ("greet", "buy", "goodbye")] == ["buy", "goodbye", "greet"]
    assert domain.entities == ["product"]
    assert domain.slots["size"].type == "text"  # the first file read wins
    assert "colour" in domain.slots
    assert domain.responses["utter_greet"] == [{"text": "Hi from a"}]
    assert domain.actions == ["action_pay"]  # a form listed as an action is the form
    assert domain.session_config.session_expiration_time == 5
    assert str(domain.source("slot", "size")) == f"{root / 'a_core.yml'}:4"


def test_directory_checks_form_slots_after_merging(tmp_path):
    root = tmp_path / "domain"
    write(root, "forms.yml", "forms:\n  checkout_form:\n    required_slots:\n    - size\n")
    write(root, "slots.yml", "slots:\n  size:\n    type: text\n    mappings: []\n")
    assert Domain.load(root).forms["checkout_form"].required_slots == ["size"]
    write(root, "forms.yml", "forms:\n  checkout_form:\n    required_slots:\n    - size\n    - colour\n")
    with pytest.raises(DomainError) as info:
        Domain.load(root)
    assert (info.value.path, info.value.line) == (str(root / "forms.yml"), 5)
    assert "requires slot 'colour'" in info.value.message


def test_rasa_shorthands_and_added_slots(tmp_path):
    domain = Domain.load(write(tmp_path, "domain.yml", """\
actions: [action_query_knowledge_base]
forms:
  survey_form:
    required_slots: []
    ignored_intents: chitchat
  handover_form:
session_config:
  session_expiration_time: null
  carry_over_slots_to_new_session: false
config:
  store_entities_as_slots: false
"""))
    assert domain.forms["survey_form"].ignored_intents == ["chitchat"]
    assert domain.forms["handover_form"].required_slots == []
    assert list(domain.slots) == [
        "requested_slot",
        "knowledge_base_listed_objects",
        "knowledge_base_last_object",
        "knowledge_base_last_object_type",
        "session_started_metadata",
    ]
    assert domain.session_config.session_expiration_time == 60
    assert domain.session_config.carry_over_slots_to_new_session is False
    assert domain.store_entities_as_slots is False


def test_empty_file_is_an_empty_domain(tmp_path):
    domain = Domain.load(write(tmp_path, "domain.yml", "# nothing yet\n"))
    assert domain.intents == sorted(["restart", "back", "out_of_scope", "session_start", "nlu_fallback"])
    assert list(domain.slots) == ["session_started_metadata"]
    assert domain.responses == {} and domain.forms == {} and domain.actions == []


SLOT = "slots:\n  size:\n"  # lines 1-2


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        ("- just a list\n", 1, "must be a mapping of sections"),
        ("intents: [greet]\nstories: []\n", 2, "unknown key 'stories' at the top level"),
        ("version: 3.1\n", 1, "`version` (quote it"),
        ("intents:\n  greet: {}\n", 2, "`intents` must be a list"),
        ("intents:\n- greet\n- buy:\n    use_entities: []\n  extra: 1\n", 3, "`- name: {properties}`"),
        ("intents:\n- greet:\n", 2, "intent 'greet' has ':' but no properties"),
        ("intents:\n- greet: {}\n", 2, "intent 'greet' has ':' but no properties"),
        ("intents:\n- greet:\n    triggers: utter_greet\n", 3, "unknown key 'triggers' in intent 'greet'"),
        ("intents:\n- greet:\n    use_entities: some\n", 3, "`use_entities` (true, false or a list"),
        ("intents:\n- greet:\n    ignore_entities: city\n", 3, "`ignore_entities` must be a list"),
        ("intents:\n- greet\n- buy\n- greet\n", 4, "duplicate intent 'greet'"),
        ("intents:\n- 42\n", 2, "an intent name must be a non-empty string"),
        ("intents:\n- [greet]\n", 2, "an intent name must be a non-empty string"),
        ("entities:\n- city:\n    roles: from\n", 3, "`roles` must be a list"),
        ("entities:\n- city:\n    colour: red\n", 3, "unknown key 'colour' in entity 'city'"),
        ("entities:\n- city:\n    influence_conversation: no\n", 3, "must be true or false"),
        ("entities:\n- city\n- city\n", 3, "duplicate entity 'city'"),
        ("slots: [size]\n", 1, "`slots` must be a mapping"),
        ("slots:\n  size:\n", 2, "slot 'size' must be a mapping"),
        ("slots:\n  size: text\n", 2, "slot 'size' must be a mapping"),
        (SLOT + "    mappings: []\n", 2, "slot 'size' has no `type`"),
        (SLOT + "    type: text\n", 2, "slot 'size' has no `mappings`"),
        (SLOT + "    type: unfeaturized\n    mappings: []\n", 3, "unknown type 'unfeaturized'"),
        (SLOT + "    type: text\n    auto_fill: false\n    mappings: []\n", 4, "unknown key 'auto_fill' in slot 'size'"),
        (SLOT + "    type: text\n    influence_conversation: 1\n    mappings: []\n", 4, "must be true or false"),
        (SLOT + "    type: any\n    influence_conversation: true\n    mappings: []\n", 4, "type `any` cannot influence"),
        (SLOT + "    type: text\n    values: [a]\n    mappings: []\n", 4, "`values` is only for categorical slots"),
        (SLOT + "    type: text\n    max_value: 3\n    mappings: []\n", 4, "`max_value` is only for float slots"),
        (SLOT + "    type: categorical\n    mappings: []\n", 3, "needs a non-empty `values` list"),
        (SLOT + "    type: categorical\n    values: []\n    mappings: []\n", 3, "needs a non-empty `values` list"),
        (SLOT + "    type: categorical\n    values:\n    - [a]\n    mappings: []\n", 5, "must be a plain value"),
        (SLOT + "    type: float\n    min_value: low\n    mappings: []\n", 4, "`min_value` must be a number"),
        (SLOT + "    type: float\n    min_value: 5\n    max_value: 5\n    mappings: []\n", 5, "must be below `max_value`"),
        (SLOT + "    type: text\n    mappings: {type: from_text}\n", 4, "`mappings` of slot 'size' must be a list"),
        (SLOT + "    type: text\n    mappings:\n    - from_text\n", 5, "must be a mapping with `type`"),
        (SLOT + "    type: text\n    mappings:\n    - entity: size\n", 5, "has no `type`"),
        (SLOT + "    type: text\n    mappings:\n    - type: from_llm\n", 5, "unknown mapping type 'from_llm'"),
        (SLOT + "    type: text\n    mappings:\n    - type: from_text\n      slot: x\n", 6, "unknown key 'slot' in a mapping"),
        (SLOT + "    type: text\n    mappings:\n    - type: from_entity\n", 5, "needs `entity`"),
        (SLOT + "    type: text\n    mappings:\n    - type: from_intent\n      intent: buy\n", 5, "needs `value`"),
        (SLOT + "    type: text\n    mappings:\n    - type: from_trigger_intent\n      value:\n", 5, "needs `value`"),
        (SLOT + "    type: text\n    mappings:\n    - type: from_entity\n      entity: [size]\n", 6, "`entity` must be a non-empty string"),
        (SLOT + "    type: text\n    mappings:\n    - type: from_text\n      intent: [buy, 3]\n", 6, "`intent` must be a non-empty string"),
        (SLOT + "    type: text\n    mappings:\n    - type: from_text\n      conditions: [checkout_form]\n", 6, "a mapping condition must be a mapping"),
        (SLOT + "    type: text\n    mappings:\n    - type: from_text\n      conditions:\n      - requested_slot: size\n", 7, "needs `active_loop`"),
        (SLOT + "    type: text\n    mappings:\n    - type: from_text\n      conditions:\n      - active_loop: f\n        slot: size\n", 8, "unknown key 'slot' in a mapping condition"),
        (SLOT + "    type: text\n    mappings:\n    - type: from_text\n      conditions:\n      - active_loop: [f]\n", 7, "`active_loop` must be a non-empty string"),
        (SLOT + "    type: bool\n    initial_value: maybe\n    mappings: []\n", 4, "`initial_value` 'maybe' does not fit slot 'size'"),
        (SLOT + "    type: categorical\n    values: [s, m]\n    initial_value: xl\n    mappings: []\n", 5, "does not fit"),
        ("forms: [checkout_form]\n", 1, "`forms` must be a mapping"),
        ("forms:\n  checkout_form: [size]\n", 2, "form 'checkout_form' must be a mapping"),
        ("forms:\n  checkout_form:\n    slots: [size]\n", 3, "unknown key 'slots' in form 'checkout_form'"),
        ("forms:\n  checkout_form:\n    ignored_intents: [chitchat]\n", 2, "has `ignored_intents` but no `required_slots`"),
        ("forms:\n  checkout_form:\n    required_slots:\n      size:\n      - type: from_text\n", 4, "must be a list of slot names"),
        ("forms:\n  checkout_form:\n    required_slots: [size, 7]\n", 3, "each of `required_slots` must be a non-empty string"),
        ("forms:\n  checkout_form:\n    required_slots:\n    - size\n", 4, "requires slot 'size', which is not declared"),
        ("responses:\n  utter_greet: Hello\n", 2, "response 'utter_greet' must be a list"),
        ("responses:\n  utter_greet: []\n", 2, "response 'utter_greet' has no variations"),
        ("responses:\n  utter_greet:\n  - Hello\n", 3, "a variation of response 'utter_greet' must be a mapping"),
        ("responses:\n  utter_greet:\n  - image: https://shop.example/hi.png\n", 3, "needs `text` or `custom`"),
        ("responses:\n  utter_greet:\n  - text:\n", 3, "needs `text` or `custom`"),
        ("responses:\n  utter_greet:\n  - text: [Hello]\n", 3, "`text` of response 'utter_greet' must be a string"),
        ("responses:\n  utter_greet:\n  - text: Hi\n    channel: 5\n", 4, "`channel` of response 'utter_greet'"),
        ("responses:\n  utter_greet:\n  - text: Hi\n    buttons: Yes\n", 4, "`buttons` must be a list"),
        ("responses:\n  utter_greet:\n  - text: Hi\n    buttons: [Yes]\n", 4, "each of `buttons` must be a mapping"),
        ("responses:\n  utter_greet:\n  - text: Hi\n    buttons:\n    - title: [Yes]\n", 5, "button `title` must be a string"),
        ("responses:\n  utter_greet:\n  - text: Hi\n    elements: {}\n", 4, "`elements` must be a list"),
        ("responses:\n  utter_greet:\n  - text: Hi\n    condition:\n    - name: vip\n      value: true\n", 5, "needs `type: slot`"),
        ("responses:\n  utter_greet:\n  - text: Hi\n    condition:\n    - type: slot\n      name: vip\n", 5, "needs `name` and `value`"),
        ("responses:\n  utter_greet:\n  - text: Hi\n    condition:\n    - type: slot\n      name: vip\n      value: 1\n      op: eq\n", 8, "unknown key 'op' in a response condition"),
        ("responses:\n  utter_greet:\n  - text: Hi\n    condition:\n    - type: slot\n      name: [vip]\n      value: 1\n", 6, "condition `name`"),
        ("actions:\n- action_pay\n- action_pay\n", 3, "duplicate action 'action_pay'"),
        ("actions:\n- action_pay:\n    send_domain: yes\n", 3, "`send_domain` must be true or false"),
        ("actions:\n- action_pay:\n    timeout: 3\n", 3, "unknown key 'timeout' in action 'action_pay'"),
        ("e2e_actions:\n- Hello\n- [x]\n", 3, "each of `e2e_actions`"),
        ("session_config:\n  timeout: 3\n", 2, "unknown key 'timeout' in `session_config`"),
        ("session_config:\n  session_expiration_time: soon\n", 2, "must be a number"),
        ("session_config:\n  session_expiration_time: -1\n", 2, "must not be negative"),
        ("session_config:\n  carry_over_slots_to_new_session: 1\n", 2, "must be true or false"),
        ("config:\n  store_entities_as_slots: maybe\n", 2, "must be true or false"),
        ("config:\n  other: true\n", 2, "unknown key 'other' in `config`"),
        ("slots:\n  size:\n    type: text\n    mappings: []\n  size:\n    type: bool\n", 5, "duplicate key 'size'"),
        ("intents: [greet\n", 2, "invalid YAML"),
    ],
)
def test_errors_name_file_and_line(tmp_path, content, line, message):
    path = write(tmp_path, "domain.yml", content)
    with pytest.raises(DomainError) as info:
        Domain.load(path)
    error = info.value
    assert isinstance(error, ValueError)
    assert (error.path, error.line) == (str(path), line), str(error)
    assert message in error.message
    assert str(error) == f"{path}:{line}: {error.message}"


def test_unreadable_files(tmp_path):
    with pytest.raises(DomainError) as info:
        Domain.load(tmp_path / "missing.yml")
    assert (info.value.line, info.value.message) == (None, "no such file or directory")
    assert str(info.value) == f"{tmp_path / 'missing.yml'}: no such file or directory"
    bad = tmp_path / "latin1.yml"
    bad.write_bytes(b"intents:\n- caf\xe9\n")
    with pytest.raises(DomainError) as info:
        Domain.load(bad)
    assert info.value.line == 2 and "not valid UTF-8" in info.value.message


@pytest.mark.skipif(not FINANCIAL_DEMO.is_dir(), reason="financial-demo dataset not present")
def test_financial_demo():
    domain = Domain.load(FINANCIAL_DEMO / "domain.yml")
    assert domain.version == "3.1"
    assert domain.session_config.session_expiration_time == 0
    assert "check_human" in domain.intents and "nlu_fallback" in domain.intents
    assert domain.used_entities("check_balance") == {"credit_card", "account_type"}
    assert domain.used_entities("pay_cc") == set()
    assert domain.forms["transfer_money_form"].required_slots == [
        "AA_CONTINUE_FORM",
        "PERSON",
        "amount-of-money",
        "zz_confirm_form",
    ]
    assert domain.slots["currency"].initial_value == "$"
    assert domain.slots["AA_CONTINUE_FORM"].mappings[1]["value"] == "no"
    assert domain.slots["search_type"].mappings[0] == {
        "intent": ["search_transactions"],
        "type": "from_trigger_intent",
        "value": "spend",
    }
    assert {"action_pay_cc", "validate_cc_payment_form", "utter_greet", "cc_payment_form"} <= set(domain.action_names)
    assert len(domain.responses) == 51
    data = domain.as_dict()
    assert list(data) == ["version", "session_config", "intents", "entities", "slots", "responses", "actions", "forms"]
    assert data["intents"][:3] == ["affirm", "ask_transfer_charge", {"check_balance": {"use_entities": ["credit_card", "account_type"]}}]
    json.dumps(data)  # the wire shape is plain JSON
