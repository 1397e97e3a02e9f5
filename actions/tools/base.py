"""The layer every tool stands on.

A tool is a rasa-sdk :class:`~rasa_sdk.Action` subclass of :class:`Tool` with a ``name()`` and an
``execute(call)`` that reads its inputs from the :class:`Call`, asks the back office and says the
outcome. :meth:`Tool.run` does the rest, in this order:

1. allowlist: the conversation's state must allow the tool (``policy.yml``), else it is refused;
2. verification: unless the tool is part of verifying, the conversation must be verified (the
   customer id comes from the database, never from a slot), else the customer is asked to verify;
3. ``execute``; a :class:`ToolFailure` (bad input, not allowed by the rules, not on this account)
   becomes its customer-facing sentence; a back-office rule (``NotAllowed`` ...) a plain
   explanation; anything unexpected is logged, apologised for and handed to a person
   (``FollowupAction("action_human_handoff")``), never shown as a stack trace;
4. audit: one record per call (conversation, customer, tool, masked parameters, outcome, latency).

The back-office calls are blocking, so the tool runs in a worker thread and the action server's
event loop keeps serving other conversations.
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Callable
from zoneinfo import ZoneInfo

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import policy as policies
from actions import runtime
from actions.backoffice.interfaces import BackofficeError, Order
from actions.controls import allowlist, idempotency, verification
from actions.tools.inputs import Invalid, ToolFailure

logger = logging.getLogger(__name__)

HANDOFF = "action_human_handoff"

REFUSED = (
    "Sorry, I can't do that from here. Tell me what you'd like to do, for example track, cancel or "
    "return an order, and I'll take it from there."
)
NEEDS_VERIFICATION = (
    "For your security, I need to confirm it's you first. What's the e-mail address, phone number or "
    "order number on your account? I'll send a 6-digit code to the e-mail address we have on file."
)
LAPSED = (
    "For your security, I need to confirm it's you again: it's been more than {minutes} minutes. "
    "Shall I send a new code to the e-mail address on file?"
)
SOMETHING_WENT_WRONG = (
    "Sorry, something went wrong on our side and I couldn't finish that. I'm passing you to a person on "
    "our team who can help."
)
NOT_ON_ACCOUNT = "I couldn't find {what} on your account. Could you check the number?"

# Back-office rules (``BackofficeError.reason``) in the customer's words.
REASONS = {
    "already_shipped": "it has already shipped",
    "order_cancelled": "it has been cancelled",
    "order_returned": "it has been returned",
    "account_closed": "the account is closed",
    "orders_in_progress": "some orders on the account are still in progress",
    "slot_full": "that time has just been fully booked",
    "slot_in_past": "that time has already passed",
    "appointment_cancelled": "that appointment has been cancelled",
    "appointment_in_past": "that appointment has already started",
    "slot_type_mismatch": "that time is for a different kind of appointment",
    "ticket_closed": "that ticket is closed",
    "not_paid": "nothing has been paid for that order yet",
    "exceeds_refundable": "that's more than can still be refunded for that order",
    "email_in_use": "that e-mail address is already used by another account",
    "bad_email": "that doesn't look like an e-mail address",
    "bad_phone": "that doesn't look like a phone number",
    "incomplete_address": "the address is incomplete",
    "bad_country": "the country isn't one we know",
    "idempotency_key_reused": "that request clashes with an earlier one",
}


class Call:
    """One tool call: the tracker's inputs, the verified customer, what to say and to audit."""

    def __init__(self, tool: str, tracker: Tracker, dispatcher: CollectingDispatcher) -> None:
        self.tool = tool
        self.tracker = tracker
        self.dispatcher = dispatcher
        self.sender_id = str(tracker.sender_id)
        self.rt: runtime.Runtime | None = None
        self.policy: policies.Policy | None = None
        self.customer_id: str | None = None
        self.params: dict[str, Any] = {}
        self.outcome = "ok"
        self.events: list[dict[str, Any]] = []

    # ---------------------------------------------------------------- inputs

    @property
    def bo(self):
        return self.rt.backoffice

    def now(self):
        return self.rt.now()

    def slot(self, name: str) -> Any:
        value = self.tracker.get_slot(name)
        if isinstance(value, str):
            value = value.strip()
        return None if value in ("", [], None) else value

    def entity(self, name: str) -> Any:
        return next(iter(self.tracker.get_latest_entity_values(name)), None)

    def value(self, slot: str, entity: str | None = None) -> Any:
        """What the latest message said (entity), else the slot."""
        found = self.entity(entity or slot)
        return found if found not in (None, "") else self.slot(slot)

    @property
    def text(self) -> str:
        return str((self.tracker.latest_message or {}).get("text") or "").strip()

    @property
    def intent(self) -> str | None:
        return ((self.tracker.latest_message or {}).get("intent") or {}).get("name")

    def key(self, **params: Any) -> str:
        """The idempotency key of this call with these parameters."""
        return idempotency.key(self.sender_id, self.tool, idempotency.trigger_message_id(self.tracker), params)

    # ---------------------------------------------------------------- outputs

    def say(self, text: str, **kwargs: Any) -> None:
        self.dispatcher.utter_message(text=text, **kwargs)

    def set(self, slot: str, value: Any) -> None:
        self.events.append(SlotSet(slot, value))

    def identifier(self, slot: str, parse: Callable[[Any], str], question: str) -> str:
        """The record id the customer gave (:meth:`value`), checked by ``parse``, recorded in the
        audited parameters and the slot; ``question`` is asked when there is none."""
        raw = self.value(slot)
        if raw is None:
            raise ToolFailure(question, "missing")
        found = parse(raw)
        self.params[slot] = found
        self.set(slot, found)
        return found

    def escalate(self) -> None:
        if not any(e.get("event") == "followup" for e in self.events):
            self.events.append(FollowupAction(HANDOFF))

    # ---------------------------------------------------------------- ownership

    def order(self, order_id: str) -> Order:
        """The verified customer's order; another customer's reads exactly like a missing one."""
        return self._owned(self.bo.orders.get_order(order_id), f"order {order_id}")

    def invoice(self, invoice_id: str):
        return self._owned(self.bo.billing.get_invoice(invoice_id), f"invoice {invoice_id}")

    def ticket(self, ticket_id: str):
        return self._owned(self.bo.ticketing.get_ticket(ticket_id), f"ticket {ticket_id}")

    def appointment(self, appointment_id: str):
        return self._owned(self.bo.scheduling.get_appointment(appointment_id), f"appointment {appointment_id}")

    def _owned(self, record, what: str):
        """``record`` when it belongs to the verified customer; else the same failure as a missing one."""
        if record is None or record.customer_id != self.customer_id:
            raise ToolFailure(NOT_ON_ACCOUNT.format(what=what), "not_found")
        return record

    def customer(self):
        customer = self.bo.crm.get_customer(self.customer_id)
        if customer is None:  # verified, then removed: nothing sensible to do here
            raise RuntimeError(f"verified customer {self.customer_id} no longer exists")
        return customer


