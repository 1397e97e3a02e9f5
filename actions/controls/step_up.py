"""The verification tools: ``action_send_verification_code`` and ``action_check_verification_code``
(the customer look-up that starts verification is ``action_identify_customer`` in
:mod:`actions.tools.customers`).

The code is read from the latest message (its ``code`` entity, else the first group of exactly
``code_length`` digits in the text); it is never kept in a slot or written to the audit log.

Slots set: ``verification_status`` (``code_sent``, ``verified``, ``wrong_code``, ``expired``,
``locked``, ``no_challenge``, ``rate_limited``) and, once verified, ``customer_id`` (for the
dialogue and a human agent to read; the tools themselves never trust it).
"""

from __future__ import annotations

import re

from rasa_sdk.events import SlotSet

from actions.backoffice.interfaces import Customer
from actions.controls import verification
from actions.tools.base import Call, Tool
from actions.tools.inputs import ToolFailure


def start(call: Call, customer: Customer, *, intro: str) -> None:
    """Send ``customer`` a code for this conversation and tell the customer where it went."""
    rules = call.policy.verification
    try:
        sent = verification.send_code(call.rt, call.sender_id, customer, call.policy)
    except verification.CodeNotSent as exc:
        if exc.reason == "locked":
            raise ToolFailure(
                "For your security, I can't send another code right now after too many wrong attempts. "
                "I'm passing you to a person on our team who can help.",
                "locked", events=[SlotSet("verification_status", "locked")], escalate=True,
            ) from None
        raise ToolFailure(
            "I've already sent several codes in the last hour, so I can't send another one right now. "
            "I'm passing you to a person on our team who can help.",
            "rate_limited", events=[SlotSet("verification_status", "rate_limited")], escalate=True,
        ) from None
    call.say(
        f"{intro} I've sent a {rules.code_length}-digit code to the e-mail address on file ({sent.masked_email}). "
        f"Please type it here; it's valid for {rules.code_ttl_minutes:g} minutes."
    )
    call.set("verification_status", "code_sent")
    call.outcome = "code_sent"


class SendVerificationCode(Tool):
    """Send a (new) code: to the customer of the conversation's latest code, else to the account
    found from the ``email`` / ``phone`` / ``order_id`` the customer gave."""

    needs_verified_customer = False

    def name(self) -> str:
        return "action_send_verification_code"

    def execute(self, call: Call) -> None:
        from actions.tools.customers import find_customer

        customer_id = verification.last_challenge_customer(call.rt, call.sender_id)
        customer = call.bo.crm.get_customer(customer_id) if customer_id else None
        if customer is None:
            customer = find_customer(call)
        call.customer_id = customer.id
        start(call, customer, intro="Sure.")


class CheckVerificationCode(Tool):
    """Check the code the customer typed against the conversation's latest challenge."""

    needs_verified_customer = False

    def name(self) -> str:
        return "action_check_verification_code"

    def execute(self, call: Call) -> None:
        rules = call.policy.verification
        code = self._code(call, rules.code_length)
        result = verification.check_code(call.rt, call.sender_id, code)
        call.customer_id = result.customer_id
        call.params = {"code_given": True, "attempts_left": result.attempts_left}
        call.outcome = result.status
        if result.status == "verified":
            call.set("verification_status", "verified")
            call.set("customer_id", result.customer_id)
            call.say("Thanks, that's the right code: you're verified.")  # the workflow that asked goes on
        elif result.status == "wrong":
            call.set("verification_status", "wrong_code")
            plural = "attempt" if result.attempts_left == 1 else "attempts"
            call.say(f"Sorry, that code isn't right. Please check the e-mail and try again; "
                     f"you have {result.attempts_left} {plural} left.")
        elif result.status == "expired":
            call.set("verification_status", "expired")
            call.say(f"That code has expired (codes are valid for {rules.code_ttl_minutes:g} minutes). "
                     "Shall I send you a new one?")
        elif result.status == "locked":
            call.set("verification_status", "locked")
            call.say("That's too many wrong codes, so for your security I can't accept more in this conversation. "
                     "I'm passing you to a person on our team who can help.")
            call.escalate()
        else:
            call.set("verification_status", "no_challenge")
            call.say("There's no code waiting to be checked. Shall I send you one?")

    @staticmethod
    def _code(call: Call, length: int) -> str:
        candidates = [call.entity("code"), call.text]
        for candidate in candidates:
            if candidate in (None, ""):
                continue
            text = str(candidate)
            match = re.search(rf"(?<![\d-])(\d(?:[ -]?\d){{{length - 1}}})(?![\d])", text)
            if match:
                digits = re.sub(r"\D", "", match.group(1))
                if len(digits) == length:
                    return digits
        raise ToolFailure(f"Please type the {length}-digit code from the e-mail we sent you.", "missing")
