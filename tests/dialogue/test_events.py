"""Events are Rasa 3.6's wire dicts: same keys, same key order, same values."""

import json
import math
import re
import time
from datetime import datetime
from pathlib import Path

import pytest
from rasa_sdk import events as sdk

from dialogue import events as ev

WIRE = Path(__file__).resolve().parents[3] / "shared" / "docs" / "wire"


@pytest.fixture(scope="module")
def request_sample() -> dict:
    return json.loads((WIRE / "action_server_request.json").read_text())


@pytest.fixture(scope="module")
def response_sample() -> dict:
    return json.loads((WIRE / "action_server_response.json").read_text())


def rebuild(sample: dict) -> dict:
    """Build the sample event with our constructors from its values."""
    kind = sample["event"]
    ts = sample["timestamp"]
    if kind == "action":
        built = ev.action_executed(
            sample["name"], sample["policy"], sample["confidence"], sample["action_text"], sample["hide_rule_turn"], ts
        )
    elif kind == "session_started":
        built = ev.session_started(ts)
    elif kind == "user":
        # the NLU result as /model/parse returns it
        pd = sample["parse_data"]
        nlu = {
            "text": pd["text"],
            "intent": pd["intent"],
            "entities": pd["entities"],
            "text_tokens": pd["text_tokens"],
            "intent_ranking": pd["intent_ranking"],
            "response_selector": pd["response_selector"],
        }
        built = ev.user_uttered(sample["text"], nlu, sample["input_channel"], sample["message_id"], {}, ts)
    elif kind == "user_featurization":
        built = ev.user_featurization(sample["use_text_for_featurization"], ts)
    else:  # pragma: no cover - the sample holds only the kinds above
        raise AssertionError(kind)
    if "metadata" in sample:
        # Rasa stamps the model ids on events after building them
        built = ev.add_metadata(built, sample["metadata"])
    return built


def test_every_sample_event_is_rebuilt_byte_for_byte(request_sample):
    sample_events = request_sample["tracker"]["events"]
    kinds = {e["event"] for e in sample_events}
    assert kinds == {"action", "session_started", "user", "user_featurization"}
    for sample in sample_events:
        built = rebuild(sample)
        assert list(built) == list(sample), sample["event"]
        assert json.dumps(built) == json.dumps(sample)


def test_user_parse_data_keeps_rasa_key_order(request_sample):
    user = next(e for e in request_sample["tracker"]["events"] if e["event"] == "user")
    assert list(rebuild(user)["parse_data"]) == list(user["parse_data"])


def test_rasa_sdk_slot_event_from_the_response_sample(response_sample):
    (returned,) = response_sample["events"]
    event = ev.validate_event(returned, now=1234.5)
    assert event == {"event": "slot", "timestamp": 1234.5, "name": "greeted", "value": True}
    assert list(event) == list(ev.slot_set("greeted", True))


# Key orders of Rasa's ``Event.as_dict`` for the events the sample doesn't show.
EXPECTED_KEYS = [
    (ev.slot_set("s", 1), ["event", "timestamp", "name", "value"]),
    (ev.active_loop("form"), ["event", "timestamp", "name"]),
    (ev.active_loop(None), ["event", "timestamp", "name"]),
    (ev.restarted(), ["event", "timestamp"]),
    (ev.followup("utter_x"), ["event", "timestamp", "name"]),
    (ev.conversation_paused(), ["event", "timestamp"]),
    (ev.conversation_resumed(), ["event", "timestamp"]),
    (ev.user_utterance_reverted(), ["event", "timestamp"]),
    (ev.action_reverted(), ["event", "timestamp"]),
    (ev.all_slots_reset(), ["event", "timestamp"]),
    (ev.action_execution_rejected("form"), ["event", "timestamp", "name", "policy", "confidence"]),
    (ev.entities_added([{"entity": "x", "value": 1}]), ["event", "timestamp", "entities"]),
    (ev.loop_interrupted(True), ["event", "timestamp", "is_interrupted"]),
    (ev.bot_uttered("hi"), ["event", "timestamp", "text", "data", "metadata"]),
    (ev.bot_uttered("hi", metadata={"utter_action": "utter_hi"}), ["event", "timestamp", "metadata", "text", "data"]),
    (ev.user_uttered("hi"), ["event", "timestamp", "text", "parse_data", "input_channel", "message_id", "metadata"]),
    (
        ev.action_executed("a", metadata={"m": 1}),
        ["event", "timestamp", "metadata", "name", "policy", "confidence", "action_text", "hide_rule_turn"],
    ),
    (ev.slot_set("s", 1, metadata={"m": 1}), ["event", "timestamp", "metadata", "name", "value"]),
]


@pytest.mark.parametrize("event,keys", EXPECTED_KEYS, ids=[e["event"] for e, _ in EXPECTED_KEYS])
def test_constructor_key_order(event, keys):
    assert list(event) == keys
    assert isinstance(event["timestamp"], float)
    assert ev.canonical(event) == event and list(ev.canonical(event)) == keys
    assert ev.validate_event(event) == event