def local(call: Call, moment: datetime) -> datetime:
    """``moment`` in the store's time zone."""
    return moment.astimezone(ZoneInfo(call.policy.store_timezone))


def today(call: Call) -> date:
    return local(call, call.now()).date()


def day(value: date | datetime) -> str:
    """``Tuesday 3 June``."""
    return f"{value:%A} {value.day} {value:%B}"


def money(amount: Decimal, currency: str) -> str:
    symbol = {"USD": "$", "CAD": "CA$", "GBP": "£", "EUR": "€"}.get(currency)
    return f"{symbol}{amount:,.2f}" if symbol else f"{amount:,.2f} {currency}"


class Tool(Action, ABC):
    """Base of the tools; see the module's docstring. Subclasses set ``name()`` and ``execute``."""

    #: False for the tools that take part in verifying the customer
    needs_verified_customer = True

    @abstractmethod
    def name(self) -> str: ...

    @abstractmethod
    def execute(self, call: Call) -> None:
        """Do the work: read inputs from ``call``, fill ``call.params``, say the outcome."""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self.run_sync, dispatcher, tracker, domain)

    def run_sync(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        started = time.perf_counter()
        call = Call(self.name(), tracker, dispatcher)
        try:
            call.policy = policies.current()
            call.rt = runtime.get()
            if not allowlist.is_allowed(tracker, call.tool, call.policy):
                call.params = {"states": sorted(allowlist.conversation_states(tracker))}
                raise ToolFailure(REFUSED, "refused")
            if self.needs_verified_customer:
                customer_id, lapsed = verification.verified_customer(call.rt, call.sender_id, call.policy)
                if customer_id is None:
                    minutes = f"{call.policy.verification.valid_for_minutes:g}"
                    raise ToolFailure(
                        LAPSED.format(minutes=minutes) if lapsed else NEEDS_VERIFICATION,
                        "verification_required",
                        events=[SlotSet("verification_status", "lapsed" if lapsed else "required"), SlotSet("customer_id", None)],
                    )
                call.customer_id = customer_id
            self.execute(call)
        except ToolFailure as failure:
            call.outcome = failure.outcome
            call.say(failure.message)
            call.events.extend(failure.events)
            if failure.escalate:
                call.escalate()
        except BackofficeError as exc:
            self._backoffice_error(call, exc)
        except Exception:
            logger.exception("conversation %s: tool %s failed", call.sender_id, call.tool)
            call.outcome = "error"
            call.say(SOMETHING_WENT_WRONG)
            call.escalate()
        finally:
            self._audit(call, started)
        return call.events

    def _backoffice_error(self, call: Call, exc: BackofficeError) -> None:
        phrase = REASONS.get(exc.reason)
        if exc.code == "delivery_failed" or phrase is None:
            logger.error("conversation %s: tool %s: back office refused (%s): %s", call.sender_id, call.tool, exc.reason, exc)
            call.outcome = "error" if exc.code == "delivery_failed" else exc.code
            call.say(SOMETHING_WENT_WRONG)
            call.escalate()
            return
        call.outcome = exc.code
        call.say(f"Sorry, I couldn't do that: {phrase}.")

    @staticmethod
    def _audit(call: Call, started: float) -> None:
        if call.rt is None:
            return
        try:
            call.rt.audit.append(
                call.sender_id, call.customer_id, call.tool, call.params, call.outcome, (time.perf_counter() - started) * 1000
            )
        except Exception:
            logger.exception("conversation %s: could not write the audit record of %s", call.sender_id, call.tool)


__all__ = ["Call", "Invalid", "Tool", "ToolFailure", "day", "local", "money", "today"]
