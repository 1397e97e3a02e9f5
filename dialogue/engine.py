"""The dialogue engine: one user message in, the assistant's messages out.

Channels are thin adapters around :class:`Assistant`; the engine knows nothing of HTTP.

A turn, as Rasa 3 runs it:

1. the conversation's lock is taken (messages of one conversation never interleave) and its
   current session is loaded, or a new conversation started;
2. a new session starts (``action_session_start``: ``session_started``, the previous session's
   slots when ``carry_over_slots_to_new_session``, ``action_listen``) for a new conversation,
   after a restart, or when the latest user message is older than
   ``session_expiration_time`` minutes (0: never). A conversation handed to a person does not
   expire while it waits;
3. the message is parsed: ``/intent{"entity": "value"}`` payloads (buttons) directly, with
   confidence 1 (``/intent@0.5`` sets another), anything else by the NLU model;
4. while the conversation is paused (handed off), the message is stored and nothing is said;
5. slot mappings fill slots (:func:`dialogue.slot_filling.extract_slots`);
6. escalation triggers are checked (:mod:`dialogue.handoff`); one that fires hands the
   conversation to a person;
7. the policies predict actions (:mod:`dialogue.policies`) that run, one after the other,
   until ``action_listen`` (at most ``max_actions_per_turn``, then the default fallback);
8. every new event of the turn is appended to the tracker store in one transaction, checked
   against the number of events the turn started from.

With ``privacy`` (:mod:`dialogue.guardrails.personal_data`), a message holding a payment card
number is not parsed (it is stored with an empty parse: number entities would hold the card's
digits) and gets a warning instead of steps 5-7, the turn's bot messages pass the output rail, the
events are masked as they are stored in step 8, and a ``consent`` in the message's metadata is
recorded as a slot event.

With an ``input_rail`` (:mod:`dialogue.guardrails.injection`), every message is screened for
prompt injection before step 3; a flagged one is stored with its verdict and answered by the rail
instead of steps 3-7 (no NLU, no slot, no policy, so no knowledge answer sees it), and repeated
attempts hand the conversation off.

A custom action that fails (not found, error, timeout, unreachable, malformed reply) is logged,
the customer gets :data:`dialogue.actions.ACTION_FAILURE_TEXT` and the turn ends; after
``max_action_failures`` failures in a row the conversation is handed off.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from dialogue import events as ev
from dialogue.action_client import ActionServerClient
from dialogue.allowlist import ToolAllowlist
from dialogue.actions import (
    ACTION_ASK_AFFIRMATION,
    ACTION_ASK_REPHRASE,
    ACTION_BACK,
    ACTION_DEFAULT_FALLBACK,
    ACTION_FAILURE_TEXT,
    ACTION_LISTEN,
    ACTION_SESSION_START,
    FAILURE_METADATA_KEY,
    ActionContext,
    ActionExecutionRejection,
    ActionFailure,
    ActionSessionStart,
    action_for_name,
)
from dialogue.domain import Domain
from dialogue.guardrails.injection import BLOCKED_TEXT, REASON_PROMPT_INJECTION, InjectionRail
from dialogue.guardrails.retrieval import ScreenedAnswerer
from dialogue.handoff import (
    ACTION_HANDOFF,
    HANDOFF_TEXT,
    REASON_ACTION_FAILURES,
    Escalation,
    EscalationConfig,
    SentimentAnalyzer,
    recent_events,
)
from dialogue.policies import FallbackPolicy, PolicyEnsemble, Prediction
from dialogue.responses import ResponseRenderer, messages
from dialogue.slot_filling import extract_slots
from dialogue.story_data import StoryData
from dialogue.stores import AsyncTrackerStore, InMemoryLockStore, InMemoryTrackerStore, LockStore, TrackerStore
from dialogue.stores.handoff import HandoffStore, InMemoryHandoffStore
from dialogue.tracker import DialogueStateTracker

logger = logging.getLogger(__name__)

ESCALATION_POLICY = "EscalationPolicy"
PRIVACY_POLICY = "PrivacyGuard"
INPUT_RAIL_POLICY = "InputRail"
CIRCUIT_BREAKER = "CircuitBreaker"
RESTART_INTENT = "restart"
DEFAULT_MAX_ACTIONS = 10
# Actions after which the assistant waits for the user.
_ENDS_TURN = frozenset({ACTION_DEFAULT_FALLBACK, ACTION_ASK_AFFIRMATION, ACTION_ASK_REPHRASE, ACTION_BACK})
_PAYLOAD = re.compile(r"^/(?P<intent>[^{@]+?)(?P<confidence>@[0-9.]+)?(?P<entities>\{.*\})?$", re.DOTALL)
_EVENT_SELECTIONS = {
    "all": "all",
    "after_restart": "after_restart",
    "session": "session",
    "applied": "applied",
    "none": None,
}


@dataclass
class UserMessage:
    text: str
    sender_id: str
    input_channel: str = "rest"
    metadata: dict | None = None
    message_id: str | None = None  # generated (uuid4 hex) when None

    def __post_init__(self) -> None:
        if self.message_id is None:
            self.message_id = uuid.uuid4().hex


def parse_payload(text: str) -> dict | None:
    """Rasa's parse of ``/intent{"entity": "value"}`` (``@confidence`` optional), or None
    when ``text`` is not such a payload. Entities that are not a JSON object are dropped."""
    match = _PAYLOAD.match(text.strip())
    if match is None or not match.group("intent").strip():
        return None
    intent = match.group("intent").strip()
    confidence = 1.0
    if match.group("confidence"):
        try:
            confidence = float(match.group("confidence")[1:])
        except ValueError:
            confidence = 1.0
    entities = []
    raw = match.group("entities")
    if raw:
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError:
            logger.warning("ignoring the entities of payload %r: not valid JSON", text)
            parsed = None
        if isinstance(parsed, dict):
            start = text.find(raw)
            for name, value in parsed.items():
                for item in value if isinstance(value, list) else [value]:
                    entities.append({"entity": name, "start": start, "end": start + len(raw), "value": item})
        elif parsed is not None:
            logger.warning("ignoring the entities of payload %r: not a JSON object", text)
    return {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "entities": entities,
        "intent_ranking": [{"name": intent, "confidence": confidence}],
    }


@dataclass
class _Turn:
    """One message's worth of work on a conversation."""

    tracker: DialogueStateTracker
    channel: str | None
    metadata: dict | None
    stamp: dict
    base_count: int = 0
    new_events: list[dict] = field(default_factory=list)
    handoff_record: dict | None = None

    def __post_init__(self) -> None:
        self.base_count = self.tracker.event_offset + len(self.tracker.events)

    def log(self, event: dict) -> None:
        if self.stamp and event["event"] != "user_featurization":  # as Rasa stores it
            event = ev.add_metadata(event, self.stamp)
        self.tracker.update(event)
        self.new_events.append(event)

    def log_many(self, events: list[dict]) -> None:
        for event in events:
            self.log(event)

    def bot_messages(self, recipient_id: str) -> list[dict]:
        out = []
        for event in self.new_events:
            if event["event"] != "bot":
                continue
            response = {k: v for k, v in (event.get("data") or {}).items() if v is not None}
            if event.get("text") is not None:
                response["text"] = event["text"]
            for message in messages(response):
                out.append({"recipient_id": recipient_id, **message})
        return out


