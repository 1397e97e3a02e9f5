"""Escalation to a person: every trigger, the handoff record, silence while paused, resuming."""

from __future__ import annotations

import sqlite3

import pytest

from dialogue import events as ev
from dialogue.actions import ACTION_FAILURE_TEXT
from dialogue.handoff import (
    HANDOFF_TEXT,
    Escalation,
    EscalationConfig,
    SentimentAnalyzer,
    lexicon_score,
)
from dialogue.stores.handoff import InMemoryHandoffStore, SQLHandoffStore
from dialogue.tracker import DialogueStateTracker
from test_engine_support import DEFAULT, GREET, WELCOME, action_server, events, kinds, run, say, texts


@pytest.fixture(scope="module")
def server():
    return action_server()


async def handed_off(a, sender_id: str, text: str) -> dict:
    """Send ``text``, expect the handoff message, return the stored record."""
    assert await texts(a, sender_id, text) == [HANDOFF_TEXT]
    state = await a.tracker_state(sender_id)
    assert state["paused"] is True
    assert kinds(state["events"])[-3:] == ["action:action_human_handoff", "bot", "pause"]
    record = a.handoff_store.get(sender_id)
    assert record is not None and record["status"] == "pending"
    return record


def test_human_request_record_silence_and_resume(tmp_path, server):
    async def scenario(a):
        await say(a, "u1", "hello")
        await say(a, "u1", "where is my order ORD-12345")
        record = await handed_off(a, "u1", "I want to talk to a human")
        assert record["reason"] == "human_request"
        assert record["intent"]["name"] == "contact_human_agent"
        assert 0.5 < record["intent"]["confidence"] <= 1.0
        assert record["slots"] == {"order_id": "ORD-12345"}
        assert record["last_user_message"] == "I want to talk to a human"
        assert record["summary"].splitlines() == [
            "user: hello",
            f"bot: {WELCOME}",
            "user: where is my order ORD-12345",
            "bot: Order ORD-12345 has shipped and arrives in 2 days.",
            "user: I want to talk to a human",
        ]
        assert {"action": "action_track_order", "outcome": "success"} in record["actions"]
        assert isinstance(record["sentiment"], float) and isinstance(record["created_at"], float)
        assert a.handoff_store.pending()[0]["sender_id"] == "u1"

        # while a person handles it, the assistant stays silent but keeps the messages
        assert await say(a, "u1", "hello?") == []
        assert await say(a, "u1", "anyone there?") == []
        after_pause = kinds(await events(a, "u1"))
        after_pause = after_pause[after_pause.index("pause") + 1 :]
        assert [item[:5] for item in after_pause] == ["user:", "user:"]

        assert await a.resume("u2") is False  # unknown conversation
        assert await a.resume("u1", agent="alice") is True
        assert await a.resume("u1") is False  # not paused any more
        assert kinds(await events(a, "u1"))[-2:] == ["resume", "action:action_listen"]
        resolved = a.handoff_store.get("u1")
        assert (resolved["status"], resolved["resolved_by"]) == ("resolved", "alice")
        assert a.handoff_store.pending() == []
        assert await texts(a, "u1", "hi") == [GREET]

    run(tmp_path, scenario, url=server.url)
    # the record lives in the tracker store's database
    with sqlite3.connect(tmp_path / "tracker.db") as db:
        rows = db.execute("SELECT sender_id, reason, status, resolved_by FROM handoffs").fetchall()
    assert rows == [("u1", "human_request", "resolved", "alice")]


def test_two_corrections_in_a_row(tmp_path, server):
    async def scenario(a):
        await say(a, "u1", "hello")
        assert await texts(a, "u1", "no") == [DEFAULT]
        record = await handed_off(a, "u1", "no, that is wrong")
        assert record["reason"] == "repeated_corrections"
        # a correction that does not follow a bot message does not count
        await say(a, "u2", "hello")
        await say(a, "u2", "no")
        assert await texts(a, "u2", "hi") == [GREET]
        assert await texts(a, "u2", "no") == [DEFAULT]

    run(tmp_path, scenario, url=server.url)


def test_high_risk_keywords_are_whole_words(tmp_path, server):
    async def scenario(a):
        assert await texts(a, "u1", "where is my order ORD-12345, this is an issue") == [
            "Order ORD-12345 has shipped and arrives in 2 days."
        ]
        record = await handed_off(a, "u1", "This is FRAUD, someone ordered with my card")
        assert (record["reason"], record["detail"]) == ("high_risk_keyword", "fraud")

    run(tmp_path, scenario, url=server.url)


def test_frustration(tmp_path, server):
    async def scenario(a):
        # two of the last three messages at or below -0.6
        assert await texts(a, "u1", "this is useless, you are terrible") != [HANDOFF_TEXT]
        await say(a, "u1", "hi")
        record = await handed_off(a, "u1", "the worst service ever, absolutely awful")
        assert record["reason"] == "frustration"
        assert record["sentiment"] <= -0.6
        # one message at or below -0.85 is enough
        record = await handed_off(a, "u2", "This is absolutely terrible, the worst service, I hate it!")
        assert record["reason"] == "frustration" and record["sentiment"] <= -0.85

    run(tmp_path, scenario, url=server.url)


def test_refused_intent_wins_over_the_rule(tmp_path, server):
    async def scenario(a):
        record = await handed_off(a, "u1", "delete my account")
        assert (record["reason"], record["detail"]) == ("refused_intent", "delete_account")

    run(tmp_path, scenario, url=server.url)


