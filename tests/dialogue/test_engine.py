"""The dialogue engine end to end: NLU, rules, stories, sessions, the action server, storage."""

from __future__ import annotations

import asyncio
import logging
import textwrap

import pytest

from dialogue.actions import ACTION_FAILURE_TEXT, FAILURE_METADATA_KEY
from dialogue.domain import Domain
from dialogue.engine import Assistant, UserMessage, parse_payload
from dialogue.policies import PolicyEnsemble
from dialogue.project import load_assistant
from dialogue.story_data import read_story_file
from test_engine_support import (
    DEFAULT,
    GREET,
    WELCOME,
    FakeClock,
    action_server,
    events,
    free_port,
    kinds,
    run,
    say,
    texts,
)


@pytest.fixture(scope="module")
def server():
    return action_server()


def test_rules_conversation_start_then_general(tmp_path, server):
    async def scenario(a):
        first = await say(a, "u1", "hello")
        assert first == [{"recipient_id": "u1", "text": WELCOME}]
        assert await texts(a, "u1", "hi there") == [GREET]
        assert await texts(a, "u1", "bye") == ["Bye, have a nice day!"]
        evts = await events(a, "u1")
        assert kinds(evts)[:6] == [
            "action:action_session_start",
            "session_started",
            "action:action_listen",
            "user:greet",
            "action:utter_welcome",
            "bot",
        ]
        bots = [e for e in evts if e["event"] == "bot"]
        assert [b["metadata"]["utter_action"] for b in bots] == ["utter_welcome", "utter_greet", "utter_goodbye"]
        actions = [e for e in evts if e["event"] == "action" and e["name"] == "utter_greet"]
        assert actions[0]["policy"] == "RulePolicy" and actions[0]["confidence"] == 1.0
        assert actions[0]["metadata"]["assistant_id"] == "shop-test"

    run(tmp_path, scenario, url=server.url)


def test_story_is_replayed(tmp_path, server):
    async def scenario(a):
        await say(a, "u1", "hello")
        out = await say(a, "u1", "what is your refund policy")
        assert out == [
            {"recipient_id": "u1", "text": "You can return any item within 30 days for a full refund."},
            {
                "recipient_id": "u1",
                "text": "Would you like me to start a return?",
                "buttons": [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}],
            },
        ]
        assert await texts(a, "u1", "yes please") == ["I've started a return; the label is on its way by email."]
        state = await a.tracker_state("u1")
        assert state["slots"]["return_started"] is True
        policies = {e["name"]: e["policy"] for e in state["events"] if e["event"] == "action"}
        assert policies["utter_refund_policy"] == "AugmentedMemoizationPolicy"
        assert policies["action_start_return"] == "AugmentedMemoizationPolicy"

        # the other branch of the story, in a conversation of its own
        await say(a, "u2", "/check_refund_policy")
        assert await texts(a, "u2", "/deny") == ["No problem. Anything else?"]

    run(tmp_path, scenario, url=server.url)


def test_payload_parse():
    parsed = parse_payload('/inform{"order_id": "ORD-12345"}')
    assert parsed["intent"] == {"name": "inform", "confidence": 1.0}
    assert parsed["intent_ranking"] == [{"name": "inform", "confidence": 1.0}]
    assert parsed["entities"] == [{"entity": "order_id", "start": 7, "end": 32, "value": "ORD-12345"}]
    assert parse_payload("/greet@0.4")["intent"] == {"name": "greet", "confidence": 0.4}
    assert parse_payload('/inform{"order_id": ["A", "B"]}')["entities"][1]["value"] == "B"
    assert parse_payload("/inform{not json}")["entities"] == []
    assert parse_payload("/") is None


