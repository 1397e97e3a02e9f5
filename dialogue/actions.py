"""Actions: what the assistant does at each step of a conversation.

An action reads the tracker and returns events (Rasa wire dicts); it never changes the tracker.
:func:`action_for_name` resolves a name as Rasa does:

- Rasa's default actions (``action_listen``, ``action_restart``, ``action_session_start``,
  ``action_default_fallback``, ``action_deactivate_loop``, ``action_back``,
  ``action_default_ask_affirmation``, ``action_default_ask_rephrase``, ...) unless the domain
  lists an action of that name under ``actions`` (then the action server runs it),
- ``action_answer_from_knowledge``: an answer from the help centre
  (:class:`ActionAnswerFromKnowledge`), whether or not the domain lists it,
- ``utter_*``: a domain response (:class:`UtterAction`),
- a form name: the form (:class:`dialogue.slot_filling.FormAction`),
- anything else: a custom action on the action server (:class:`RemoteAction`).

Custom actions get the tracker of the current session (``current_state(events="session")``)
and the domain. Their reply is checked before anything is used: a malformed event makes the
whole call a failure (:class:`ActionFailure`, reason ``invalid_response``), as do HTTP 404
(``not_found``), other errors (``failed``), timeouts (``timeout``) and connection problems
(``unreachable``). HTTP 400 (rasa-sdk's ``ActionExecutionRejection``) is
:class:`ActionExecutionRejection`: the action refused to run and other policies decide.
"""

from __future__ import annotations

import logging
import random
from typing import Any, Callable

from dialogue import events as ev
from dialogue.action_client import ActionRejected, ActionServerClient, ActionServerError
from dialogue.allowlist import ToolAllowlist
from dialogue.domain import DEFAULT_ACTIONS, REQUESTED_SLOT, SESSION_STARTED_METADATA, Domain
from dialogue.responses import ResponseRenderer
from dialogue.tracker import DialogueStateTracker

logger = logging.getLogger(__name__)

ACTION_LISTEN = "action_listen"
ACTION_RESTART = "action_restart"
ACTION_SESSION_START = "action_session_start"
ACTION_DEFAULT_FALLBACK = "action_default_fallback"
ACTION_DEACTIVATE_LOOP = "action_deactivate_loop"
ACTION_BACK = "action_back"
ACTION_ASK_AFFIRMATION = "action_default_ask_affirmation"
ACTION_ASK_REPHRASE = "action_default_ask_rephrase"
ACTION_EXTRACT_SLOTS = "action_extract_slots"
ACTION_ANSWER_FROM_KNOWLEDGE = "action_answer_from_knowledge"
ACTION_HUMAN_HANDOFF = "action_human_handoff"
NLU_FALLBACK_INTENT = "nlu_fallback"

#: Said when ``utter_default`` is not in the domain.
DEFAULT_FALLBACK_TEXT = "Sorry, I didn't get that. Could you rephrase?"
#: Asked on an unclear message when ``utter_ask_affirmation`` is not in the domain.
CLARIFICATION_TEXT = "Sorry, I'm not sure I understood. Did you mean one of these?"
#: Said when a custom action fails.
ACTION_FAILURE_TEXT = (
    "Sorry, something went wrong on our side and I couldn't complete that just now. "
    "Please try again in a moment."
)
#: Metadata key of the bot event that tells the customer an action failed.
FAILURE_METADATA_KEY = "action_failure"
#: Metadata key of the bot event of a help-centre answer (the answer's record: status, sources).
KNOWLEDGE_METADATA_KEY = "knowledge"

# Keys of a rendered response that only select a variation.
_SELECTION_KEYS = ("condition", "channel")


class ActionExecutionRejection(Exception):
    """The action refused to run (a form that could not use the message, HTTP 400)."""

    def __init__(self, action_name: str, message: str = "") -> None:
        super().__init__(message or f"action {action_name!r} rejected to run")
        self.action_name = action_name
        self.message = message


class ActionFailure(Exception):
    """A custom action could not run. ``reason``: not_found, failed, timeout, unreachable,
    invalid_response. ``action_name`` is the action that failed (e.g. a form's validation)."""

    def __init__(self, action_name: str, reason: str, message: str = "") -> None:
        super().__init__(f"action {action_name!r} {reason}: {message}".rstrip(": "))
        self.action_name = action_name
        self.reason = reason
        self.message = message