def test_clarification_then_handoff(tmp_path, server):
    async def scenario(a):
        out = await say(a, "u1", "purple monkey dishwasher")
        assert len(out) == 1 and out[0]["text"].startswith("Sorry, I'm not sure I understood")
        buttons = out[0]["buttons"]
        assert len(buttons) == 2 and all(b["payload"].startswith("/") for b in buttons)
        titles = {b["payload"][1:]: b["title"] for b in buttons}
        for intent, title in titles.items():
            expected = {"track_order": "Track an order", "cancel_order": "Cancel an order"}
            assert title == expected.get(intent, intent.replace("_", " ").capitalize())
        # clicking a button is understood
        assert await texts(a, "u1", "/greet") == [GREET]

        await say(a, "u2", "hello")
        assert (await say(a, "u2", "purple monkey dishwasher"))[0]["buttons"]
        assert (await say(a, "u2", "asdf"))[0]["buttons"]
        record = await handed_off(a, "u2", "zebra quantum lamp")
        assert record["reason"] == "failed_clarifications"
        assert record["intent"]["name"] == "nlu_fallback"

    run(tmp_path, scenario, url=server.url)


def test_repeated_action_failures(tmp_path, server):
    async def scenario(a):
        assert await texts(a, "u1", "/check_stock") == [ACTION_FAILURE_TEXT]
        assert await texts(a, "u1", "/gift_card_balance") == [ACTION_FAILURE_TEXT, HANDOFF_TEXT]
        record = a.handoff_store.get("u1")
        assert (record["reason"], record["detail"]) == ("action_failures", "action_gift_card_balance")
        assert record["actions"] == [
            {"action": "action_check_stock", "outcome": "failure", "reason": "not_found"},
            {"action": "action_gift_card_balance", "outcome": "failure", "reason": "failed"},
        ]
        assert (await a.tracker_state("u1"))["paused"]

        # a success in between resets the count
        await say(a, "u2", "/check_stock")
        await say(a, "u2", "where is my order ORD-12345")
        assert await texts(a, "u2", "/check_stock") == [ACTION_FAILURE_TEXT]
        assert not (await a.tracker_state("u2"))["paused"]

    run(tmp_path, scenario, url=server.url)


def test_resumed_conversations_start_counting_again(tmp_path, server):
    async def scenario(a):
        await handed_off(a, "u1", "This is absolutely terrible, the worst service, I hate it!")
        await a.resume("u1", "bob")
        # the earlier frustration no longer counts
        assert await texts(a, "u1", "this is useless, you are terrible") != [HANDOFF_TEXT]

    run(tmp_path, scenario, url=server.url)


# ---------------------------------------------------------------------- units


def test_escalation_config():
    config = EscalationConfig.from_config(
        {"high_risk_keywords": ["chargeback"], "frustration": {"threshold": -0.5}, "max_action_failures": 3}
    )
    assert config.high_risk_keywords == ["chargeback"]
    assert config.frustration.threshold == -0.5 and config.frustration.severe_threshold == -0.85
    assert config.human_request_intents == ["contact_human_agent", "human_handoff"]
    for bad in ({"nope": 1}, {"max_action_failures": "two"}, {"frustration": {"threshold": -3}}, {"enabled": "yes"}):
        with pytest.raises(ValueError):
            EscalationConfig.from_config(bad)


def _tracker(*messages):
    tracker = DialogueStateTracker("u", {})
    for intent, text in messages:
        tracker.update(ev.action_executed("action_listen"))
        tracker.update(ev.user_uttered(text, {"intent": {"name": intent, "confidence": 1.0}}))
        tracker.update(ev.bot_uttered("ok"))
    return tracker


def test_human_request_left_to_a_project_rule():
    escalation = Escalation(rule_intents={"human_handoff"})
    assert escalation.check_message(_tracker(("human_handoff", "human please"))) is None
    assert escalation.check_message(_tracker(("contact_human_agent", "human please")))[0] == "human_request"
    assert Escalation(EscalationConfig(enabled=False)).check_message(_tracker(("contact_human_agent", "x"))) is None


def test_sentiment():
    analyzer = SentimentAnalyzer()
    assert analyzer.backend == "vader"
    assert analyzer.score("I hate this stupid bot") < -0.6
    assert analyzer.score("/greet") == 0.0
    assert lexicon_score("this is terrible and useless") < -0.6
    assert lexicon_score("not bad") > 0
    assert lexicon_score("thanks, great help") > 0.5
    assert lexicon_score("where is my order") == 0.0


@pytest.mark.parametrize("kind", ["memory", "sql"])
def test_handoff_stores(tmp_path, kind):
    store = InMemoryHandoffStore() if kind == "memory" else SQLHandoffStore(url=f"sqlite:///{tmp_path / 'h.db'}")
    try:
        first = store.record("a", {"reason": "human_request", "summary": "user: hi", "created_at": 1.0})
        store.record("b", {"reason": "frustration", "created_at": 2.0})
        assert first["status"] == "pending" and first["id"]
        assert [r["sender_id"] for r in store.pending()] == ["a", "b"]
        assert store.get("a")["summary"] == "user: hi"
        assert store.get("zzz") is None
        assert store.resolve("a", "carol") is True
        assert store.resolve("a", "carol") is False
        assert store.get("a")["resolved_by"] == "carol" and store.get("a")["status"] == "resolved"
        assert [r["sender_id"] for r in store.pending()] == ["b"]
    finally:
        store.close()