def test_payload_messages_skip_the_model(tmp_path, server):
    async def scenario(a):
        assert a.parse("/track_order")["intent"]["confidence"] == 1.0
        out = await texts(a, "u1", '/track_order{"order_id": "ORD-54321"}')
        assert out == ["Order ORD-54321 has shipped and arrives in 2 days."]
        user = [e for e in await events(a, "u1") if e["event"] == "user"][0]
        assert user["text"] == '/track_order{"order_id": "ORD-54321"}'
        assert user["parse_data"]["entities"][0]["value"] == "ORD-54321"

    run(tmp_path, scenario, url=server.url)


def test_restart(tmp_path, server):
    async def scenario(a):
        await say(a, "u1", "hello")
        await say(a, "u1", "where is my order")
        assert (await a.tracker_state("u1"))["active_loop"]["name"] == "track_order_form"
        assert await texts(a, "u1", "/restart") == ["Let's start over."]
        evts = await events(a, "u1")
        assert kinds(evts)[-7:] == [
            "user:restart",
            "action:action_restart",
            "bot",
            "restart",
            "action:action_session_start",
            "session_started",
            "action:action_listen",
        ]
        state = await a.tracker_state("u1")
        assert state["active_loop"] == {} and state["slots"]["requested_slot"] is None
        # a fresh start: the conversation-start rule applies again
        assert await texts(a, "u1", "hello") == [WELCOME]

    run(tmp_path, scenario, url=server.url)


def test_session_expiry_starts_a_new_session_with_slots(tmp_path, server):
    clock = FakeClock()

    async def scenario(a):
        await say(a, "u1", "hello", metadata={"locale": "en-GB"})
        assert (await a.tracker_state("u1"))["slots"]["session_started_metadata"] == {"locale": "en-GB"}
        await say(a, "u1", '/track_order{"order_id": "ORD-11111"}')
        clock.advance(59)  # the domain's sessions last 60 minutes
        assert await texts(a, "u1", "hi") == [GREET]
        assert sum(e["event"] == "session_started" for e in await events(a, "u1")) == 1
        clock.advance(61)
        assert await texts(a, "u1", "hi") == [WELCOME]  # a new session: the start rule again
        all_events = await events(a, "u1")
        assert sum(e["event"] == "session_started" for e in all_events) == 2
        session = await events(a, "u1", "session")
        assert kinds(session)[:2] == ["action:action_session_start", "session_started"]
        assert "slot:order_id=ORD-11111" in kinds(session)  # carried over
        assert all(e["timestamp"] >= clock.now - 1 for e in session)

    run(tmp_path, scenario, url=server.url, clock=clock)


def test_default_fallback_reverts_the_message(tmp_path, server):
    async def scenario(a):
        await say(a, "u1", "hello")
        assert await texts(a, "u1", "/affirm") == [DEFAULT]  # no rule or story for it here
        evts = await events(a, "u1")
        assert kinds(evts)[-5:] == ["user:affirm", "action:action_default_fallback", "bot", "rewind", "action:action_listen"]
        state = await a.tracker_state("u1", "applied")
        assert "user:affirm" not in kinds(state["events"])

    run(tmp_path, scenario, url=server.url)


def test_back_reverts_two_messages(tmp_path, server):
    async def scenario(a):
        await say(a, "u1", "hello")
        await say(a, "u1", "hi")
        await say(a, "u1", "/back")
        applied = kinds((await a.tracker_state("u1", "applied"))["events"])
        assert applied.count("user:greet") == 1 and "user:back" not in applied

    run(tmp_path, scenario, url=server.url)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [("/check_stock", "not_found"), ("/gift_card_balance", "failed"), ("/loyalty_points", "invalid_response")],
)
def test_action_server_failures(tmp_path, server, caplog, payload, reason):
    async def scenario(a):
        with caplog.at_level(logging.ERROR, logger="dialogue.engine"):
            assert await texts(a, "u1", payload) == [ACTION_FAILURE_TEXT]
        assert reason in caplog.text
        evts = await events(a, "u1")
        failure = [e for e in evts if e["event"] == "bot"][-1]
        assert failure["metadata"][FAILURE_METADATA_KEY]["reason"] == reason
        assert kinds(evts)[-1] == "action:action_listen"
        assert not any(e["event"] == "slot" for e in evts)  # nothing of a bad reply is stored
        assert not (await a.tracker_state("u1"))["paused"]

    run(tmp_path, scenario, url=server.url)