class ActionContext:
    """What actions need besides the tracker: the domain, responses, the action server, time."""

    def __init__(
        self,
        domain: Domain,
        renderer: ResponseRenderer | None = None,
        client: ActionServerClient | None = None,
        clock: Callable[[], float] | None = None,
        channel: str | None = None,
        metadata: dict | None = None,
        rng: random.Random | None = None,
        allowlist: ToolAllowlist | None = None,
        knowledge: Any = None,
    ) -> None:
        import time

        self.domain = domain
        self.renderer = renderer or ResponseRenderer(domain)
        self.client = client
        self.clock = clock or time.time
        self.channel = channel
        self.metadata = metadata
        self.rng = rng
        self.allowlist = allowlist
        #: answers help-centre questions (``answer_async(text)`` or ``answer(text)`` returning
        #: a :class:`knowledge.answer.Answer`); ``None`` when the project has no knowledge index
        self.knowledge = knowledge

    def now(self) -> float:
        return self.clock()

    # ------------------------------------------------------------------ responses

    def bot(self, message: dict) -> dict:
        """A ``bot`` event for a message (text/buttons/image/custom/attachment + metadata keys)."""
        return ev.bot_uttered_from_response(message, timestamp=self.now())

    def render(self, name: str, tracker: DialogueStateTracker, variables: dict | None = None) -> dict | None:
        """Response ``name`` filled from the tracker's slots, without selection keys."""
        response = self.renderer.generate(name, tracker.slots, self.channel, self.rng, variables)
        if response is None:
            return None
        return {k: v for k, v in response.items() if k not in _SELECTION_KEYS}

    def utter(self, name: str, tracker: DialogueStateTracker, silent: bool = False) -> list[dict]:
        """The ``bot`` event of response ``name`` (``[]`` when the domain has none)."""
        response = self.render(name, tracker)
        if response is None:
            if not silent:
                logger.error("no response %r in the domain (or no variation fits)", name)
            return []
        return [self.bot({**response, "utter_action": name})]

    # ------------------------------------------------------------------ action server

    async def run_remote(self, name: str, tracker: DialogueStateTracker) -> list[dict]:
        """Run custom action ``name``: its bot messages first, then its events (checked)."""
        if self.client is None:
            message = "no action server is configured (`action_endpoint` in endpoints.yml)"
            raise ActionFailure(name, "unreachable", message)
        if self.allowlist is not None and not self.allowlist.allows(name, tracker):
            scopes = ", ".join(sorted(self.allowlist.scopes(tracker))) or "nothing"
            logger.warning("refused %s for %s: policy.yml allows it for none of: %s", name, tracker.sender_id, scopes)
            raise ActionFailure(name, "not_allowed", f"not in the allowlist for {scopes}")
        try:
            reply = await self.client.run(name, tracker.sender_id, tracker.current_state(events="session"))
        except ActionRejected as exc:
            raise ActionExecutionRejection(name, exc.message) from None
        except ActionServerError as exc:
            raise ActionFailure(exc.action_name, exc.reason, exc.message) from None
        try:
            events = ev.validate_events(reply["events"], now=self.now())
            bots = [self._response_event(response, tracker) for response in reply["responses"]]
        except (ValueError, TypeError, AttributeError) as exc:
            raise ActionFailure(name, "invalid_response", str(exc)) from None
        return [b for b in bots if b is not None] + events

    def _response_event(self, response: Any, tracker: DialogueStateTracker) -> dict | None:
        """A ``bot`` event for one of an action server's responses, built as Rasa builds it."""
        if not isinstance(response, dict):
            raise ValueError(f"a response must be an object, got {type(response).__name__}")
        response = dict(response)
        name = response.pop("response", None) or response.pop("template", None)
        response.pop("template", None)
        draft: dict = {}
        if name:
            variables = {k: v for k, v in response.items() if v is not None}
            rendered = self.render(name, tracker, variables)
            if rendered is None:
                logger.warning("the action server asked for response %r, which the domain does not have", name)
                return None
            draft = {**rendered, "utter_action": name}
        buttons = response.pop("buttons", None) or []
        if buttons:
            draft["buttons"] = list(draft.get("buttons") or []) + list(buttons)
        draft.update({k: v for k, v in response.items() if v})
        return self.bot(draft)