def test_bot_data_has_rasas_six_keys():
    event = ev.bot_uttered("hi", {"buttons": [{"title": "a", "payload": "/a"}], "extra": 1})
    assert list(event["data"]) == ["elements", "quick_replies", "buttons", "attachment", "image", "custom", "extra"]
    assert event["data"]["buttons"] == [{"title": "a", "payload": "/a"}]
    assert event["metadata"] == {}


def test_bot_uttered_from_response_mirrors_rasa():
    event = ev.bot_uttered_from_response(
        {"text": "see", "image": "https://x/y.png", "template_name": "utter_see", "utter_action": "utter_see"}
    )
    assert list(event) == ["event", "timestamp", "metadata", "text", "data"]
    assert event["data"] == {
        "elements": None,
        "quick_replies": None,
        "buttons": None,
        "attachment": "https://x/y.png",
        "image": "https://x/y.png",
        "custom": None,
    }
    assert event["metadata"] == {"template_name": "utter_see", "utter_action": "utter_see"}


def test_user_uttered_defaults():
    event = ev.user_uttered("hello", timestamp=5.0)
    assert event == {
        "event": "user",
        "timestamp": 5.0,
        "text": "hello",
        "parse_data": {"intent": {}, "entities": [], "text": "hello", "message_id": None, "metadata": {}},
        "input_channel": None,
        "message_id": None,
        "metadata": {},
    }


def test_add_metadata_moves_metadata_after_timestamp_and_keeps_parse_data():
    user = ev.user_uttered("hi", {"intent": {"name": "greet", "confidence": 1.0}}, "rest", "m1")
    stamped = ev.add_metadata(user, {"model_id": "m", "assistant_id": "a"})
    assert list(stamped) == ["event", "timestamp", "metadata", "text", "parse_data", "input_channel", "message_id"]
    assert stamped["metadata"] == {"model_id": "m", "assistant_id": "a"}
    assert stamped["parse_data"]["metadata"] == {}
    assert "metadata" not in ev.restarted() and list(ev.add_metadata(ev.restarted(), {"k": 1}))[2] == "metadata"
    # existing keys win and the input is not modified
    again = ev.add_metadata(stamped, {"model_id": "other", "x": 1})
    assert again["metadata"] == {"model_id": "m", "assistant_id": "a", "x": 1}
    assert stamped["metadata"] == {"model_id": "m", "assistant_id": "a"}
    assert user["metadata"] == {}


def test_timestamps_default_to_now_and_keep_given_values():
    assert ev.restarted(12.5)["timestamp"] == 12.5
    assert abs(ev.restarted()["timestamp"] - time.time()) < 5


def test_action_without_name_or_text_is_refused():
    with pytest.raises(ValueError):
        ev.action_executed(None)
    assert ev.action_executed(None, action_text="Hi there")["action_text"] == "Hi there"


# --------------------------------------------------------------------------- validation

SDK_EVENTS = [
    sdk.SlotSet("a", [1, 2]),
    sdk.Restarted(),
    sdk.SessionStarted(),
    sdk.UserUtteranceReverted(),
    sdk.AllSlotsReset(),
    sdk.ReminderScheduled("EXTERNAL_x", datetime(2030, 1, 1, 12), name="r1"),
    sdk.ReminderCancelled(name="r1"),
    sdk.ActionReverted(),
    sdk.StoryExported(),
    sdk.FollowupAction("utter_x"),
    sdk.ConversationPaused(),
    sdk.ConversationResumed(),
    sdk.ActionExecuted("action_x", policy="p", confidence=0.5),
    sdk.AgentUttered("hi", {"x": 1}),
    sdk.ActiveLoop("form"),
    sdk.ActiveLoop(None),
    sdk.LoopInterrupted(True),
    sdk.ActionExecutionRejected("form"),
    sdk.BotUttered("hello", {"buttons": []}, {"k": "v"}),
    sdk.UserUttered("hi", {"intent": {"name": "greet", "confidence": 1.0}, "entities": []}, input_channel="rest"),
]


@pytest.mark.parametrize("event", SDK_EVENTS, ids=[e["event"] for e in SDK_EVENTS])
def test_rasa_sdk_events_are_accepted_and_canonicalised(event):
    out = ev.validate_event(event, now=99.0)
    assert out["event"] == event["event"]
    assert out["timestamp"] == 99.0
    assert list(out)[:2] == ["event", "timestamp"]
    fields = [k for k in out if k not in ("event", "timestamp", "metadata")]
    assert fields == [k for k in ev.EVENT_FIELDS[out["event"]] if k != "metadata"]
    assert out is not event
    json.dumps(out, allow_nan=False)
    # validating twice changes nothing
    assert ev.validate_event(out) == out


