"""Responses: choosing variations by condition and channel, filling templates, channel messages."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from dialogue.domain import Domain
from dialogue.responses import ResponseRenderer, messages

FINANCIAL_DEMO = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "rasa" / "financial-demo"

SHOP_DOMAIN = """\
version: "3.1"
slots:
  name:
    type: text
    mappings: []
  vip:
    type: bool
    mappings: []
  tier:
    type: categorical
    values: [gold, silver]
    mappings: []
  order_id:
    type: text
    mappings: []
responses:
  utter_greet:
  - text: Hello {name}!
  - text: Hi {name}, welcome back!
  - text: Hey {name}!
  utter_offer:
  - text: Gold members get free shipping.
    condition:
    - type: slot
      name: tier
      value: Gold
  - text: VIP on the app
    channel: app
    condition:
    - type: slot
      name: vip
      value: true
  - text: Default on the app
    channel: app
  - text: Check our deals.
  utter_conditional_only:
  - text: Only for VIPs
    condition:
    - type: slot
      name: vip
      value: true
  utter_unknown:
  - text: "Order {order_id} for {name}: {unknown}"
  utter_order:
  - text: Order {order_id} is on its way.
    buttons:
    - title: Track {order_id}
      payload: '/track{{"order_id": "{order_id}"}}'
    custom:
      order: "{order_id}"
      count: 2
      lines: ["{name}", 3]
    image: https://shop.example/{order_id}.png
  utter_escaped:
  - text: Use {{braces}} here
  utter_mixed_escape:
  - text: "{{raw}} and {name}"
  utter_rich:
  - text: "First part.\\n\\nSecond part."
    image: https://shop.example/cat.png
    attachment: https://shop.example/cat.pdf
    custom:
      kind: carousel
  utter_menu:
  - text: Pick a size
    quick_replies:
    - title: Small
      payload: /inform{"size":"s"}
    buttons:
    - title: ignored
      payload: /x
    elements:
    - title: Socks
      subtitle: Warm
      buttons:
      - title: Buy
        payload: /buy
    - title: Hat
  utter_picture:
  - text: Look
    image: https://shop.example/hat.png
    attachment: https://shop.example/hat.png
  utter_custom:
  - custom:
      blocks: [1, 2]