class Action:
    """A step the assistant takes; ``run`` returns events and must not change the tracker."""

    name: str = ""

    async def run(self, context: ActionContext, tracker: DialogueStateTracker) -> list[dict]:  # pragma: no cover
        raise NotImplementedError


class ActionListen(Action):
    name = ACTION_LISTEN

    async def run(self, context, tracker):
        return []


class UtterAction(Action):
    """Says a domain response."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def run(self, context, tracker):
        return context.utter(self.name, tracker)


class RemoteAction(Action):
    """A custom action run by the action server."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def run(self, context, tracker):
        return await context.run_remote(self.name, tracker)


class ActionRestart(Action):
    """``utter_restart`` (if defined), then ``restart``; a new session follows."""

    name = ACTION_RESTART

    async def run(self, context, tracker):
        return context.utter("utter_restart", tracker, silent=True) + [ev.restarted(context.now())]


class ActionSessionStart(Action):
    """``session_started``, the previous session's slots (``carry_over_slots_to_new_session``),
    the new session's metadata, then ``action_listen``."""

    name = ACTION_SESSION_START

    async def run(self, context, tracker):
        now = context.now()
        events = [ev.session_started(now)]
        if context.domain.session_config.carry_over_slots_to_new_session:
            events += [
                ev.slot_set(e["name"], e.get("value"), now, e.get("metadata"))
                for e in tracker.applied_events()
                if e["event"] == "slot"
            ]
        if context.metadata:
            events.append(ev.slot_set(SESSION_STARTED_METADATA, dict(context.metadata), now))
        events.append(ev.action_executed(ACTION_LISTEN, timestamp=now))
        return events


class ActionDefaultFallback(Action):
    """``utter_default`` (or a built-in apology), then the user's message is reverted."""

    name = ACTION_DEFAULT_FALLBACK

    async def run(self, context, tracker):
        said = context.utter("utter_default", tracker, silent=True)
        if not said:
            said = [context.bot({"text": DEFAULT_FALLBACK_TEXT})]
        return said + [ev.user_utterance_reverted(context.now())]


class ActionDeactivateLoop(Action):
    name = ACTION_DEACTIVATE_LOOP

    async def run(self, context, tracker):
        now = context.now()
        return [ev.active_loop(None, now), ev.slot_set(REQUESTED_SLOT, None, now)]


class ActionBack(Action):
    """``utter_back`` (if defined), then the last two user messages are reverted."""

    name = ACTION_BACK

    async def run(self, context, tracker):
        now = context.now()
        return context.utter("utter_back", tracker, silent=True) + [
            ev.user_utterance_reverted(now),
            ev.user_utterance_reverted(now),
        ]


class ActionAskRephrase(Action):
    name = ACTION_ASK_REPHRASE

    async def run(self, context, tracker):
        return context.utter("utter_ask_rephrase", tracker, silent=True)


