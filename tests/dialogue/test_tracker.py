"""The tracker applies events exactly as Rasa 3.6 does, in O(1) amortised per event."""

import json
import random
from pathlib import Path

import pytest
from rasa_sdk.interfaces import Tracker as SdkTracker

from dialogue import events as ev
from dialogue.tracker import DialogueStateTracker, applied_events

WIRE = Path(__file__).resolve().parents[3] / "shared" / "docs" / "wire"
SLOTS = {"city": None, "count": 0, "tags": []}

EMPTY_MESSAGE = {"intent": {}, "entities": [], "text": None, "message_id": None, "metadata": {}}


@pytest.fixture(scope="module")
def sample_tracker() -> dict:
    return json.loads((WIRE / "action_server_request.json").read_text())["tracker"]


def user(text, intent="greet", entities=(), channel="rest", ts=None):
    parse = {"intent": {"name": intent, "confidence": 0.9}, "entities": list(entities)}
    return ev.user_uttered(text, parse, channel, f"id-{text}", timestamp=ts)


def act(name, **kw):
    return ev.action_executed(name, **kw)


LISTEN = "action_listen"


def session_start():
    return [act("action_session_start"), ev.session_started(), act(LISTEN)]


def tracker(*events, slots=SLOTS):
    return DialogueStateTracker("c1", slots, list(events))


# --------------------------------------------------------------------------- wire format


def test_sample_tracker_is_reproduced_byte_for_byte(sample_tracker):
    t = DialogueStateTracker(sample_tracker["sender_id"], sample_tracker["slots"], sample_tracker["events"])
    state = t.current_state()
    assert list(state) == list(sample_tracker)
    assert json.dumps(state) == json.dumps(sample_tracker)


def test_current_state_key_order_matches_the_sample(sample_tracker):
    assert list(tracker().current_state()) == list(sample_tracker)
    assert list(tracker(*session_start(), user("hi")).current_state(events=None)) == list(sample_tracker)


def test_fresh_tracker():
    state = tracker().current_state()
    assert state == {
        "sender_id": "c1",
        "slots": {"city": None, "count": 0, "tags": []},
        "latest_message": EMPTY_MESSAGE,
        "latest_event_time": None,
        "followup_action": "action_listen",
        "paused": False,
        "events": [],
        "latest_input_channel": None,
        "active_loop": {},
        "latest_action": {},
        "latest_action_name": None,
    }


def test_event_selection():
    events = [*session_start(), user("a"), ev.restarted(), *session_start(), user("b"), ev.user_utterance_reverted()]
    t = tracker(*events)
    assert t.current_state()["events"] == events
    assert t.current_state("all")["events"] == events
    assert t.current_state(None)["events"] is None
    assert t.current_state("after_restart")["events"] == events[5:]
    assert t.events_after_latest_restart() == events[5:]
    assert t.current_state("session")["events"] == events[5:]
    assert t.current_state("applied")["events"] == []  # the rewind also undoes the action_listen before "b"
    with pytest.raises(ValueError):
        t.current_state("everything")


def test_rasa_sdk_reads_the_state():
    t = tracker(*session_start(), user("hi", entities=[{"entity": "city", "value": "Oslo"}]), ev.slot_set("city", "Oslo"))
    sdk = SdkTracker.from_dict(t.current_state())
    assert sdk.get_slot("city") == "Oslo"
    assert sdk.latest_message["text"] == "hi"
    assert list(sdk.get_latest_entity_values("city")) == ["Oslo"]
    assert sdk.get_latest_input_channel() == "rest"


# --------------------------------------------------------------------------- event semantics


def test_slots():
    t = tracker(ev.slot_set("city", "Oslo"), ev.slot_set("count", 3), ev.slot_set("unknown", 1))
    assert t.slots == {"city": "Oslo", "count": 3, "tags": []}
    assert t.get_slot("city") == "Oslo" and t.get_slot("unknown") is None
    t.update(ev.all_slots_reset())
    assert t.slots == SLOTS
    assert t.slot_defaults == SLOTS


