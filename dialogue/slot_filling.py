"""Slot filling as Rasa 3 does it: slot mappings after every user message, and forms.

**Slot mappings** (:func:`extract_slots`, Rasa's ``action_extract_slots``) run after every
user message, for every slot but Rasa's internal ones, mapping by mapping until one gives a
value:

- ``intent`` / ``not_intent`` restrict the intents; while a form is active, its
  ``ignored_intents`` count as ``not_intent`` for mappings without conditions and for those
  whose conditions name that form;
- ``conditions`` (``active_loop`` and optionally ``requested_slot``) must hold for
  ``from_entity``, ``from_text``, ``from_intent`` and ``custom`` mappings; a condition with
  ``active_loop: null`` holds when no form is active. The requested slot of a form that
  rejected the message in this turn is not filled by conditional mappings;
- ``from_entity`` needs an entity of that type (and role and group) in the message; while a
  form is active, a slot it requires but did not ask for is only filled by an entity mapping
  that no other required slot of that form shares;
- ``from_trigger_intent`` only applies while a form is active (and named in the conditions, if
  any): in practice when the form starts;
- ``from_text`` takes the message text, ``from_intent`` the mapping's ``value``;
- ``custom`` mappings with an ``action`` run that action (once per message); its slot events
  are kept. When the domain lists ``action_validate_slot_mappings`` it validates the
  candidates (slots it does not mention stay as extracted; a slot it sets to null is rejected).

As in Rasa 3, an intent's ``use_entities`` / ``ignore_entities`` shape what the dialogue
policies see of a message (:mod:`dialogue.policies.state`), not slot mappings.

**Forms** (:class:`FormAction`): the form becomes the active loop, runs the mappings again
(now with the form active, so trigger-intent mappings apply) and validates the slots already
filled; while active, it validates what the latest message filled, asks for the next empty
required slot (``action_ask_<form>_<slot>``, ``utter_ask_<form>_<slot>``,
``action_ask_<slot>`` or ``utter_ask_<slot>``, setting ``requested_slot``) and deactivates
itself once every required slot is filled (``active_loop`` null, ``requested_slot`` null).
When the message filled nothing, the form *rejects* it (``action_execution_rejected``) so
that rules can answer it; the form then comes back and asks again. Validation calls the
action server's ``validate_<form>`` when the domain lists that action, with the candidate slot
events appended to the tracker (after ``requested_slot`` and the form's action, as Rasa sends
them); the events it returns are applied, a slot set back to null is asked again, and a
``requested_slot`` it sets (rasa-sdk's dynamic ``required_slots``) is asked next (null ends
the form). A validation call the server rejects (HTTP 400) counts as rejecting the candidates.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from dialogue import events as ev
from dialogue.actions import Action, ActionContext, ActionExecutionRejection, ActionFailure, action_for_name
from dialogue.domain import KNOWLEDGE_BASE_SLOTS, REQUESTED_SLOT, SESSION_STARTED_METADATA, Domain
from dialogue.policies.base import rejected_this_turn
from dialogue.tracker import DialogueStateTracker

logger = logging.getLogger(__name__)

ACTION_VALIDATE_SLOT_MAPPINGS = "action_validate_slot_mappings"
INTERNAL_SLOTS = frozenset({REQUESTED_SLOT, SESSION_STARTED_METADATA, *KNOWLEDGE_BASE_SLOTS})
PREDEFINED_MAPPINGS = ("from_entity", "from_intent", "from_trigger_intent", "from_text")


# ---------------------------------------------------------------------- slot mappings


def _latest_intent(tracker: DialogueStateTracker) -> str | None:
    return (tracker.latest_message.get("intent") or {}).get("name")


def ignored_intents(mapping: dict, tracker: DialogueStateTracker, domain: Domain) -> list[str]:
    """The active form's ``ignored_intents`` when they apply to ``mapping``."""
    loop = tracker.active_loop_name
    form = domain.forms.get(loop) if loop else None
    if form is None:
        return []
    conditions = mapping.get("conditions") or []
    if conditions and not any(c.get("active_loop") == loop for c in conditions):
        return []
    return list(form.ignored_intents)