class ActionNothing(Action):
    """Default actions that do nothing here (``action_revert_fallback_events``,
    ``action_unlikely_intent``)."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def run(self, context, tracker):
        return []


def humanise(intent: str) -> str:
    """``track_order`` -> ``Track order``."""
    words = intent.replace("_", " ").replace("-", " ").split()
    text = " ".join(words)
    return text[:1].upper() + text[1:]


class ActionAskAffirmation(Action):
    """Clarification: "Did you mean ...?" with a button for each of the two likeliest intents.

    Button titles come from ``utter_intent_<intent>`` when the domain has it, else the intent
    name made readable; payloads are ``/<intent>``. The question is ``utter_ask_affirmation``
    when defined.
    """

    name = ACTION_ASK_AFFIRMATION

    def __init__(self, candidates: int = 2) -> None:
        self.candidates = candidates

    async def run(self, context, tracker):
        latest = tracker.latest_message
        ranking = latest.get("intent_ranking") or []
        intents = []
        for item in ranking:
            name = item.get("name") if isinstance(item, dict) else None
            if name and name != NLU_FALLBACK_INTENT and name not in intents:
                intents.append(name)
        intents = intents[: self.candidates]
        if not intents:
            return [context.bot({"text": DEFAULT_FALLBACK_TEXT, "utter_action": self.name})]
        buttons = [{"title": self._title(context, tracker, intent), "payload": f"/{intent}"} for intent in intents]
        question = context.render("utter_ask_affirmation", tracker)
        text = (question or {}).get("text") or CLARIFICATION_TEXT
        return [context.bot({"text": text, "buttons": buttons, "utter_action": self.name})]

    @staticmethod
    def _title(context: ActionContext, tracker: DialogueStateTracker, intent: str) -> str:
        response = context.render(f"utter_intent_{intent}", tracker)
        if response and response.get("text"):
            return response["text"]
        return humanise(intent)


class ActionExtractSlots(Action):
    """Fills slots from the latest message by the domain's slot mappings."""

    name = ACTION_EXTRACT_SLOTS

    async def run(self, context, tracker):
        from dialogue.slot_filling import extract_slots

        return await extract_slots(context, tracker)


class ActionAnswerFromKnowledge(Action):
    """Answers the latest user message from the help centre (``context.knowledge``).

    The answer is said as a bot message whose metadata ``knowledge`` records it
    (``Answer.to_dict()``: status, sources with document ids, versions and chunks, method).
    When the documents disagree (status ``conflict``) the conversation is then handed to a
    person (a ``followup`` to ``action_human_handoff``). Without a knowledge index it says
    ``utter_default`` (or a built-in apology) and logs a warning.
    """

    name = ACTION_ANSWER_FROM_KNOWLEDGE

    async def run(self, context, tracker):
        answerer = context.knowledge
        if answerer is None:
            logger.warning("%s: the project has no knowledge index (run `desk index`)", self.name)
            return self._fallback(context, tracker)
        question = (tracker.latest_message or {}).get("text") or ""
        if not question.strip():
            logger.warning("%s: the latest user message has no text to answer", self.name)
            return self._fallback(context, tracker)
        if hasattr(answerer, "answer_async"):
            answer = await answerer.answer_async(question)
        else:
            answer = answerer.answer(question)
        message = {"text": answer.text, "utter_action": self.name, KNOWLEDGE_METADATA_KEY: answer.to_dict()}
        events = [context.bot(message)]
        if answer.status == "conflict":
            events.append(ev.followup(ACTION_HUMAN_HANDOFF, context.now()))
        return events

    @staticmethod
    def _fallback(context: ActionContext, tracker: DialogueStateTracker) -> list[dict]:
        said = context.utter("utter_default", tracker, silent=True)
        return said or [context.bot({"text": DEFAULT_FALLBACK_TEXT})]


_DEFAULTS: dict[str, Callable[[], Action]] = {
    ACTION_LISTEN: ActionListen,
    ACTION_RESTART: ActionRestart,
    ACTION_SESSION_START: ActionSessionStart,
    ACTION_DEFAULT_FALLBACK: ActionDefaultFallback,
    ACTION_DEACTIVATE_LOOP: ActionDeactivateLoop,
    ACTION_BACK: ActionBack,
    ACTION_ASK_AFFIRMATION: ActionAskAffirmation,
    "action_two_stage_fallback": ActionAskAffirmation,
    ACTION_ASK_REPHRASE: ActionAskRephrase,
    ACTION_EXTRACT_SLOTS: ActionExtractSlots,
}


def action_for_name(name: str, domain: Domain) -> Action:
    """The action called ``name`` (see the module docstring for how names resolve)."""
    user_actions = set(domain.actions)
    if name == ACTION_ANSWER_FROM_KNOWLEDGE:
        return ActionAnswerFromKnowledge()
    if name in DEFAULT_ACTIONS and name not in user_actions and name not in domain.forms:
        factory = _DEFAULTS.get(name)
        return factory() if factory else ActionNothing(name)
    if name.startswith("utter_"):
        return UtterAction(name)
    if name in domain.forms and name not in user_actions:
        from dialogue.slot_filling import FormAction

        return FormAction(name)
    return RemoteAction(name)