"""


@pytest.fixture
def renderer(tmp_path) -> ResponseRenderer:
    path = tmp_path / "domain.yml"
    path.write_text(SHOP_DOMAIN, encoding="utf-8")
    return ResponseRenderer(Domain.load(path))


def test_choice_is_deterministic_with_a_seeded_rng(renderer):
    texts = {renderer.render("utter_greet", {"name": "Ann"}, None, random.Random(seed))[0]["text"] for seed in range(40)}
    assert texts == {"Hello Ann!", "Hi Ann, welcome back!", "Hey Ann!"}
    first = [renderer.render("utter_greet", {"name": "Ann"}, None, random.Random(7)) for _ in range(3)]
    assert first[0] == first[1] == first[2]


def test_conditions_and_channels(renderer):
    def text(slots, channel):
        return renderer.render("utter_offer", slots, channel, random.Random(0))[0]["text"]

    # conditional for the channel, then default for the channel, then conditional, then default
    assert text({"vip": True, "tier": "gold"}, "app") == "VIP on the app"
    assert text({"vip": False, "tier": "gold"}, "app") == "Default on the app"
    assert text({"tier": "GOLD"}, "web") == "Gold members get free shipping."  # strings: any case
    assert text({"tier": "silver"}, None) == "Check our deals."
    assert text({}, "web") == "Check our deals."
    assert renderer.eligible("utter_offer", {"vip": 1}, "app")[0]["text"] == "VIP on the app"  # 1 == True
    assert renderer.render("utter_conditional_only", {"vip": False}, None, random.Random(0)) is None
    assert renderer.render("utter_conditional_only", {"vip": True}, None, random.Random(0)) == [{"text": "Only for VIPs"}]
    assert renderer.render("utter_nothing", {}, None, random.Random(0)) is None


def test_templates(renderer):
    rng = random.Random(0)
    response = renderer.generate("utter_order", {"order_id": "A7"}, None, rng)
    assert response["text"] == "Order A7 is on its way."
    assert response["buttons"] == [{"title": "Track A7", "payload": '/track{"order_id": "A7"}'}]
    assert response["custom"] == {"order": "A7", "count": 2, "lines": ["None", 3]}  # unset slot: "None"
    assert response["image"] == "https://shop.example/A7.png"
    # a name that is neither a slot nor a variable: the text stays exactly as written
    assert renderer.render("utter_unknown", {"order_id": "A7"}, None, rng) == [
        {"text": "Order {order_id} for {name}: {unknown}"}
    ]
    filled = renderer.render("utter_unknown", {"order_id": "A7"}, None, rng, {"unknown": 5, "name": "Bo"})
    assert filled == [{"text": "Order A7 for Bo: 5"}]  # variables win over slots
    # {{...}} escapes as in str.format; beside a placeholder it leaves the text untouched (as Rasa)
    assert renderer.render("utter_escaped", {"name": "Bo"}, None, rng) == [{"text": "Use {braces} here"}]
    assert renderer.render("utter_mixed_escape", {"name": "Bo"}, None, rng) == [{"text": "{{raw}} and {name}"}]


def test_generate_keeps_the_variation_and_does_not_touch_the_domain(renderer):
    response = renderer.generate("utter_offer", {"vip": True}, "app", random.Random(0))
    assert response == {
        "text": "VIP on the app",
        "channel": "app",
        "condition": [{"type": "slot", "name": "vip", "value": True}],
    }
    response["text"] = "changed"
    assert renderer.domain.responses["utter_offer"][1]["text"] == "VIP on the app"
    renderer.generate("utter_order", {"order_id": "Z"}, None, random.Random(1))
    assert renderer.domain.responses["utter_order"][0]["buttons"][0]["title"] == "Track {order_id}"


def test_messages_as_the_rest_channel_sends_them(renderer):
    rng = random.Random(0)
    assert renderer.render("utter_rich", {}, None, rng) == [
        {"text": "First part."},
        {"text": "Second part."},
        {"custom": {"kind": "carousel"}},
        {"image": "https://shop.example/cat.png"},
        {"attachment": "https://shop.example/cat.pdf"},
    ]
    assert renderer.render("utter_menu", {}, None, rng) == [
        {"text": "Pick a size", "buttons": [{"title": "Small", "payload": '/inform{"size":"s"}'}]},
        {"text": "Socks : Warm", "buttons": [{"title": "Buy", "payload": "/buy"}]},
        {"text": "Hat : ", "buttons": []},
    ]
    assert renderer.render("utter_picture", {}, None, rng) == [{"text": "Look"}, {"image": "https://shop.example/hat.png"}]
    assert renderer.render("utter_custom", {}, None, rng) == [{"custom": {"blocks": [1, 2]}}]
    assert messages({"text": None, "buttons": [{"title": "Go", "payload": "/go"}], "image": None}) == [
        {"buttons": [{"title": "Go", "payload": "/go"}]}
    ]
    assert messages({"text": "", "buttons": [], "custom": {}}) == []


@pytest.mark.skipif(not FINANCIAL_DEMO.is_dir(), reason="financial-demo dataset not present")
def test_financial_demo():
    renderer = ResponseRenderer(Domain.load(FINANCIAL_DEMO / "domain.yml"))
    rng = random.Random(0)
    slots = {"currency": "$", "amount-of-money": 50, "PERSON": "Jane"}
    assert renderer.render("utter_transfer_complete", slots, None, rng) == [
        {"text": "Successfully transferred $50 to Jane."}
    ]
    confirm = renderer.render("utter_ask_transfer_money_form_zz_confirm_form", {"currency": "$"}, "rest", rng)
    assert confirm[0]["text"] == "Would you like to transfer $None to None?"
    assert [b["payload"] for b in confirm[0]["buttons"]] == ["/affirm", "/deny"]
    found = renderer.render("utter_found_spend_transactions", {"currency": "$"}, None, rng, {"numtransacts": 3, "total": 12})
    assert found == [{"text": "I found 3 transactionsNone totalling $12."}]