def test_slot_defaults_are_isolated_from_the_caller():
    defaults = {"tags": []}
    t = tracker(slots=defaults)
    defaults["tags"].append("x")
    assert t.get_slot("tags") == []


def test_any_slot_when_no_domain_slots_are_given():
    t = DialogueStateTracker("c1", None, [ev.slot_set("whatever", 1)])
    assert t.slots == {"whatever": 1}


def test_user_message_sets_latest_message_and_clears_followup():
    t = tracker(ev.followup("utter_x"))
    assert t.followup_action == "utter_x"
    t.update(user("hello", entities=[{"entity": "city", "value": "Oslo"}], ts=42.0))
    assert t.followup_action is None
    assert t.latest_message == {
        "intent": {"name": "greet", "confidence": 0.9},
        "entities": [{"entity": "city", "value": "Oslo"}],
        "text": "hello",
        "message_id": "id-hello",
        "metadata": {},
    }
    assert t.latest_input_channel == "rest"
    assert t.latest_event_time == 42.0
    assert list(t.get_latest_entity_values("city")) == ["Oslo"]


def test_action_sets_latest_action_and_clears_followup():
    t = tracker(ev.followup("utter_x"), act("utter_x"))
    assert t.followup_action is None
    assert t.latest_action == {"action_name": "utter_x"} and t.latest_action_name == "utter_x"
    t.update(ev.action_executed(None, action_text="Hi!"))
    assert t.latest_action == {"action_text": "Hi!"} and t.latest_action_name == "Hi!"


def test_pause_and_resume():
    t = tracker(ev.conversation_paused())
    assert t.paused and t.is_paused() and t.current_state()["paused"] is True
    t.update(ev.conversation_resumed())
    assert not t.paused


def test_restart_wipes_state_but_keeps_events():
    events = [*session_start(), user("hi"), ev.slot_set("city", "Oslo"), ev.active_loop("form"), ev.conversation_paused(), ev.restarted()]
    t = tracker(*events)
    state = t.current_state()
    assert state["slots"] == SLOTS
    assert state["latest_message"] == EMPTY_MESSAGE
    assert state["followup_action"] == "action_session_start"
    assert state["paused"] is False and state["active_loop"] == {} and state["latest_action"] == {}
    assert state["events"] == events
    assert state["latest_input_channel"] == "rest"  # taken from all events, as in Rasa
    assert t.applied_events() == [] and t.events_after_latest_restart() == []


def test_session_started_resets_and_slices_the_session():
    first = [*session_start(), user("hi"), ev.slot_set("city", "Oslo"), act("utter_greet")]
    second = [act("action_session_start"), ev.session_started(), ev.slot_set("city", "Oslo"), act(LISTEN)]
    t = tracker(*first, *second)
    assert t.current_session_events() == second
    assert t.current_state("session")["events"] == second
    assert t.get_slot("city") == "Oslo"  # carried over by the engine's slot event
    assert t.latest_message == EMPTY_MESSAGE
    # a session_started without action_session_start before it starts the slice itself
    t2 = tracker(*first, ev.session_started(), act(LISTEN))
    assert t2.current_session_events()[0]["event"] == "session_started"
    # no session yet: everything
    only = user("a")
    assert tracker(only).current_session_events() == [only]


def test_user_utterance_reverted_undoes_back_to_and_including_the_last_user_message():
    first = user("first", intent="greet")
    t = tracker(*session_start(), first, ev.slot_set("city", "Oslo"), act("utter_greet"), act(LISTEN))
    before = t.current_state(events=None)
    t.update(user("second", intent="inform", channel="web"))
    t.update(ev.slot_set("count", 5))
    t.update(act("action_default_fallback"))
    t.update(ev.user_utterance_reverted())
    after = t.current_state(events=None)
    assert after["slots"] == {"city": "Oslo", "count": 0, "tags": []}
    assert after["latest_message"]["text"] == "first"
    # Rasa replays the applied events: the action_listen before "second" is undone too
    assert after["latest_action_name"] == "utter_greet"
    assert {k: v for k, v in after.items() if k not in ("latest_action", "latest_action_name", "latest_input_channel", "latest_event_time")} == {
        k: v for k, v in before.items() if k not in ("latest_action", "latest_action_name", "latest_input_channel", "latest_event_time")
    }
    assert after["latest_input_channel"] == "web"  # reverted messages still count, as in Rasa
    assert [e["event"] for e in t.applied_events()][-1] == "action"


