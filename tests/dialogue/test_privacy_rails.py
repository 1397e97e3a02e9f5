"""Personal data through a real turn: the shop project, its rasa-sdk action server and an SQLite
tracker store read back by a second store object, as a restarted server would read it."""

from __future__ import annotations

import asyncio
import json
import logging
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa

from dialogue.guardrails.output import SAFE_TEXT
from dialogue.guardrails.personal_data import PersonalDataRail
from dialogue.guardrails.privacy import CARD_WARNING
from dialogue.stores import SQLTrackerStore
from test_engine_support import ActionServer, action_server, run, say, texts

ASK_REASON = "Why would you like to cancel order ORD-11111?"
CARD = "4111 1111 1111 1111"
OTHER_EMAIL = "jane.roe@example.org"


@pytest.fixture(scope="module")
def server():
    return action_server()


@pytest.fixture(scope="module")
def pii(pii_masker):
    return pii_masker


def stored_rows(tmp_path: Path) -> list[str]:
    """Every stored event's JSON, straight from the database file."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'tracker.db'}")
    with engine.connect() as conn:
        rows = list(conn.execute(sa.text("SELECT data FROM events ORDER BY sender_id, seq")).scalars())
    engine.dispose()
    return rows


def stored_events(tmp_path: Path, sender_id: str) -> list[dict]:
    store = SQLTrackerStore(f"sqlite:///{tmp_path / 'tracker.db'}")
    try:
        return store.retrieve_full(sender_id).events
    finally:
        store.close()


def test_the_turn_uses_the_real_value_and_the_store_gets_it_masked(tmp_path, server, pii):
    async def scenario(a):
        assert await texts(a, "u1", "cancel order ORD-11111") == [ASK_REASON]
        reply = await texts(a, "u1", "too expensive, mail jane.doe@example.com")
        # the action server saw the real slot value in the turn (and the customer may see their own address)
        assert reply == ["Order ORD-11111 is cancelled (reason: too expensive, mail jane.doe@example.com)."]

    run(tmp_path, scenario, url=server.url)
    assert not any("jane.doe@example.com" in row for row in stored_rows(tmp_path))
    events = stored_events(tmp_path, "u1")
    user = [e for e in events if e["event"] == "user"][-1]
    assert user["text"] == user["parse_data"]["text"] == "too expensive, mail <EMAIL_ADDRESS>"
    reasons = [e["value"] for e in events if e["event"] == "slot" and e["name"] == "cancel_reason" and e["value"]]
    assert set(reasons) == {"too expensive, mail <EMAIL_ADDRESS>"}
    bots = [e["text"] for e in events if e["event"] == "bot"]
    assert bots[-1] == "Order ORD-11111 is cancelled (reason: too expensive, mail <EMAIL_ADDRESS>)."
    orders = [e["value"] for e in events if e["event"] == "slot" and e["name"] == "order_id"]
    assert set(orders) == {"ORD-11111"}  # not a masked type here


def test_a_pasted_card_is_never_stored_and_the_customer_is_warned(tmp_path, server, pii):
    async def scenario(a):
        await say(a, "u2", "hello")
        out = await texts(a, "u2", f"my card is {CARD} exp 12/29, cancel order ORD-11111")
        assert out == [CARD_WARNING]
        state = await a.tracker_state("u2")
        assert state["active_loop"] == {}  # the message was not acted on
        assert state["events"][-1]["event"] == "action" and state["events"][-1]["name"] == "action_listen"

    run(tmp_path, scenario, url=server.url)
    rows = stored_rows(tmp_path)
    assert not any(CARD in row or CARD.replace(" ", "") in row for row in rows)
    events = stored_events(tmp_path, "u2")
    user = [e for e in events if e["event"] == "user"][-1]
    assert user["text"] == "my card is <CREDIT_CARD> exp 12/29, cancel order ORD-11111"
    # not parsed: number entities would hold the card's digits, an intent would act on it
    assert user["parse_data"]["entities"] == [] and user["parse_data"]["intent"]["name"] is None
    warning = [e for e in events if e["event"] == "bot"][-1]
    assert warning["metadata"]["privacy"] == "card_details_removed"  # the event says why it was said
    assert "secure link" in CARD_WARNING and "never ask you for your full card number" in CARD_WARNING


def test_entity_values_inside_a_masked_span_are_masked_whatever_their_type(pii):
    from dialogue import events as ev
    from dialogue.guardrails.privacy import ConversationMasker

    text = "card 4012 8888 8888 1881 cvv 737, amex 378282246310005, 2 shirts"
    numbers = [(5, 9, 4012), (20, 24, 1881), (29, 32, 737), (39, 54, 378282246310005), (56, 57, 2)]
    entities = [{"entity": "number", "start": s, "end": e, "value": v} for s, e, v in numbers]
    entities.append({"entity": "amount", "value": 378282246310005})  # no position: masked as rendered
    stored = ConversationMasker().event(ev.user_uttered(text, {"text": text, "entities": entities}))
    assert stored["text"] == "card <CREDIT_CARD> cvv <CARD_SECURITY_CODE>, amex <CREDIT_CARD>, 2 shirts"
    assert [e["value"] for e in stored["parse_data"]["entities"]] == [
        "<CREDIT_CARD>", "<CREDIT_CARD>", "<CARD_SECURITY_CODE>", "<CREDIT_CARD>", 2, "<CREDIT_CARD>"]


def test_a_number_failing_the_luhn_check_is_not_a_card(tmp_path, server, pii):
    async def scenario(a):
        await say(a, "u3", "hello")
        assert await texts(a, "u3", "my order number is 4111 1111 1111 1112") != [CARD_WARNING]

    run(tmp_path, scenario, url=server.url)


def test_log_lines_are_masked(tmp_path, server, pii, caplog):
    async def scenario(a):
        with caplog.at_level(logging.WARNING, logger="dialogue.engine"):
            await say(a, "u4", '/greet{"email": jane.doe@example.com, "phone": +1 503 555 0142}')

    run(tmp_path, scenario, url=server.url)
    warnings = [r.getMessage() for r in caplog.records if r.name == "dialogue.engine"]
    assert any("ignoring the entities of payload" in w for w in warnings)
    assert "jane.doe@example.com" not in caplog.text and "503 555 0142" not in caplog.text
    assert "<EMAIL_ADDRESS>" in caplog.text and "<PHONE_NUMBER>" in caplog.text


# --------------------------------------------------------------------------- the output rail

ACTIONS = '''
from rasa_sdk import Action


class ShowContact(Action):
    def name(self):
        return "action_show_contact"

    def run(self, dispatcher, tracker, domain):
        dispatcher.utter_message(text="The account holder is Jane Roe, jane.roe@example.org, phone +44 20 7946 0958.")
        return []


class EchoEmail(Action):
    def name(self):
        return "action_echo_email"

    def run(self, dispatcher, tracker, domain):
        email = next(tracker.get_latest_entity_values("email"), None)
        dispatcher.utter_message(text=f"I'll write to {email}; or call us on +1 503 555 0142.")
        return []
'''


@pytest.fixture(scope="module")
def contact_server(tmp_path_factory):
    project = tmp_path_factory.mktemp("contact")
    (project / "actions").mkdir()
    (project / "actions" / "__init__.py").write_text(ACTIONS)
    started = ActionServer(project)
    yield started
    started.stop()


def _contact_assistant(tmp_path, url):
    from dialogue.action_client import ActionServerClient
    from dialogue.domain import Domain
    from dialogue.engine import Assistant
    from dialogue.policies import PolicyEnsemble
    from dialogue.story_data import read_story_file

    domain = Domain({
        "version": "3.1",
        "intents": ["lookup", "echo"],
        "entities": ["email"],
        "actions": ["action_show_contact", "action_echo_email"],
    })
    rules = tmp_path / "rules.yml"
    rules.write_text('version: "3.1"\n' + textwrap.dedent("""
        rules:
          - rule: lookup
            steps:
              - intent: lookup
              - action: action_show_contact
          - rule: echo
            steps:
              - intent: echo
              - action: action_echo_email
        """))
    rail = PersonalDataRail.from_config({"output": {"allow": ["+1 503 555 0142"]}})
    return Assistant(
        domain,
        policies=PolicyEnsemble.from_config(domain, read_story_file(rules), None),
        tracker_store=SQLTrackerStore(f"sqlite:///{tmp_path / 'tracker.db'}"),
        action_client=ActionServerClient(url, domain.as_dict(), domain.fingerprint(), timeout=10.0),
        privacy=rail,
    )


def test_another_customers_contact_details_are_never_sent(tmp_path, contact_server, pii, caplog):
    async def scenario():
        a = _contact_assistant(tmp_path, contact_server.url)
        try:
            with caplog.at_level(logging.WARNING, logger="dialogue.guardrails.output"):
                blocked = await texts(a, "u5", "/lookup")
            own = await texts(a, "u5", '/echo{"email": "me@example.net"}')
            return blocked, own
        finally:
            await a.aclose()

    blocked, own = asyncio.run(scenario())
    assert blocked == [SAFE_TEXT]
    assert "EMAIL_ADDRESS" in caplog.text and "PHONE_NUMBER" in caplog.text and OTHER_EMAIL not in caplog.text
    # the customer's own address and the shop's public phone number pass
    assert own == ["I'll write to me@example.net; or call us on +1 503 555 0142."]
    events = stored_events(tmp_path, "u5")
    blocked_event = next(e for e in events if e["event"] == "bot" and e["text"] == SAFE_TEXT)
    assert blocked_event["metadata"]["privacy"]["blocked"] == ["EMAIL_ADDRESS", "PERSON", "PHONE_NUMBER"]
    assert not any(OTHER_EMAIL in row for row in stored_rows(tmp_path))


def test_the_web_chat_page_never_renders_messages_as_html():
    page = (Path(__file__).resolve().parents[2] / "dialogue" / "channels" / "web" / "index.html").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write"):
        assert sink not in page
    assert "item.textContent = text" in page



def test_consent_to_the_privacy_notice_is_recorded(tmp_path, server, pii):
    async def scenario(a):
        await say(a, "u6", "hello", metadata={"consent": {"notice": "privacy-2026-01", "accepted": True}})
        await say(a, "u6", "hi", metadata={"consent": "yes"})  # not a consent record: ignored

    run(tmp_path, scenario, url=server.url)
    consents = [e for e in stored_events(tmp_path, "u6") if e["event"] == "slot" and e["name"] == "privacy_consent"]
    assert len(consents) == 1
    assert consents[0]["value"]["notice"] == "privacy-2026-01" and consents[0]["value"]["accepted"] is True


def test_handoff_records_are_stored_masked(tmp_path, server, pii):
    async def scenario(a):
        await say(a, "u7", "hello")
        await say(a, "u7", "I moved to 42 Elm Street, mail jane.doe@example.com")
        await say(a, "u7", '/contact_human_agent{"email": "jane.doe@example.com"}')
        return await asyncio.to_thread(a.handoff_store.get, "u7")

    record = run(tmp_path, scenario, url=server.url)
    assert record is not None and record["reason"]
    text = json.dumps(record)
    assert "jane.doe@example.com" not in text and "42 Elm Street" not in text
    assert "<EMAIL_ADDRESS>" in text and "<STREET_ADDRESS>" in text


def test_kept_slots_are_stored_as_set(pii):
    from dialogue import events as ev
    from dialogue.guardrails.privacy import ConversationMasker, PrivacyConfig

    masker = ConversationMasker(PrivacyConfig.from_config({"keep_slots": ["email"]}))
    kept, masked = masker.events([ev.slot_set("email", "jane.doe@example.com"), ev.slot_set("note", "jane.doe@example.com")])
    assert kept["value"] == "jane.doe@example.com" and masked["value"] == "<EMAIL_ADDRESS>"
    assert masker.event(kept, "export")["value"] == "<EMAIL_ADDRESS>"  # kept in the store only


@pytest.mark.parametrize("section, message", [
    ({"keep_slots": "email"}, "privacy.keep_slots must be a list"),
    ({"card_warning": ""}, "privacy.card_warning must be a non-empty text"),
    ({"output": {"check": ["EMAIL"]}}, "privacy.output.check: unknown entity type(s) EMAIL"),
    ({"output": {"allow": "support@example.com"}}, "privacy.output.allow must be a list"),
    ({"retention_days": {"tickets": 3}}, "unknown store 'tickets'"),
    ({"retention_days": {"audit": 0}}, "privacy.retention_days.audit must be a positive number of days or null"),
])
def test_bad_privacy_settings_name_the_file(section, message):
    from dialogue.retention import RetentionConfig

    with pytest.raises(ValueError) as caught:
        PersonalDataRail.from_config(section, source="shop/config.yml")
        RetentionConfig.from_config(section, "shop/config.yml")
    assert str(caught.value).startswith("shop/config.yml: ") and message in str(caught.value)


def test_the_reference_assistant_never_asks_for_payment_card_details():
    import re

    import yaml

    root = Path(__file__).resolve().parents[2]
    asking = re.compile(r"(?i)\b(what(?:'s| is)|give|type|enter|send|tell|share|provide)\b[^.?!]{0,40}"
                        r"\b(card number|card details|cvv|cvc|security code|expiry date)")
    domain = yaml.safe_load((root / "domain.yml").read_text())
    texts = [v.get("text") or "" for variations in domain["responses"].values() for v in variations]
    texts += [(root / "actions" / "tools" / name).read_text() for name in ("billing.py", "account.py", "base.py")]
    asked = [m.group(0) for text in texts for m in asking.finditer(text)
             if not re.search(r"(?i)(don't|do not|never|not)\s+\w*\s*$", text[: m.start()][-25:])]
    assert asked == []


def test_public_values_and_their_parts_pass_the_output_rail(pii):
    rail = PersonalDataRail.from_config({"output": {"allow": ["1200 NW Everett St"]}})
    booked = {"event": "bot", "metadata": {},
              "text": "Booked: your fitting on Friday 27 November at 11:00 at our Portland store (1200 NW Everett St)."}
    assert rail.output.disallowed(booked, []) == []  # spaCy takes "Everett St" for a name
    other = {"event": "bot", "metadata": {}, "text": "Your parcel went to Jane Roe at 12 Elm Street."}
    assert rail.output.disallowed(other, []) == ["PERSON", "STREET_ADDRESS"]


def test_an_address_the_customer_gave_turns_ago_passes_the_output_rail_and_no_other(pii):
    import yaml

    from dialogue import events as ev

    config = yaml.safe_load((Path(__file__).resolve().parents[2] / "config.yml").read_text())["privacy"]
    rail = PersonalDataRail.from_config(config)
    typed = [ev.user_uttered("change the address of ORD-10116"), ev.user_uttered("455 Pine Street"),
             ev.slot_set("address_line1", "455 Pine Street"), ev.user_uttered("Seattle"),
             ev.slot_set("city", "Seattle"), ev.slot_set("address_line1", None)]
    stored = rail.for_storage(typed)  # the earlier turns, as the next turn reads them back
    assert stored[1]["text"] == "<STREET_ADDRESS>" and stored[2]["value"] == "455 Pine Street"  # kept slot
    turn = [ev.user_uttered("USA"), ev.bot_uttered("Done: order ORD-10116 will now go to 455 Pine Street, Seattle 98101, US."),
            ev.bot_uttered("Done: order ORD-10117 will now go to 12 Elm Street, Austin 73301, US.")]
    assert rail.check_output(turn, stored + turn, "u9") == 1
    assert turn[1]["text"] == "Done: order ORD-10116 will now go to 455 Pine Street, Seattle 98101, US."
    assert turn[2]["text"] == SAFE_TEXT and turn[2]["metadata"]["privacy"]["blocked"] == ["STREET_ADDRESS"]
    # the address typed in an earlier turn, in no slot: stored masked, so not recognised
    other = [ev.bot_uttered("Done: it will now go to 455 Pine Street.")]
    assert rail.check_output(other, stored[:2] + other, "u9") == 1
