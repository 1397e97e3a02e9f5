"""Which slots a starting form asks for again: what an earlier request left, not what this request
(or the verification after it) gave, and nothing while the form is already running."""

from rasa_sdk import Tracker

from actions.tools.requests import request_slots, stale_slots

DOMAIN = {
    "forms": {"cancel_order_form": {"required_slots": ["order_id"]},
              "edit_account_form": {"required_slots": ["account_change"]}},
    "slots": {
        "order_id": {"mappings": [{"type": "from_entity", "entity": "order_id"}]},
        "account_change": {"mappings": [{"type": "from_entity", "entity": "email",
                                         "conditions": [{"active_loop": "edit_account_form"}]}]},
        "new_email": {"mappings": [{"type": "from_entity", "entity": "email",
                                    "conditions": [{"active_loop": "edit_account_form"}]}]},
        "email": {"mappings": [{"type": "from_entity", "entity": "email"}]},
    },
}


def user(intent):
    return {"event": "user", "text": intent, "parse_data": {"intent": {"name": intent}, "entities": []}}


def slot(name, value):
    return {"event": "slot", "name": name, "value": value}


def action(name):
    return {"event": "action", "name": name}


def loop(name):
    return {"event": "active_loop", "name": name}


def validation_call(history, form, candidates):
    """The tracker a form's validation is called with: the history, the form's run, the candidates."""
    events = history + [slot("requested_slot", None), action(form)] + [slot(k, v) for k, v in candidates.items()]
    slots = {}
    for event in events:
        if event["event"] == "slot":
            slots[event["name"]] = event["value"]
    latest = next(e for e in reversed(events) if e["event"] == "user")
    return Tracker("conv", slots, latest["parse_data"], events, False, None, {"name": form}, form)


FIRST_CANCELLATION = [user("cancel_order"), slot("workflow", "cancel_order"), slot("order_id", "ORD-10120"),
                      loop("cancel_order_form"), action("cancel_order_form"), loop(None), action("action_cancel_order")]


def test_a_new_request_clears_the_previous_order():
    history = FIRST_CANCELLATION + [user("cancel_order"), slot("workflow", "cancel_order"), loop("cancel_order_form")]
    tracker = validation_call(history, "cancel_order_form", {"order_id": "ORD-10120"})
    assert stale_slots("cancel_order_form", tracker, DOMAIN) == {"order_id"}


def test_the_order_named_in_the_request_is_kept():
    history = FIRST_CANCELLATION + [user("cancel_order"), slot("workflow", "cancel_order"), slot("order_id", "ORD-10077"),
                                    loop("cancel_order_form")]
    tracker = validation_call(history, "cancel_order_form", {"order_id": "ORD-10077"})
    assert stale_slots("cancel_order_form", tracker, DOMAIN) == set()


def test_what_verification_gave_after_the_request_is_kept():
    history = [user("cancel_order"), slot("workflow", "cancel_order"), user("inform"), slot("order_id", "ORD-10105"),
               action("action_identify_customer"), user("inform"), action("action_check_verification_code"),
               loop("cancel_order_form")]
    tracker = validation_call(history, "cancel_order_form", {"order_id": "ORD-10105"})
    assert stale_slots("cancel_order_form", tracker, DOMAIN) == set()


def test_nothing_is_cleared_while_the_form_runs():
    history = FIRST_CANCELLATION[:4] + [action("cancel_order_form"), user("inform")]
    tracker = validation_call(history, "cancel_order_form", {})
    assert stale_slots("cancel_order_form", tracker, DOMAIN) == set()


def test_slots_only_filled_inside_the_form_belong_to_its_request():
    assert request_slots("edit_account_form", DOMAIN) == {"account_change", "new_email"}