def test_action_reverted_undoes_the_last_action_and_what_it_caused():
    t = tracker(*session_start(), user("hi"), act("utter_a"), act("action_lookup"), ev.slot_set("city", "Oslo"), ev.followup("utter_b"))
    t.update(ev.action_reverted())
    assert t.get_slot("city") is None
    assert t.latest_action_name == "utter_a"
    assert t.followup_action is None
    assert t.last_executed_action()["name"] == "utter_a"


def test_revert_with_nothing_to_revert_resets_to_the_initial_state():
    t = tracker(ev.slot_set("city", "Oslo"), ev.user_utterance_reverted())
    assert t.slots == SLOTS and t.followup_action == "action_listen"


def test_active_loop_lifecycle():
    t = tracker(*session_start(), user("book a table", intent="book"), act("restaurant_form"), ev.active_loop("restaurant_form"))
    loop = t.active_loop
    assert list(loop) == ["name", "is_interrupted", "rejected", "trigger_message"]
    assert loop["name"] == "restaurant_form" and loop["is_interrupted"] is False and loop["rejected"] is False
    assert loop["trigger_message"]["text"] == "book a table"
    assert t.active_loop_name == "restaurant_form"

    t.update_many([act(LISTEN), user("what?", intent="chitchat"), ev.action_execution_rejected("restaurant_form")])
    assert t.is_active_loop_rejected
    t.update(ev.action_execution_rejected("other_action"))
    assert t.is_active_loop_rejected
    t.update(act("utter_chitchat"))
    assert t.is_active_loop_rejected  # only running the loop again clears the rejection
    t.update(ev.loop_interrupted(True))
    assert t.is_active_loop_interrupted and t.active_loop["is_interrupted"] is True
    t.update(act("restaurant_form"))
    assert not t.is_active_loop_rejected and not t.is_active_loop_interrupted
    t.update(ev.loop_interrupted(True))
    t.update(act("utter_other"))
    assert not t.is_active_loop_interrupted  # any action resets the interruption flag

    t.update(ev.active_loop(None))
    assert t.active_loop == {} and t.active_loop_name is None
    t.update(ev.loop_interrupted(True))  # no loop: nothing to flag
    assert t.active_loop == {}


def test_should_not_be_set_loop_has_no_name():
    t = tracker(ev.active_loop(ev.SHOULD_NOT_BE_SET))
    assert t.active_loop["name"] == ev.SHOULD_NOT_BE_SET and t.active_loop_name is None


def test_trigger_message_without_user_message_is_the_empty_message():
    assert tracker(ev.active_loop("f")).active_loop["trigger_message"] == EMPTY_MESSAGE


def test_entities_added_only_right_after_a_user_message():
    t = tracker(*session_start(), user("hi", entities=[{"entity": "a", "value": 1}]))
    t.update(ev.entities_added([{"entity": "a", "value": 1}, {"entity": "b", "value": 2}]))
    assert t.latest_message["entities"] == [{"entity": "a", "value": 1}, {"entity": "b", "value": 2}]
    assert t.latest_message_event["parse_data"]["entities"] == [{"entity": "a", "value": 1}]  # event untouched
    t.update(act("utter_x"))
    t.update(ev.entities_added([{"entity": "c", "value": 3}]))
    assert len(t.latest_message["entities"]) == 2


def test_user_featurization():
    t = tracker(*session_start(), user("hi"))
    assert t.use_text_for_featurization is None
    t.update(ev.user_featurization(False))
    assert t.use_text_for_featurization is False
    assert tracker(act(LISTEN), ev.user_uttered("free text")).use_text_for_featurization is True


def test_bot_utterance():
    t = tracker(*session_start(), user("hi"))
    assert t.latest_bot_utterance() is None
    bot = ev.bot_uttered("Hello!")
    t.update(bot)
    assert t.latest_bot_utterance() is bot