def test_action_server_timeout(tmp_path, server):
    async def scenario(a):
        assert await texts(a, "u1", "/delivery_estimate") == [ACTION_FAILURE_TEXT]
        failure = [e for e in await events(a, "u1") if e["event"] == "bot"][-1]
        assert failure["metadata"][FAILURE_METADATA_KEY] == {"action": "action_delivery_estimate", "reason": "timeout"}

    run(tmp_path, scenario, url=server.url, timeout=1.0)


def test_action_server_unreachable(tmp_path):
    async def scenario(a):
        assert await texts(a, "u1", "/check_stock") == [ACTION_FAILURE_TEXT]
        failure = [e for e in await events(a, "u1") if e["event"] == "bot"][-1]
        assert failure["metadata"][FAILURE_METADATA_KEY]["reason"] == "unreachable"

    run(tmp_path, scenario, url=f"http://127.0.0.1:{free_port()}/webhook")


def test_one_transaction_per_turn(tmp_path, server):
    async def scenario(a):
        store = a.tracker_store.store
        appended = []
        original = store.append

        def spy(sender_id, new_events, expected_count=None):
            appended.append((expected_count, [e["event"] for e in new_events]))
            return original(sender_id, new_events, expected_count)

        store.append = spy
        await say(a, "u1", "hello")
        await say(a, "u1", "where is my order")
        await say(a, "u1", "ORD-12345")
        assert len(appended) == 3
        sizes = [len(turn) for _, turn in appended]
        assert [count for count, _ in appended] == [0, sizes[0], sizes[0] + sizes[1]]
        for _, turn in appended:
            assert "user" in turn and turn[-1] == "action"
        # what was appended is what is stored, in order
        stored = [e["event"] for e in await events(a, "u1")]
        assert stored == [kind for _, turn in appended for kind in turn]

    run(tmp_path, scenario, url=server.url)


def test_concurrent_messages_for_one_sender_do_not_interleave(tmp_path, server):
    async def scenario(a):
        await say(a, "u1", "hello")
        results = await asyncio.gather(
            a.handle_message(UserMessage("where is my order", "u1")),
            a.handle_message(UserMessage("ORD-12345", "u1")),
            a.handle_message(UserMessage("hi", "u2")),
        )
        assert [m["text"] for m in results[2]] == [WELCOME]
        flat = kinds(await events(a, "u1"))
        turns, current = [], []
        for item in flat[flat.index("user:greet") + 1 :]:
            current.append(item)
            if item == "action:action_listen":
                turns.append(current)
                current = []
        assert [t[0] for t in turns[1:]] == ["user:track_order", "user:inform"]
        assert all(t.count("action:action_listen") == 1 for t in turns)
        assert results[1][0]["text"] == "Order ORD-12345 has shipped and arrives in 2 days."

    run(tmp_path, scenario, url=server.url)


def test_add_message_and_tracker_state(tmp_path, server):
    async def scenario(a):
        assert await a.tracker_state("nobody") is None
        state = await a.add_message("u1", "where is my order ORD-12345")
        assert kinds(state["events"]) == [
            "action:action_session_start",
            "session_started",
            "action:action_listen",
            "user:track_order",
            "slot:order_id=ORD-12345",
        ]
        assert state["slots"]["order_id"] == "ORD-12345"
        with pytest.raises(ValueError):
            await a.add_message("u1", "hi", sender="bot")
        state = await a.add_message("u1", "hi", parse_data={"intent": {"name": "greet", "confidence": 0.9}, "entities": []})
        assert state["latest_message"]["intent"]["name"] == "greet"
        assert (await a.tracker_state("u1", "none"))["events"] is None
        with pytest.raises(ValueError):
            await a.tracker_state("u1", "everything")

    run(tmp_path, scenario, url=server.url)