def test_canonical_forms_of_rasa_sdk_events():
    action = ev.validate_event(sdk.ActionExecuted("action_x", policy="p", confidence=0.5), now=1.0)
    assert list(action) == ["event", "timestamp", "name", "policy", "confidence", "action_text", "hide_rule_turn"]
    assert action["hide_rule_turn"] is False
    user = ev.validate_event(sdk.UserUttered("hi", None, input_channel="rest"), now=1.0)
    assert user["parse_data"] == {"intent": {}, "entities": [], "text": "hi", "message_id": None, "metadata": {}}
    assert list(user) == ["event", "timestamp", "text", "parse_data", "input_channel", "message_id", "metadata"]
    bot = ev.validate_event(sdk.BotUttered("hello", None, {"k": "v"}), now=1.0)
    assert list(bot) == ["event", "timestamp", "metadata", "text", "data"] and bot["data"] == {}
    reminder = ev.validate_event(sdk.ReminderScheduled("EXTERNAL_x", datetime(2030, 1, 1)), now=1.0)
    assert list(reminder) == ["event", "timestamp", "intent", "date_time", "entities", "name", "kill_on_user_msg"]
    assert reminder["name"] and reminder["kill_on_user_msg"] is True
    # Rasa serialises only the base keys of these two
    assert ev.validate_event(sdk.ReminderCancelled(name="r1"), now=1.0) == {"event": "cancel_reminder", "timestamp": 1.0}
    assert ev.validate_event(sdk.StoryExported(), now=1.0) == {"event": "export", "timestamp": 1.0}


def test_legacy_form_events_are_converted():
    assert ev.validate_event({"event": "form", "name": "f"}, now=1.0) == {"event": "active_loop", "timestamp": 1.0, "name": "f"}
    assert ev.validate_event({"event": "form_validation", "validate": False}, now=1.0) == {
        "event": "loop_interrupted",
        "timestamp": 1.0,
        "is_interrupted": True,
    }


def test_given_timestamp_and_metadata_are_kept():
    out = ev.validate_event({"event": "slot", "name": "a", "value": 1, "timestamp": 7.0, "metadata": {"m": 1}, "junk": 2})
    assert out == {"event": "slot", "timestamp": 7.0, "metadata": {"m": 1}, "name": "a", "value": 1}


class Unserialisable:
    pass


BAD_EVENTS = [
    ("an event must be an object, got list", ["slot"]),
    ("an 'event' name", {"name": "a"}),
    ("unknown event name 'session_ended'", {"event": "session_ended"}),
    ("unknown event name 'stack'", {"event": "stack", "update": "[]"}),
    ("unknown event name 'made_up'", {"event": "made_up"}),
    ("'name' must be a non-empty string", {"event": "slot", "value": 1}),
    ("'name' must be a non-empty string", {"event": "followup"}),
    ("'name' must be a non-empty string", {"event": "action_execution_rejected", "name": 3}),
    ("needs a 'name'", {"event": "action", "policy": "p"}),
    ("'confidence' must be a number", {"event": "action", "name": "a", "confidence": "high"}),
    ("'hide_rule_turn' must be a boolean", {"event": "action", "name": "a", "hide_rule_turn": "no"}),
    ("'timestamp' must be a number", {"event": "restart", "timestamp": "yesterday"}),
    ("'timestamp' must be a number", {"event": "restart", "timestamp": True}),
    ("'metadata' must be an object", {"event": "restart", "metadata": ["x"]}),
    ("'text' must be a string", {"event": "user", "text": 5}),
    ("'parse_data' must be an object", {"event": "user", "text": "hi", "parse_data": "greet"}),
    ("'parse_data.intent' must be an object", {"event": "user", "text": "hi", "parse_data": {"intent": "greet"}}),
    ("'parse_data.entities' must be a list", {"event": "user", "text": "hi", "parse_data": {"entities": {}}}),
    ("'data' must be an object", {"event": "bot", "text": "hi", "data": [1]}),
    ("'entities' must be a list of objects", {"event": "entities", "entities": "city"}),
    ("'entities' must be a list of objects", {"event": "entities"}),
    ("'is_interrupted' must be a boolean", {"event": "loop_interrupted", "is_interrupted": "yes"}),
    ("'name' must be a string or null", {"event": "active_loop", "name": 1}),
    ("'date_time' must be an ISO 8601", {"event": "reminder", "intent": "x", "date_time": "tomorrow"}),
    ("cannot be stored as JSON", {"event": "slot", "name": "a", "value": Unserialisable()}),
    ("cannot be stored as JSON", {"event": "slot", "name": "a", "value": math.nan}),
]


@pytest.mark.parametrize("message,event", BAD_EVENTS, ids=[m for m, _ in BAD_EVENTS])
def test_malformed_events_are_refused_with_a_clear_message(message, event):
    with pytest.raises(ValueError, match=re.escape(message)):
        ev.validate_event(event)


def test_validate_events_names_the_position():
    assert len(ev.validate_events([sdk.SlotSet("a", 1), sdk.Restarted()])) == 2
    with pytest.raises(ValueError, match=r"event 1: unknown event name 'nope'"):
        ev.validate_events([sdk.SlotSet("a", 1), {"event": "nope"}])
    with pytest.raises(ValueError, match="events must be a list"):
        ev.validate_events({"event": "restart"})
