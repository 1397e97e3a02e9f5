"""Finding the customer's account: ``action_identify_customer``.

Reads the ``email``, ``phone`` or ``order_id`` the customer gave (the latest message's entity,
else the slot, in that order). A match reveals nothing but that an account exists and the masked
e-mail address the code goes to; the account is only acted on after the code is confirmed
(:mod:`actions.controls.step_up`).
"""

from __future__ import annotations

from actions.backoffice.interfaces import Customer
from actions.controls import step_up
from actions.controls.verification import mask_email
from actions.tools import inputs
from actions.tools.base import Call, Tool
from actions.tools.inputs import ToolFailure

ASK = "What's the e-mail address, phone number or order number on your account?"
WHAT = {"email": "that e-mail address", "phone": "that phone number", "order_id": "that order number"}


def _identifier(call: Call) -> tuple[str, str]:
    for name in ("email", "phone", "order_id"):
        if call.entity(name) not in (None, ""):
            return name, call.entity(name)
    for name in ("email", "phone", "order_id"):
        if call.slot(name) is not None:
            return name, call.slot(name)
    raise ToolFailure(ASK, "missing")


def find_customer(call: Call) -> Customer:
    """The active account the customer's e-mail, phone or order number leads to."""
    kind, raw = _identifier(call)
    crm = call.bo.crm
    if kind == "email":
        value = inputs.email(raw)
        customer = crm.find_customer_by_email(value)
        call.params = {"by": kind, "email": mask_email(value)}
    elif kind == "phone":
        value = inputs.phone(raw)
        customer = crm.find_customer_by_phone(value)
        call.params = {"by": kind, "phone": "***" + value[-4:]}
    else:
        value = inputs.order_id(raw)
        customer = crm.find_customer_by_order(value)
        call.params = {"by": kind, "order_id": value}
    if customer is None:
        raise ToolFailure(
            f"I couldn't find an account with {WHAT[kind]}. Could you check it, or give me your e-mail address, "
            "phone number or an order number instead?",
            "not_found",
        )
    call.customer_id = customer.id
    if customer.status != "active":
        raise ToolFailure(
            "That account has been closed, so I can't make changes to it here. If you need help with a past order, "
            "type \"agent\" and a person on our team will help.",
            "account_closed",
        )
    return customer


class IdentifyCustomer(Tool):
    """Look the customer up and send a verification code to the e-mail address on file."""

    needs_verified_customer = False

    def name(self) -> str:
        return "action_identify_customer"

    def execute(self, call: Call) -> None:
        customer = find_customer(call)
        step_up.start(call, customer, intro="Thanks, I found an account.")
