"""Account tools: ``action_edit_account``, ``action_close_account`` and the closure's question
``action_ask_close_account_confirmed``.

Slots read: ``new_name``, ``new_email``, ``new_phone`` (when the latest message's intent is
``edit_account``, its ``person``, ``email`` and ``phone`` entities count too),
``close_reason`` (optional), ``close_account_confirmed`` ("yes" once the customer confirmed the
account named in the question). Slot set: ``approval_id``.

A changed e-mail address is announced to the previous address as well. Closing an account is
never done by the assistant: it checks that no order is still in progress and queues an approval
request for a person (:mod:`actions.controls.approvals`).
"""

from __future__ import annotations

from actions.backoffice.sql import IN_PROGRESS
from actions.controls import approvals
from actions.controls.verification import mask_email
from actions.tools import inputs
from actions.tools.base import Call, Tool
from actions.tools.inputs import ToolFailure


def _new(call: Call, slot: str, entity: str):
    value = call.slot(slot)
    if value is None and call.intent == "edit_account":
        value = call.entity(entity)
    return value


class EditAccount(Tool):
    def name(self) -> str:
        return "action_edit_account"

    def execute(self, call: Call) -> None:
        raw_name, raw_email, raw_phone = _new(call, "new_name", "person"), _new(call, "new_email", "email"), _new(call, "new_phone", "phone")
        if raw_name is None and raw_email is None and raw_phone is None:
            raise ToolFailure("What would you like to change: your name, e-mail address or phone number?", "missing")
        name = inputs.name(raw_name) if raw_name is not None else None
        email = inputs.email(raw_email) if raw_email is not None else None
        phone = inputs.phone(raw_phone) if raw_phone is not None else None
        call.params = {"name": name is not None, "email": mask_email(email) if email else None,
                       "phone": "***" + phone[-4:] if phone else None}
        before = call.customer()
        after = call.bo.crm.update_customer(call.customer_id, name=name, email=email, phone=phone)
        changes = []
        if name is not None:
            changes.append(f"your name is now {after.name}")
        if email is not None:
            changes.append(f"your e-mail address is now {mask_email(after.email)}")
        if phone is not None:
            changes.append(f"your phone number now ends in {after.phone[-4:]}")
        text = "Done: " + ", ".join(changes) + "."
        if email is not None and after.email != before.email:
            call.bo.notifier.send(
                "email", before.email, "Your Northwind Outfitters e-mail address was changed",
                f"Hello {before.name},\n\nthe e-mail address of your Northwind Outfitters account was changed to "
                f"{mask_email(after.email)} in a chat with our assistant. If this wasn't you, reply to this e-mail "
                "straight away.\n\nNorthwind Outfitters customer care\n",
            )
            text += " We've let your previous address know too."
        call.say(text)


class AskCloseAccountConfirmed(Tool):
    """The last question of close_account_form: it names the account that would be closed."""

    def name(self) -> str:
        return "action_ask_close_account_confirmed"

    def execute(self, call: Call) -> None:
        call.outcome = "asked"
        call.say(
            f"To confirm: close the Northwind account registered to {mask_email(call.customer().email)}? Yes or no",
            buttons=[{"title": "Yes, close it", "payload": "/affirm"}, {"title": "No, keep it", "payload": "/deny"}],
        )


class CloseAccount(Tool):
    def name(self) -> str:
        return "action_close_account"

    def execute(self, call: Call) -> None:
        if call.slot("close_account_confirmed") != "yes":
            raise ToolFailure("I'll only pass on a request to close your account once you've confirmed it.", "not_confirmed")
        customer = call.customer()
        if customer.status == "closed":
            call.outcome = "already_closed"
            call.say("Your account is already closed.")
            return
        busy = [o.id for o in call.bo.orders.list_orders(call.customer_id, limit=100) if o.status in IN_PROGRESS]
        if busy:
            raise ToolFailure(
                f"Some of your orders are still in progress ({', '.join(sorted(busy))}). Once they've been delivered or "
                "cancelled, I can pass on your request to close the account.",
                "not_allowed",
            )
        reason = str(call.slot("close_reason") or "").strip()[:500] or None
        call.params = {"reason": reason}
        approval, _ = approvals.request(
            call.rt, conversation_id=call.sender_id, customer_id=call.customer_id, tool=call.tool,
            parameters={"kind": approvals.KIND_CLOSE_ACCOUNT, "reason": reason}, dedupe="close_account",
            reuse=("pending", "approved"),
        )
        call.params["approval_id"] = approval.id
        call.set("approval_id", approval.id)
        call.outcome = "pending_approval"
        call.say(
            f"I've passed your request to close the account to our team (reference {approval.id}). A person will "
            f"confirm it and we'll e-mail you at {mask_email(customer.email)} once it's done; until then nothing changes. "
            "Closing removes your profile and saved addresses and can't be undone."
        )