def intent_is_desired(mapping: dict, tracker: DialogueStateTracker, domain: Domain) -> bool:
    wanted = mapping.get("intent") or []
    unwanted = list(mapping.get("not_intent") or []) + ignored_intents(mapping, tracker, domain)
    intent = _latest_intent(tracker)
    return (not wanted and intent not in unwanted) or intent in wanted


def conditions_hold(mapping: dict, tracker: DialogueStateTracker, slot_name: str) -> bool:
    conditions = mapping.get("conditions")
    if not conditions:
        return True
    requested = tracker.get_slot(REQUESTED_SLOT)
    if requested == slot_name and rejected_this_turn(tracker):
        return False
    loop = tracker.active_loop_name
    for condition in conditions:
        wanted_loop = condition.get("active_loop")
        if wanted_loop and wanted_loop == loop:
            wanted_slot = condition.get("requested_slot")
            if not wanted_slot or wanted_slot == requested:
                return True
        if wanted_loop is None and loop is None:
            return True
    return False


def _entity_matches(mapping: dict, entity: dict) -> bool:
    return (
        mapping.get("entity") == entity.get("entity")
        and mapping.get("role") == entity.get("role")
        and mapping.get("group") == entity.get("group")
    )


def unique_entity_mappings(form_name: str, domain: Domain) -> set[str]:
    """``from_entity`` mappings (as JSON) that only one required slot of the form has."""
    seen: dict[str, int] = {}
    form = domain.forms.get(form_name)
    for slot_name in form.required_slots if form else ():
        for mapping in domain.slots[slot_name].mappings:
            if mapping.get("type") == "from_entity":
                key = json.dumps(mapping, sort_keys=True)
                seen[key] = seen.get(key, 0) + 1
    return {key for key, count in seen.items() if count == 1}


def _fails_unique_entity_check(slot_name: str, mapping: dict, tracker: DialogueStateTracker, domain: Domain) -> bool:
    if mapping.get("type") != "from_entity":
        return False
    loop = tracker.active_loop_name
    form = domain.forms.get(loop) if loop else None
    if form is None or tracker.get_slot(REQUESTED_SLOT) == slot_name or slot_name not in form.required_slots:
        return False
    return json.dumps(mapping, sort_keys=True) not in unique_entity_mappings(loop, domain)


def predefined_values(mapping: dict, tracker: DialogueStateTracker) -> list[Any]:
    """What a predefined mapping extracts from the latest message (``[]``: nothing)."""
    kind = mapping.get("type")
    latest = tracker.latest_message
    if kind == "from_entity":
        entities = latest.get("entities") or []
        if not any(_entity_matches(mapping, e) for e in entities):
            return []
        return [e.get("value") for e in entities if _entity_matches(mapping, e)]
    if kind == "from_intent":
        return [mapping.get("value")]
    if kind == "from_trigger_intent":
        loop = tracker.active_loop_name
        loops = [c.get("active_loop") for c in mapping.get("conditions") or []]
        if loop is None or (loops and loop not in loops):
            return []
        return [mapping.get("value")]
    if kind == "from_text":
        return [latest.get("text")]
    return []


async def extract_slots(context: ActionContext, tracker: DialogueStateTracker) -> list[dict]:
    """The slot events the domain's mappings draw from the latest message."""
    domain = context.domain
    found: list[dict] = []
    custom_done: set[str] = set()
    for slot in domain.slots.values():
        if slot.name in INTERNAL_SLOTS:
            continue
        for mapping in slot.mappings:
            kind = mapping.get("type")
            if kind == "from_entity" and mapping.get("entity") not in domain.entities:
                continue
            if not intent_is_desired(mapping, tracker, domain):
                continue
            if kind != "from_trigger_intent" and not conditions_hold(mapping, tracker, slot.name):
                continue
            if _fails_unique_entity_check(slot.name, mapping, tracker, domain):
                continue
            if kind in PREDEFINED_MAPPINGS:
                values = predefined_values(mapping, tracker)
                if values:
                    value = values if slot.type == "list" else values[-1]
                    if value is not None or tracker.get_slot(slot.name) is not None:
                        found.append(ev.slot_set(slot.name, value, context.now()))
                        break
            elif kind == "custom" and mapping.get("action") and mapping["action"] not in custom_done:
                custom_done.add(mapping["action"])
                found += await _run_quietly(context, mapping["action"], tracker)
    slot_events = [e for e in found if e["event"] == "slot"]
    if ACTION_VALIDATE_SLOT_MAPPINGS not in domain.actions:
        return slot_events
    candidates = tracker.copy()
    candidates.update_many(slot_events)
    validated = await _run_quietly(context, ACTION_VALIDATE_SLOT_MAPPINGS, candidates)
    names = {e["name"] for e in validated if e["event"] == "slot"}
    return validated + [e for e in slot_events if e["name"] not in names]