class Assistant:
    """A conversational assistant: NLU, policies, actions, tracker store, escalation.

    Build one with :func:`dialogue.project.load_assistant`; the constructor is for tests and
    embedding. ``nlu`` is anything with ``parse(text) -> dict`` (Rasa's parse shape).
    ``clock`` (epoch seconds) stamps events and decides session expiry. ``knowledge`` answers
    help-centre questions for ``action_answer_from_knowledge`` (see :mod:`knowledge.answer`).
    """

    def __init__(
        self,
        domain: Domain,
        *,
        nlu: Any = None,
        policies: PolicyEnsemble | None = None,
        story_data: StoryData | None = None,
        tracker_store: TrackerStore | AsyncTrackerStore | None = None,
        lock_store: LockStore | None = None,
        action_client: ActionServerClient | None = None,
        escalation: EscalationConfig | Escalation | None = None,
        handoff_store: HandoffStore | None = None,
        sentiment: SentimentAnalyzer | None = None,
        clock: Callable[[], float] | None = None,
        max_actions_per_turn: int = DEFAULT_MAX_ACTIONS,
        model_id: str | None = None,
        assistant_id: str | None = None,
        allowlist: ToolAllowlist | None = None,
        knowledge: Any = None,
        privacy: Any = None,
        input_rail: Any = None,
    ) -> None:
        self.domain = domain
        self.allowlist = allowlist
        #: a :class:`dialogue.guardrails.personal_data.PersonalDataRail`, or None (nothing masked)
        self.privacy = privacy
        #: a :class:`dialogue.guardrails.injection.InjectionRail`, or None (nothing screened)
        self.input_rail = input_rail
        if input_rail is not None and knowledge is not None:  # the retrieval rail
            knowledge = ScreenedAnswerer(knowledge, input_rail.screen)
        self.knowledge = privacy.knowledge(knowledge) if privacy is not None and knowledge is not None else knowledge
        self.nlu = nlu
        self.policies = policies or PolicyEnsemble.from_config(domain, story_data or StoryData(), None)
        slot_defaults = {name: slot.initial_value for name, slot in domain.slots.items()}
        store = tracker_store if tracker_store is not None else InMemoryTrackerStore(slot_defaults)
        if isinstance(store, TrackerStore):
            if store.slot_defaults is None:
                store.slot_defaults = slot_defaults
            store = AsyncTrackerStore(store)
        self.tracker_store: AsyncTrackerStore = store
        self.lock_store = lock_store or InMemoryLockStore()
        self.action_client = action_client
        self.handoff_store = handoff_store or InMemoryHandoffStore()
        self.clock = clock or time.time
        self.max_actions_per_turn = max_actions_per_turn
        self.renderer = ResponseRenderer(domain)
        rule_policy = self.policies.rule_policy
        rule_intents = rule_policy.rule_intents if rule_policy is not None else ()
        if isinstance(escalation, Escalation):
            self.escalation = escalation
        else:
            self.escalation = Escalation(escalation or EscalationConfig(), domain, sentiment, rule_intents)
        config = self.escalation.config
        self.policies.fallback = FallbackPolicy(
            clarify=config.clarify,
            max_failed_clarifications=config.max_failed_clarifications if config.enabled else 0,
            recent=recent_events,
        )
        self._stamp = {k: v for k, v in (("model_id", model_id), ("assistant_id", assistant_id)) if v}

    # ------------------------------------------------------------------ public interface

    async def handle_message(self, message: UserMessage) -> list[dict]:
        """Handle one user message; returns the bot messages in REST shape
        (``[]`` while the conversation is handed off)."""
        async with self.lock_store.lock(message.sender_id):  # messages are handled in arrival order
            verdict, card_pasted, parse_data = await asyncio.to_thread(self._understand, message.text, message.sender_id)
            if verdict is not None and verdict.flagged:
                return await self._refuse_input(message, verdict)
            turn = await self._start_turn(message.sender_id, message.input_channel, message.metadata)
            self._log_user(turn, message.text, parse_data, message.input_channel, message.message_id, message.metadata)
            if self.privacy is not None:
                turn.log_many(self.privacy.consent_events(message.metadata, self.clock()))
            tracker = turn.tracker
            intent = (parse_data.get("intent") or {}).get("name")
            if tracker.paused and intent != RESTART_INTENT:
                await self._save(turn)
                return []
            if card_pasted:
                turn.log(ev.bot_uttered_from_response(self.privacy.card_warning(), timestamp=self.clock()))
                self._log_action(turn, Prediction(ACTION_LISTEN, PRIVACY_POLICY))
                await self._save(turn)
                return turn.bot_messages(message.sender_id)
            turn.log_many(await extract_slots(self._context(turn), tracker))
            trigger = self.escalation.check_message(tracker)
            if trigger is not None:
                reason, detail = trigger
                await self._handoff(turn, reason, detail, ESCALATION_POLICY)
            else:
                await self._predict_and_run(turn)
            if self.privacy is not None:
                await asyncio.to_thread(self.privacy.check_output, turn.new_events, tracker.events, message.sender_id)
            await self._save(turn)
            return turn.bot_messages(message.sender_id)

    async def tracker_state(self, sender_id: str, events: str | None = "all") -> dict | None:
        """The conversation as Rasa serialises it, or None for an unknown conversation.

        ``events``: ``all``, ``after_restart``, ``session``, ``applied`` or ``none``.
        """
        key = events.lower() if isinstance(events, str) else "none"
        if key not in _EVENT_SELECTIONS:
            raise ValueError(f"unknown events selection {events!r} (expected one of: {', '.join(_EVENT_SELECTIONS)})")
        if key in ("all", "after_restart"):
            tracker = await self.tracker_store.retrieve_full(sender_id)
        else:
            tracker = await self.tracker_store.retrieve(sender_id)
        return None if tracker is None else tracker.current_state(events=_EVENT_SELECTIONS[key])

    async def add_message(
        self, sender_id: str, text: str, sender: str = "user", parse_data: dict | None = None
    ) -> dict:
        """Append a user message without predicting anything (Rasa's
        ``POST /conversations/<id>/messages``); returns the tracker state (events after the
        latest restart). Only ``sender="user"`` is accepted."""
        if sender != "user":
            raise ValueError(f"only user messages can be added, not messages of sender {sender!r}")
        async with self.lock_store.lock(sender_id):
            verdict = await self._screen(text, sender_id)
            flagged = verdict is not None and verdict.flagged
            if flagged:
                parse_data = self.input_rail.blocked_parse(text)
            elif parse_data is None:
                parse_data = await asyncio.to_thread(self.parse, text)
            else:
                parse_data = {"text": text, **parse_data}
            turn = await self._start_turn(sender_id, None, None)
            metadata = self.input_rail.metadata(None, verdict) if flagged else None
            self._log_user(turn, text, parse_data, None, uuid.uuid4().hex, metadata)
            if not turn.tracker.paused and not flagged:
                turn.log_many(await extract_slots(self._context(turn), turn.tracker))
            await self._save(turn)
        state = await self.tracker_state(sender_id, "after_restart")
        assert state is not None
        return state

    async def resume(self, sender_id: str, agent: str | None = None) -> bool:
        """An agent hands the conversation back: ``resume`` (and ``action_listen``) are added
        and its handoff is marked resolved. False when the conversation is unknown or not
        paused."""
        async with self.lock_store.lock(sender_id):
            tracker = await self.tracker_store.retrieve(sender_id)
            if tracker is None or not tracker.paused:
                return False
            turn = _Turn(tracker, None, None, self._stamp)
            now = self.clock()
            turn.log(ev.conversation_resumed(now, {"agent": agent} if agent else None))
            turn.log(ev.action_executed(ACTION_LISTEN, timestamp=now))
            await self._save(turn)
        await asyncio.to_thread(self.handoff_store.resolve, sender_id, agent)
        return True

    async def notify(self, sender_id: str, text: str) -> bool:
        """Say ``text`` in a conversation outside a turn (a ``bot`` event, appended in one
        transaction under the conversation's lock). Clients see it on their next fetch of the
        tracker; nothing is pushed. False when the conversation is unknown."""
        async with self.lock_store.lock(sender_id):
            tracker = await self.tracker_store.retrieve(sender_id)
            if tracker is None:
                return False
            turn = _Turn(tracker, None, None, self._stamp)
            turn.log(ev.bot_uttered(text, timestamp=self.clock()))
            await self._save(turn)
        return True

    def parse(self, text: str) -> dict:
        """The parse of a message: payloads directly, text by the NLU model."""
        payload = parse_payload(text) if text.startswith("/") else None
        if payload is not None:
            return payload
        if self.nlu is None:
            return {"text": text, "intent": {"name": None, "confidence": 0.0}, "entities": [], "intent_ranking": []}
        return self.nlu.parse(text)

    async def aclose(self) -> None:
        if self.action_client is not None:
            await self.action_client.aclose()
        await self.tracker_store.close()
        await asyncio.to_thread(self.handoff_store.close)

    # ------------------------------------------------------------------ the turn

    async def _screen(self, text: str, sender_id: str) -> Any:
        """The input rail's verdict on a message (None without a rail)."""
        return None if self.input_rail is None else await asyncio.to_thread(self.input_rail.check, text, sender_id)

    def _understand(self, text: str, sender_id: str) -> tuple[Any, bool, dict | None]:
        """The input rail's verdict, whether a card number was pasted, and the parse (None for a
        flagged message; an empty parse for a pasted card, whose number entities would hold its
        digits), in one trip to a worker thread."""
        verdict = None if self.input_rail is None else self.input_rail.check(text, sender_id)
        if verdict is not None and verdict.flagged:
            return verdict, False, None
        if self.privacy is not None and self.privacy.card_pasted(text):
            return verdict, True, InjectionRail.blocked_parse(text)
        return verdict, False, self.parse(text)

    async def _refuse_input(self, message: UserMessage, verdict: Any) -> list[dict]:
        """A message the input rail flagged: stored with its verdict and an empty parse, answered
        by the rail's response, or handed off after repeated attempts."""
        rail = self.input_rail
        turn = await self._start_turn(message.sender_id, message.input_channel, message.metadata)
        metadata = rail.metadata(message.metadata, verdict)
        self._log_user(turn, message.text, rail.blocked_parse(message.text), message.input_channel, message.message_id, metadata)
        paused = turn.tracker.paused  # a person has the conversation: stored, nothing said
        if not paused and rail.should_hand_off(turn.tracker.events):
            await self._handoff(turn, REASON_PROMPT_INJECTION, ", ".join(verdict.rules) or None, INPUT_RAIL_POLICY)
        elif not paused:
            response = self._context(turn).render(rail.response, turn.tracker) or {"text": BLOCKED_TEXT}
            turn.log(ev.bot_uttered_from_response({**response, "utter_action": rail.response}, timestamp=self.clock()))
            self._log_action(turn, Prediction(ACTION_LISTEN, INPUT_RAIL_POLICY))
        await self._save(turn)
        return turn.bot_messages(message.sender_id)

    def _context(self, turn: _Turn) -> ActionContext:
        return ActionContext(
            self.domain, self.renderer, self.action_client, self.clock, turn.channel, turn.metadata,
            allowlist=self.allowlist, knowledge=self.knowledge,
        )

    async def _start_turn(self, sender_id: str, channel: str | None, metadata: dict | None) -> _Turn:
        tracker = await self.tracker_store.retrieve(sender_id)
        if tracker is None:
            tracker = self.tracker_store.new_tracker(sender_id)
        turn = _Turn(tracker, channel, metadata, self._stamp)
        if self._needs_new_session(tracker):
            context = self._context(turn)
            turn.log(ev.action_executed(ACTION_SESSION_START, confidence=1.0, timestamp=self.clock()))
            turn.log_many(await ActionSessionStart().run(context, tracker))
        return turn

    def _needs_new_session(self, tracker: DialogueStateTracker) -> bool:
        if not tracker.applied_events():
            return True
        if tracker.paused:
            return False
        minutes = self.domain.session_config.session_expiration_time
        if not minutes:
            return False
        for event in reversed(tracker.events):
            if event["event"] == "user":
                return self.clock() - float(event.get("timestamp") or 0) > minutes * 60
        return False

    def _log_user(self, turn: _Turn, text, parse_data, channel, message_id, metadata) -> None:
        turn.log(ev.user_uttered(text, parse_data, channel, message_id, metadata, timestamp=self.clock()))

    async def _save(self, turn: _Turn) -> None:
        """Store the turn: masked first (``privacy``), the turn itself ran on the real values."""
        sender_id = turn.tracker.sender_id
        new_events, record = turn.new_events, turn.handoff_record
        if self.privacy is not None:
            new_events = await asyncio.to_thread(self.privacy.for_storage, new_events)
            if record is not None:
                record = await asyncio.to_thread(self.privacy.record_for_storage, record)
        await self.tracker_store.append(sender_id, new_events, expected_count=turn.base_count)
        if record is not None:
            await asyncio.to_thread(self.handoff_store.record, sender_id, record)

    async def _predict_and_run(self, turn: _Turn) -> None:
        excluded: set[str] = set()
        for _ in range(self.max_actions_per_turn):
            if turn.tracker.paused:
                return
            prediction = self.policies.predict(turn.tracker, excluded)
            if await self._run(turn, prediction, excluded):
                return
        logger.warning(
            "conversation %s: %d actions without waiting for the user; falling back",
            turn.tracker.sender_id,
            self.max_actions_per_turn,
        )
        await self._run(turn, Prediction(ACTION_DEFAULT_FALLBACK, CIRCUIT_BREAKER), excluded)

    def _log_action(self, turn: _Turn, prediction: Prediction) -> None:
        tracker = turn.tracker
        now = self.clock()
        if tracker.latest_action_name == ACTION_LISTEN and tracker.latest_message_event is not None:
            turn.log(ev.user_featurization(False, now))
        turn.log_many(prediction.events)
        turn.log(ev.action_executed(prediction.action, prediction.policy, prediction.confidence, timestamp=now))

    async def _run(self, turn: _Turn, prediction: Prediction, excluded: set[str]) -> bool:
        """Run the predicted action; True when the turn is over."""
        name = prediction.action
        if name == ACTION_HANDOFF:
            await self._handoff(turn, prediction.reason or "handoff", None, prediction.policy)
            return True
        if name == ACTION_LISTEN:
            self._log_action(turn, prediction)
            return True
        context = self._context(turn)
        try:
            events = await action_for_name(name, self.domain).run(context, turn.tracker)
        except ActionExecutionRejection as exc:
            logger.debug("action %s rejected to run: %s", name, exc)
            turn.log(ev.action_execution_rejected(name, prediction.policy, prediction.confidence, self.clock()))
            excluded.add(name)
            return False
        except ActionFailure as exc:
            await self._action_failed(turn, prediction, exc)
            return True
        except Exception as exc:  # a bug must not lose the turn
            logger.exception("action %s crashed", name)
            await self._action_failed(turn, prediction, ActionFailure(name, "failed", str(exc)))
            return True
        if any(e["event"] == "action_execution_rejected" for e in events):
            turn.log_many(events)
            excluded.add(name)
            return False
        self._log_action(turn, prediction)
        turn.log_many(events)
        if name == ACTION_SESSION_START:
            return True
        if name in _ENDS_TURN:
            self._log_action(turn, Prediction(ACTION_LISTEN, prediction.policy))
            return True
        return False

    async def _action_failed(self, turn: _Turn, prediction: Prediction, failure: ActionFailure) -> None:
        logger.error(
            "conversation %s: action %s failed (%s): %s",
            turn.tracker.sender_id,
            failure.action_name,
            failure.reason,
            failure.message,
        )
        self._log_action(turn, prediction)
        context = self._context(turn)
        details = {"action": failure.action_name, "reason": failure.reason}
        turn.log(context.bot({"text": ACTION_FAILURE_TEXT, FAILURE_METADATA_KEY: details}))
        if self.escalation.too_many_action_failures(turn.tracker):
            await self._handoff(turn, REASON_ACTION_FAILURES, failure.action_name, ESCALATION_POLICY)
        else:
            self._log_action(turn, Prediction(ACTION_LISTEN, prediction.policy))

    async def _handoff(self, turn: _Turn, reason: str, detail: str | None, policy: str) -> None:
        tracker = turn.tracker
        now = self.clock()
        record = self.escalation.build_record(tracker, reason, detail, now)
        self._log_action(turn, Prediction(ACTION_HANDOFF, policy))
        context = self._context(turn)
        response = context.render("utter_handoff", tracker)
        if response is not None:
            message = {**response, "utter_action": "utter_handoff", "handoff_reason": reason}
        else:
            message = {"text": HANDOFF_TEXT, "handoff_reason": reason}
        turn.log(context.bot(message))
        turn.log(ev.conversation_paused(now))
        turn.handoff_record = record
        logger.info(
            "conversation %s handed to a person (%s%s)", tracker.sender_id, reason, f": {detail}" if detail else ""
        )