def test_unknown_events_are_refused_and_not_recorded():
    t = tracker()
    for bad in ({"event": "nope"}, {"name": "x"}, "slot"):
        with pytest.raises(ValueError):
            t.update(bad)
    assert t.events == []


def test_events_are_not_modified():
    events = [*session_start(), user("hi", entities=[{"entity": "a", "value": 1}]), ev.entities_added([{"entity": "b", "value": 2}])]
    before = json.dumps(events)
    t = tracker(*events)
    t.current_state()
    t.update(ev.user_utterance_reverted())
    assert json.dumps(events) == before


# --------------------------------------------------------------------------- applied events, turns


def test_applied_events_drop_reverted_and_repeated_loop_turns():
    events = [
        *session_start(),
        user("book", intent="book"),
        act("form"),
        ev.active_loop("form"),
        ev.slot_set("requested_slot", "city"),
        act(LISTEN),
        user("Oslo", intent="inform"),
        act("form"),  # second execution of the loop on the happy path
        ev.slot_set("city", "Oslo"),
        act(LISTEN),
        user("hmm", intent="nonsense"),
        act("action_default_fallback"),
        ev.user_utterance_reverted(),
    ]
    t = tracker(*events, slots={**SLOTS, "requested_slot": None})
    expected = [
        events[2],  # action_listen after session_started
        events[3],
        events[4],
        events[5],
        events[6],
        # the listen, "Oslo" and the repeated form execution are folded into the first execution
        events[10],
        # the rewind removed "hmm", the fallback and the action_listen before "hmm"
    ]
    assert t.applied_events() == expected
    assert applied_events(events) == expected
    assert t.get_slot("city") == "Oslo"
    # Rasa quirk kept: after the rewind the replayed latest message is the form's trigger
    assert t.latest_message["text"] == "book"


def test_unhappy_path_keeps_the_loop_turns():
    events = [
        act(LISTEN),
        user("book", intent="book"),
        act("form"),
        ev.active_loop("form"),
        act(LISTEN),
        user("why?", intent="explain"),
        ev.action_execution_rejected("form"),
        act("utter_explain"),
        act("form"),
    ]
    assert applied_events(events) == events[:6] + events[6:]


def test_turns_and_last_executed_action():
    t = tracker(*session_start(), user("hi"), act("utter_greet"), act(LISTEN), user("bye", intent="goodbye"), act("utter_bye"), act(LISTEN))
    turns = t.turns()
    assert [(u and u["text"], actions) for u, actions in turns] == [
        (None, ["action_listen"]),
        ("hi", ["utter_greet", "action_listen"]),
        ("bye", ["utter_bye", "action_listen"]),
    ]
    assert t.last_executed_action()["name"] == "utter_bye"
    assert t.last_executed_action(exclude=())["name"] == "action_listen"
    assert tracker().last_executed_action() is None and tracker().turns() == []


def test_copy_is_independent():
    t = tracker(*session_start(), user("hi"), ev.slot_set("city", "Oslo"))
    c = t.copy()
    c.update(ev.slot_set("city", "Rome"))
    c.update(ev.user_utterance_reverted())
    assert t.get_slot("city") == "Oslo" and len(t.events) == 5
    assert c.get_slot("city") is None and len(c.events) == 7
    assert t.current_state() != c.current_state()


# --------------------------------------------------------------------------- reference implementation


class RasaReference:
    """Rasa's own procedure: apply each event; on rewind/undo reset and replay the applied events."""

    def __init__(self, slots):
        helper = DialogueStateTracker("ref", slots)
        self.transition, self.base = helper._transition, helper._base
        self.events, self.state = [], self.base

    def update(self, event):
        self.events.append(event)
        if event["event"] in ("rewind", "undo"):
            state = self.base
            for applied in applied_events(self.events):
                state = self.transition(state, applied)
            self.state = state
        else:
            self.state = self.transition(self.state, event)


def view(state):
    return (
        state.slots,
        state.paused,
        state.followup_action,
        state.latest_action,
        state.latest_message,
        state.message_entities,
        state.use_text,
        state.latest_bot_utterance,
        state.active_loop,
    )