async def _run_quietly(context: ActionContext, name: str, tracker: DialogueStateTracker) -> list[dict]:
    """A custom action run for slot mappings: only its slot and bot events count; a failure
    leaves the slots as they are (and is logged)."""
    try:
        result = await context.run_remote(name, tracker)
    except (ActionFailure, ActionExecutionRejection) as exc:
        logger.warning("slot mapping action %r did not run (%s); slots stay as they are", name, exc)
        return []
    kept = [e for e in result if e["event"] in ("slot", "bot")]
    if len(kept) != len(result):
        logger.info("slot mapping action %r returned events other than slots and messages; they are ignored", name)
    return kept


# ---------------------------------------------------------------------- forms


def _requested_slot_event(events: list[dict]) -> dict | None:
    return next((e for e in reversed(events) if e["event"] == "slot" and e["name"] == REQUESTED_SLOT), None)


def _loop_event(events: list[dict]) -> dict | None:
    return next((e for e in reversed(events) if e["event"] == "active_loop"), None)


def _rejected(events: list[dict]) -> bool:
    return any(e["event"] == "action_execution_rejected" for e in events)


class FormAction(Action):
    """A form (see the module docstring)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def required_slots(self, domain: Domain) -> list[str]:
        form = domain.forms.get(self.name)
        return list(form.required_slots) if form else []

    def slot_to_fill(self, tracker: DialogueStateTracker) -> str | None:
        return tracker.get_slot(REQUESTED_SLOT) if tracker.active_loop_name == self.name else None

    async def run(self, context: ActionContext, tracker: DialogueStateTracker) -> list[dict]:
        events: list[dict] = []
        if tracker.active_loop_name != self.name:
            events += await self._activate(context, tracker)
        if not self._is_done(events):
            events += await self._do(context, tracker, events)
        if self._is_done(events):
            events.append(ev.active_loop(None, context.now()))
        return events

    @staticmethod
    def _is_done(events: list[dict]) -> bool:
        if _rejected(events):
            return False
        requested = _requested_slot_event(events)
        loop = _loop_event(events)
        return (requested is not None and requested.get("value") is None) or (
            loop is not None and loop.get("name") is None
        )

    async def _activate(self, context: ActionContext, tracker: DialogueStateTracker) -> list[dict]:
        logger.debug("activating form %r", self.name)
        activation = [ev.active_loop(self.name, context.now())]
        active = tracker.copy()
        active.update_many(activation)
        extracted = await extract_slots(context, active)
        active.update_many(extracted)
        extracted_slots = [e for e in extracted if e["event"] == "slot"]
        if f"validate_{self.name}" not in context.domain.action_names:
            return activation + extracted_slots
        required = self.required_slots(context.domain)
        prefilled = {slot: active.get_slot(slot) for slot in required if active.get_slot(slot) is not None}
        validated = await self._validate_slots(context, active, prefilled)
        names = {e["name"] for e in validated if e["event"] == "slot"}
        return activation + validated + [e for e in extracted_slots if e["name"] not in names]

    async def _do(self, context: ActionContext, tracker: DialogueStateTracker, so_far: list[dict]) -> list[dict]:
        events: list[dict] = []
        if not [e for e in so_far if e["event"] != "active_loop"]:
            events = await self._validate_if_required(context, tracker)
        if not _rejected(events):
            events += await self._request_next_slot(context, tracker, so_far + events)
        return events

    async def _validate_if_required(self, context: ActionContext, tracker: DialogueStateTracker) -> list[dict]:
        # Only what the user just said needs validating: not when the form comes back after
        # another action answered an interruption.
        needs_validation = not tracker.active_loop or (
            tracker.latest_action_name == "action_listen" and not tracker.is_active_loop_interrupted
        )
        if needs_validation:
            return await self._validate(context, tracker)
        return await self._validate_slots(context, tracker, {})

    def _extracted_this_turn(self, context: ActionContext, tracker: DialogueStateTracker) -> dict[str, Any]:
        """Slot values set since the latest user message, for this form's slots."""
        wanted = set(self.required_slots(context.domain))
        requested = self.slot_to_fill(tracker)
        if requested:
            wanted.add(requested)
        latest = tracker.latest_message_event
        events = tracker.events
        start = 0
        for i in range(len(events) - 1, -1, -1):
            if events[i] is latest or events[i]["event"] == "restart":
                start = i
                break
        values: dict[str, Any] = {}
        for event in events[start:]:
            if event["event"] == "slot" and event["name"] in wanted:
                values[event["name"]] = event.get("value")
        return values

    async def _validate(self, context: ActionContext, tracker: DialogueStateTracker) -> list[dict]:
        extracted = self._extracted_this_turn(context, tracker)
        validation = await self._validate_slots(context, tracker, extracted)
        some_validated = any(e["event"] == "slot" and e["name"] != REQUESTED_SLOT for e in validation)
        slot_to_fill = self.slot_to_fill(tracker)
        if slot_to_fill and not extracted and not some_validated and not _rejected(validation):
            message = f"failed to extract slot {slot_to_fill!r} with form {self.name!r}"
            raise ActionExecutionRejection(self.name, message)
        return validation

    def _temporary_tracker(self, tracker: DialogueStateTracker, extra: list[dict], now: float) -> DialogueStateTracker:
        temporary = tracker.copy()
        temporary.update(ev.slot_set(REQUESTED_SLOT, self.slot_to_fill(tracker), now))
        temporary.update(ev.action_executed(self.name, timestamp=now))
        temporary.update_many(extra)
        return temporary

    async def _validate_slots(
        self, context: ActionContext, tracker: DialogueStateTracker, candidates: dict[str, Any]
    ) -> list[dict]:
        """The events of ``validate_<form>`` for the candidate values (``[]`` without one)."""
        name = f"validate_{self.name}"
        if name not in context.domain.action_names:
            return []
        now = context.now()
        slot_events = [ev.slot_set(slot, value, now) for slot, value in candidates.items()]
        temporary = self._temporary_tracker(tracker, slot_events, now)
        try:
            return await context.run_remote(name, temporary)
        except ActionExecutionRejection:
            logger.info("%s rejected the candidates %s; asking again", name, sorted(candidates))
            return [ev.slot_set(slot, None, now) for slot in candidates]

    async def _request_next_slot(
        self, context: ActionContext, tracker: DialogueStateTracker, so_far: list[dict]
    ) -> list[dict]:
        now = context.now()
        if self._is_done(so_far):
            return [ev.slot_set(REQUESTED_SLOT, None, now)]
        slot = next((e.get("value") for e in so_far if e["event"] == "slot" and e["name"] == REQUESTED_SLOT), None)
        temporary = self._temporary_tracker(tracker, so_far, now)
        events: list[dict] = []
        if not slot:
            slot = next(
                (s for s in self.required_slots(context.domain) if temporary.get_slot(s) is None),
                None,
            )
            events.append(ev.slot_set(REQUESTED_SLOT, slot, now))
        if slot:
            temporary.update_many(events)
            return events + await self._ask_for(context, temporary, slot)
        return [ev.slot_set(REQUESTED_SLOT, None, now)]

    async def _ask_for(self, context: ActionContext, tracker: DialogueStateTracker, slot: str) -> list[dict]:
        names = context.domain.action_names
        for candidate in (
            f"action_ask_{self.name}_{slot}",
            f"utter_ask_{self.name}_{slot}",
            f"action_ask_{slot}",
            f"utter_ask_{slot}",
        ):
            if candidate in names:
                return await action_for_name(candidate, context.domain).run(context, tracker)
        logger.debug("no action or response asks for slot %r", slot)
        return []
