"""Forms with a real action server: activation, validation, re-asking, interruptions, cancelling."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from dialogue.action_client import ActionServerClient
from dialogue.engine import Assistant, UserMessage
from dialogue.project import load_project
from test_engine_support import (
    ASK_ORDER_ID,
    INVALID_ORDER_ID,
    OPENING_HOURS,
    PROJECT,
    action_server,
    kinds,
    run,
    say,
    texts,
)

ASK_REASON = "Why would you like to cancel order ORD-11111?"


@pytest.fixture(scope="module")
def server():
    return action_server()


def test_happy_path_with_validation(tmp_path, server):
    async def scenario(a):
        assert await texts(a, "u1", "where is my order") == [ASK_ORDER_ID]
        state = await a.tracker_state("u1")
        assert state["active_loop"]["name"] == "track_order_form"
        assert state["slots"]["requested_slot"] == "order_id"
        # the action server's validation normalises the id
        assert await texts(a, "u1", "it is ord-12345") == ["Order ORD-12345 has shipped and arrives in 2 days."]
        state = await a.tracker_state("u1")
        assert state["active_loop"] == {}
        assert state["slots"]["order_id"] == "ORD-12345"
        assert state["slots"]["requested_slot"] is None
        assert kinds(state["events"])[-9:] == [
            "user:inform",
            "slot:order_id=ord-12345",
            "action:track_order_form",
            "slot:order_id=ORD-12345",
            "slot:requested_slot=None",
            "loop:None",
            "action:action_track_order",
            "bot",
            "action:action_listen",
        ]

    run(tmp_path, scenario, url=server.url)


def test_slots_filled_before_activation_are_validated(tmp_path, server):
    async def scenario(a):
        assert await texts(a, "u1", "where is my order ORD-55555") == [
            "Order ORD-55555 has shipped and arrives in 2 days."
        ]
        assert await texts(a, "u2", "where is my order ORD-5") == [INVALID_ORDER_ID, ASK_ORDER_ID]
        state = await a.tracker_state("u2")
        assert state["slots"]["order_id"] is None and state["slots"]["requested_slot"] == "order_id"

    run(tmp_path, scenario, url=server.url)


def test_rejected_value_is_asked_again(tmp_path, server):
    async def scenario(a):
        await say(a, "u1", "where is my order")
        assert await texts(a, "u1", "ORD-12") == [INVALID_ORDER_ID, ASK_ORDER_ID]
        state = await a.tracker_state("u1")
        assert state["slots"]["order_id"] is None
        assert state["active_loop"]["name"] == "track_order_form"
        assert await texts(a, "u1", "ORD-12345") == ["Order ORD-12345 has shipped and arrives in 2 days."]

    run(tmp_path, scenario, url=server.url)


def test_validation_gets_the_candidates_appended(tmp_path, server):
    async def scenario(a):
        sent = []
        original = a.action_client.run

        async def recording(name, sender_id, tracker):
            sent.append((name, tracker))
            return await original(name, sender_id, tracker)

        a.action_client.run = recording
        await say(a, "u1", "where is my order")
        await say(a, "u1", "ORD-12345")
        name, tracker = [item for item in sent if item[0] == "validate_track_order_form"][-1]
        tail = tracker["events"][-3:]
        assert [(e["event"], e.get("name"), e.get("value")) for e in tail] == [
            ("slot", "requested_slot", "order_id"),
            ("action", "track_order_form", None),
            ("slot", "order_id", "ORD-12345"),
        ]
        assert tracker["slots"]["order_id"] == "ORD-12345"
        assert tracker["events"][0]["name"] == "action_session_start"  # the current session only

    run(tmp_path, scenario, url=server.url)


def test_interruption_is_answered_and_the_slot_asked_again(tmp_path, server):
    async def scenario(a):
        assert await texts(a, "u1", "cancel order ORD-11111") == [ASK_REASON]
        assert await texts(a, "u1", "what are your opening hours?") == [OPENING_HOURS, ASK_REASON]
        state = await a.tracker_state("u1")
        assert state["slots"]["order_id"] == "ORD-11111"  # collected slots are kept
        assert state["slots"]["cancel_reason"] is None
        assert state["slots"]["requested_slot"] == "cancel_reason"
        assert state["active_loop"]["name"] == "cancel_order_form"
        flat = kinds(state["events"])
        assert flat[flat.index("user:ask_opening_hours") :] == [
            "user:ask_opening_hours",
            "rejected:cancel_order_form",
            "action:utter_opening_hours",
            "bot",
            "action:cancel_order_form",
            "slot:requested_slot=cancel_reason",
            "bot",
            "action:action_listen",
        ]
        assert await texts(a, "u1", "the price was too high") == [
            "Order ORD-11111 is cancelled (reason: the price was too high)."
        ]
        assert (await a.tracker_state("u1"))["active_loop"] == {}

    run(tmp_path, scenario, url=server.url)


def test_form_is_cancelled_by_a_rule(tmp_path, server):
    async def scenario(a):
        assert await texts(a, "u1", "cancel order ORD-11111") == [ASK_REASON]
        # `stop` is one of the form's ignored_intents: it does not become the reason
        assert await texts(a, "u1", "stop") == ["Okay, I won't cancel anything."]
        state = await a.tracker_state("u1")
        assert state["active_loop"] == {}
        assert state["slots"]["requested_slot"] is None
        assert state["slots"]["cancel_reason"] is None
        assert kinds(state["events"])[-8:] == [
            "user:stop",
            "rejected:cancel_order_form",
            "action:action_deactivate_loop",
            "loop:None",
            "slot:requested_slot=None",
            "action:utter_cancel_stopped",
            "bot",
            "action:action_listen",
        ]

    run(tmp_path, scenario, url=server.url)


def test_second_slot_form_collects_both(tmp_path, server):
    async def scenario(a):
        assert await texts(a, "u1", "I want to cancel my order") == [ASK_ORDER_ID]
        assert await texts(a, "u1", "ORD-11111") == [ASK_REASON]
        assert await texts(a, "u1", "/inform") == ["Order ORD-11111 is cancelled (reason: /inform)."]
        assert (await a.tracker_state("u1"))["slots"]["cancel_reason"] is None  # reset by the action

    run(tmp_path, scenario, url=server.url)


def _mock_assistant(handler) -> Assistant:
    project = load_project(PROJECT, endpoints={})
    domain = project.domain
    client = ActionServerClient(
        "http://actions.test/webhook", domain.as_dict(), domain.fingerprint(), transport=httpx.MockTransport(handler)
    )
    return Assistant(domain, policies=project.policies(), action_client=client, escalation=project.escalation())


def test_validation_rejected_by_the_server_asks_again():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        calls.append(body["next_action"])
        if body["next_action"] == "validate_track_order_form":
            return httpx.Response(400, json={"error": "rejected", "action_name": body["next_action"]})
        return httpx.Response(200, json={"events": [], "responses": [{"text": "done"}]})

    async def scenario():
        a = _mock_assistant(handler)
        try:
            assert [m["text"] for m in await a.handle_message(UserMessage("/track_order", "u1"))] == [ASK_ORDER_ID]
            out = await a.handle_message(UserMessage('/inform{"order_id": "ORD-12345"}', "u1"))
            assert [m["text"] for m in out] == [ASK_ORDER_ID]
            state = await a.tracker_state("u1")
            assert state["slots"]["order_id"] is None
            assert state["active_loop"]["name"] == "track_order_form"
        finally:
            await a.aclose()

    asyncio.run(scenario())
    assert "validate_track_order_form" in calls


def test_form_without_action_server_validation():
    """A form whose domain has no validate action takes the extracted values as they are."""

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body["next_action"].startswith("validate_"):
            return httpx.Response(404, json={"error": "no such action"})
        order = body["tracker"]["slots"]["order_id"]
        return httpx.Response(200, json={"events": [], "responses": [{"text": f"status of {order}"}]})

    async def scenario():
        project = load_project(PROJECT, endpoints={})
        data = project.domain.as_dict()
        data["actions"] = [a for a in data["actions"] if not a.startswith("validate_")]
        from dialogue.domain import Domain

        domain = Domain(data)
        client = ActionServerClient("http://x/webhook", data, domain.fingerprint(), transport=httpx.MockTransport(handler))
        from dialogue.policies import PolicyEnsemble

        a = Assistant(domain, policies=PolicyEnsemble.from_config(domain, project.story_data, None), action_client=client)
        try:
            await a.handle_message(UserMessage("/track_order", "u1"))
            out = await a.handle_message(UserMessage('/inform{"order_id": "anything"}', "u1"))
            assert [m["text"] for m in out] == ["status of anything"]
        finally:
            await a.aclose()

    asyncio.run(scenario())