def random_event(rng: random.Random):
    loops = ["form_a", "form_b"]
    choice = rng.random()
    if choice < 0.2:
        return user(rng.choice(["a", "b", "c"]), intent=rng.choice(["greet", "inform", "deny"]), entities=[{"entity": "e", "value": rng.randint(0, 2)}])
    if choice < 0.45:
        return act(rng.choice([LISTEN, LISTEN, "utter_x", "action_y", *loops]))
    if choice < 0.55:
        return ev.active_loop(rng.choice([*loops, None]))
    if choice < 0.62:
        return ev.slot_set(rng.choice(["city", "count"]), rng.randint(0, 9))
    if choice < 0.68:
        return ev.user_utterance_reverted()
    if choice < 0.72:
        return ev.action_reverted()
    if choice < 0.75:
        return ev.action_execution_rejected(rng.choice(loops))
    if choice < 0.78:
        return ev.loop_interrupted(rng.random() < 0.5)
    if choice < 0.80:
        return rng.choice([ev.restarted(), ev.session_started(), ev.all_slots_reset()])
    if choice < 0.84:
        return ev.entities_added([{"entity": "x", "value": rng.randint(0, 2)}])
    if choice < 0.87:
        return ev.user_featurization(rng.random() < 0.5)
    if choice < 0.92:
        return ev.bot_uttered(rng.choice(["hi", "ok"]))
    if choice < 0.95:
        return ev.followup("utter_x")
    return rng.choice([ev.conversation_paused(), ev.conversation_resumed()])


@pytest.mark.parametrize("seed", range(60))
def test_incremental_tracker_matches_rasas_replay_procedure(seed):
    rng = random.Random(seed)
    t = DialogueStateTracker("c1", SLOTS)
    ref = RasaReference(SLOTS)
    for step in range(250):
        event = random_event(rng)
        t.update(event)
        ref.update(event)
        assert view(t._state) == view(ref.state), (seed, step, event)
        if step % 25 == 0:
            assert t.applied_events() == applied_events(t.events)
    assert t.applied_events() == applied_events(t.events)
    # rebuilding from the events gives the same tracker
    assert DialogueStateTracker("c1", SLOTS, t.events).current_state() == t.current_state()


# --------------------------------------------------------------------------- cost


class CountingTransition:
    def __init__(self, inner):
        self.inner, self.calls = inner, 0

    def __call__(self, state, event):
        self.calls += 1
        return self.inner(state, event)


def long_conversation(turns: int) -> list[dict]:
    events = session_start()
    for i in range(turns):
        events += [user(f"m{i}"), ev.slot_set("count", i), act("utter_x"), act(LISTEN)]
    return events


def test_reverting_does_not_replay_the_history():
    t = tracker(*long_conversation(3000))
    counter = t._transition = CountingTransition(t._transition)
    t.update(user("oops"))
    t.update(act("action_default_fallback"))
    t.update(ev.user_utterance_reverted())
    t.update(ev.action_reverted())
    assert counter.calls <= 4
    assert t.get_slot("count") == 2999
    # the rewind undid "oops" and the listen before it; the undo then undid "utter_x"
    assert t.latest_action_name == "action_listen"
    assert t.applied_events()[-1]["event"] == "slot"


def test_loop_activation_and_repeated_loop_execution_cost_constant_work():
    t = tracker(*long_conversation(3000))
    counter = t._transition = CountingTransition(t._transition)
    t.update_many([user("book"), act("form"), ev.active_loop("form"), act(LISTEN)])
    for i in range(50):
        t.update_many([user(f"v{i}", intent="inform"), act("form"), ev.slot_set("city", str(i)), act(LISTEN)])
    assert counter.calls <= 4 * 2 + 50 * (4 * 2 + 6)


def test_update_cost_is_flat_in_conversation_length():
    import time

    def cost(turns):
        events = long_conversation(turns)
        start = time.perf_counter()
        DialogueStateTracker("c1", SLOTS, events)
        return (time.perf_counter() - start) / len(events)

    cost(200)  # warm up
    assert cost(20000) < 10 * cost(2000) + 5e-6
