"""Slot validation for the forms that collect the tools' inputs (rasa-sdk ``FormValidationAction``s).

Every form validator checks the same slots the same way (:mod:`.inputs`): a bad value is
refused with the sentence that says why, and the form asks again; a good one is stored in normal
form (``ord 10001`` -> ``ORD-10001``, a phone number in E.164, a date as ``YYYY-MM-DD``). Only
the slots a form lists under ``required_slots`` in the domain are validated by it. When a form
starts, what an earlier request left in its slots is cleared (:mod:`.requests`).

Forms: ``verification_form``, ``order_status_form``, ``cancel_order_form``,
``change_address_form``, ``invoice_form``, ``refund_form``, ``ticket_form``,
``appointment_form``, ``edit_account_form``, ``close_account_form``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from typing import Any, Callable
from zoneinfo import ZoneInfo

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction

from actions import policy as policies
from actions.backoffice.models import TICKET_PRIORITIES
from actions.tools import inputs
from actions.tools.appointments import TYPES
from actions.tools.inputs import Invalid
from actions.tools.requests import form_starting, stale_slots


def _today():
    return datetime.now(ZoneInfo(policies.current().store_timezone)).date()


def _ticket_category(value: Any) -> str:
    category = str(value).strip().lower().replace(" ", "_")
    categories = policies.current().ticket_categories
    if category not in categories:
        raise Invalid("Which of these is it about: " + ", ".join(c.replace("_", " ") for c in categories) + "?")
    return category


def _ticket_priority(value: Any) -> str:
    priority = str(value).strip().lower()
    if priority not in TICKET_PRIORITIES:
        raise Invalid("How urgent is it: low, normal, high or urgent?")
    return priority


def _appointment_type(value: Any) -> str:
    kind = TYPES.get(" ".join(str(value).lower().replace("-", " ").split()))
    if kind is None:
        raise Invalid("We offer fittings, gear repairs and bike services. Which one would you like?")
    return kind


def _amount(value: Any) -> str:
    return str(inputs.amount(value))


CHECKS: dict[str, Callable[[Any], Any]] = {
    "order_id": inputs.order_id,
    "invoice_id": inputs.invoice_id,
    "ticket_id": inputs.ticket_id,
    "appointment_id": inputs.appointment_id,
    "email": inputs.email,
    "new_email": inputs.email,
    "phone": inputs.phone,
    "new_phone": inputs.phone,
    "new_name": inputs.name,
    "amount": _amount,
    "date": lambda value: inputs.future_date(value, _today()).isoformat(),
    "time": lambda value: inputs.time_of_day(value).strftime("%H:%M"),
    "address_line1": inputs.street,
    "address_line2": inputs.street,
    "city": inputs.city,
    "postal_code": inputs.postal_code,
    "country": inputs.country,
    "ticket_category": _ticket_category,
    "ticket_priority": _ticket_priority,
    "appointment_type": _appointment_type,
}


def _validator(slot: str, check: Callable[[Any], Any]):
    def validate(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> dict[str, Any]:
        if value is None:
            return {slot: None}
        try:
            return {slot: check(value)}
        except Invalid as exc:
            dispatcher.utter_message(text=exc.message)
            return {slot: None}

    validate.__name__ = f"validate_{slot}"
    return validate


class SlotChecks(FormValidationAction, ABC):
    """``validate_<slot>`` for every slot in :data:`CHECKS`, and a fresh start for each request;
    subclasses only name the form."""

    @abstractmethod
    def name(self) -> str: ...

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list[dict[str, Any]]:
        stale = stale_slots(self.form_name(), tracker, domain)
        events = await super().run(dispatcher, tracker, domain)
        kept = [e for e in events if not (e.get("event") == "slot" and e.get("name") in stale)]
        return kept + [SlotSet(slot, None) for slot in sorted(stale)]


for _slot, _check in CHECKS.items():
    setattr(SlotChecks, f"validate_{_slot}", _validator(_slot, _check))


class ValidateVerificationForm(SlotChecks):
    def name(self) -> str:
        return "validate_verification_form"


class ValidateOrderStatusForm(SlotChecks):
    def name(self) -> str:
        return "validate_order_status_form"


class ValidateCancelOrderForm(SlotChecks):
    def name(self) -> str:
        return "validate_cancel_order_form"


class ValidateChangeAddressForm(SlotChecks):
    def name(self) -> str:
        return "validate_change_address_form"


class ValidateInvoiceForm(SlotChecks):
    def name(self) -> str:
        return "validate_invoice_form"


class ValidateRefundForm(SlotChecks):
    def name(self) -> str:
        return "validate_refund_form"


class ValidateTicketForm(SlotChecks):
    def name(self) -> str:
        return "validate_ticket_form"


class ValidateAppointmentForm(SlotChecks):
    def name(self) -> str:
        return "validate_appointment_form"


class ValidateEditAccountForm(SlotChecks):
    def name(self) -> str:
        return "validate_edit_account_form"


class ValidateCloseAccountForm(SlotChecks):
    """Only the verified customer's own account can be closed: an answer that names another
    account (an e-mail address or a person) is refused, and the form ends with a yes or no on
    the verified account (``action_ask_close_account_confirmed``)."""

    def name(self) -> str:
        return "validate_close_account_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list[dict[str, Any]]:
        if form_starting(self.form_name(), tracker) and _names_someone(tracker):
            dispatcher.utter_message(text=OWN_ACCOUNT_ONLY)
        return await super().run(dispatcher, tracker, domain)

    def validate_close_reason(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> dict[str, Any]:
        if value is None:
            return {"close_reason": None}
        if _names_someone(tracker):
            dispatcher.utter_message(text=OWN_ACCOUNT_ONLY)
            return {"close_reason": None}
        return {"close_reason": value}


def _names_someone(tracker: Tracker) -> bool:
    """Whether the latest message names an e-mail address or a person (someone else's account, maybe)."""
    return any(e.get("entity") in ("email", "person") for e in (tracker.latest_message or {}).get("entities") or [])


OWN_ACCOUNT_ONLY = (
    "I can only close the account of the customer who confirmed their identity in this chat. The holder of any "
    "other account needs to contact us themselves."
)