def _inline_assistant(tmp_path, rules_yaml: str, responses: dict) -> Assistant:
    domain = Domain(
        {
            "version": "3.1",
            "intents": ["greet", "logo"],
            "responses": {name: [variation] for name, variation in responses.items()},
        }
    )
    path = tmp_path / "rules.yml"
    path.write_text('version: "3.1"\n' + textwrap.dedent(rules_yaml))
    policies = PolicyEnsemble.from_config(domain, read_story_file(path), None)
    return Assistant(domain, policies=policies)


def test_rest_messages_and_the_action_limit(tmp_path):
    assistant = _inline_assistant(
        tmp_path,
        """
        rules:
        - rule: logo
          steps:
          - intent: logo
          - action: utter_logo
        - rule: a then b
          wait_for_user_input: false
          steps:
          - intent: greet
          - action: utter_a
        - rule: b after a
          wait_for_user_input: false
          steps:
          - action: utter_a
          - action: utter_b
        - rule: a after b
          wait_for_user_input: false
          steps:
          - action: utter_b
          - action: utter_a
        """,
        {
            "utter_logo": {"text": "Our logo:\n\nenjoy", "image": "https://example.com/logo.png"},
            "utter_a": {"text": "a"},
            "utter_b": {"text": "b"},
        },
    )

    async def scenario():
        try:
            assert await say(assistant, "u1", "/logo") == [
                {"recipient_id": "u1", "text": "Our logo:"},
                {"recipient_id": "u1", "text": "enjoy"},
                {"recipient_id": "u1", "image": "https://example.com/logo.png"},
            ]
            # rules that never wait for the user are cut off after ten actions
            out = await texts(assistant, "u2", "/greet")
            assert out == ["a", "b"] * 5 + ["Sorry, I didn't get that. Could you rephrase?"]
            evts = await events(assistant, "u2")
            assert kinds(evts)[-3:] == ["bot", "rewind", "action:action_listen"]
        finally:
            await assistant.aclose()

    asyncio.run(scenario())


def test_load_assistant_trains_a_model_and_reads_endpoints(tmp_path, monkeypatch):
    import shutil

    from dialogue.project import load_endpoints
    from dialogue.stores.handoff import SQLHandoffStore
    from test_engine_support import PROJECT

    project = tmp_path / "shop"
    shutil.copytree(PROJECT, project, ignore=shutil.ignore_patterns("__pycache__", "models", "*.db"))
    (project / "endpoints.yml").write_text(
        "action_endpoint:\n  url: ${SHOP_ACTIONS_URL}\n  timeout: 3\n"
        "tracker_store:\n  type: sql\n  db: conversations.db\n"
        "lock_store:\n  type: redis\n"
    )
    monkeypatch.setenv("SHOP_ACTIONS_URL", "http://127.0.0.1:1/webhook")
    assert load_endpoints(project / "endpoints.yml")["action_endpoint"]["url"] == "http://127.0.0.1:1/webhook"

    async def scenario():
        assistant = load_assistant(project)
        try:
            assert list((project / "models").glob("nlu-*.tar.gz"))  # trained on first load
            assert assistant.action_client.url == "http://127.0.0.1:1/webhook"
            assert isinstance(assistant.handoff_store, SQLHandoffStore)
            assert assistant.parse("where is my order")["intent"]["name"] == "track_order"
            assert await texts(assistant, "u1", "hello") == [WELCOME]
        finally:
            await assistant.aclose()
        assert (project / "conversations.db").exists()  # relative to the project

    asyncio.run(scenario())
    monkeypatch.delenv("SHOP_ACTIONS_URL")
    with pytest.raises(ValueError, match="SHOP_ACTIONS_URL"):
        load_endpoints(project / "endpoints.yml")
