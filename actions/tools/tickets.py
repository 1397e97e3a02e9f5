"""Support tickets: ``action_create_ticket``, ``action_add_ticket_message``, ``action_ticket_status``.

Slots read: ``ticket_category`` (one of ``policy.yml``'s ``ticket_categories``; by default the
intent's, else ``general``), ``ticket_priority`` (low, normal, high, urgent; default normal),
``ticket_message`` (default: the latest message's text), ``ticket_subject`` (optional),
``order_id`` (optional), ``ticket_id``. Slot set: ``ticket_id``.

The ticketing system has no idempotency keys, so a retried create or add is recognised by its
content: the same conversation's ticket with the same subject and first message, or the same
last customer message on the ticket.
"""

from __future__ import annotations

from actions.backoffice.models import TICKET_PRIORITIES
from actions.tools import inputs
from actions.tools.base import Call, Tool, day, local
from actions.tools.inputs import Invalid

INTENT_CATEGORIES = {"complaint": "complaint", "payment_issue": "billing", "track_order": "order_status",
                     "get_refund": "returns", "edit_account": "account"}


def category(call: Call) -> str:
    raw = call.value("ticket_category")
    if raw is None:
        default = INTENT_CATEGORIES.get(call.intent or "", "general")
        return default if default in call.policy.ticket_categories else call.policy.ticket_categories[0]
    value = str(raw).strip().lower().replace(" ", "_")
    if value not in call.policy.ticket_categories:
        shown = ", ".join(c.replace("_", " ") for c in call.policy.ticket_categories)
        raise Invalid(f"Which of these is it about: {shown}?")
    return value


def priority(call: Call) -> str:
    raw = call.value("ticket_priority")
    value = str(raw or "normal").strip().lower()
    if value not in TICKET_PRIORITIES:
        raise Invalid("How urgent is it: low, normal, high or urgent?")
    return value


def ticket_number(call: Call, question: str) -> str:
    return call.identifier("ticket_id", inputs.ticket_id, question)


class CreateTicket(Tool):
    def name(self) -> str:
        return "action_create_ticket"

    def execute(self, call: Call) -> None:
        body = inputs.text(call.slot("ticket_message") or call.text, "problem, in a sentence or two")
        subject = inputs.text(call.slot("ticket_subject") or body.splitlines()[0], "subject", limit=120)
        cat, prio = category(call), priority(call)
        order_id = None
        if call.value("order_id") is not None:
            order_id = call.order(inputs.order_id(call.value("order_id"))).id
        call.params.update({"category": cat, "priority": prio, "order_id": order_id, "subject": subject})
        ticketing = call.bo.ticketing
        ticket = next(
            (t for t in ticketing.list_tickets(call.customer_id)
             if t.conversation_id == call.sender_id and t.subject == subject[:200] and t.messages and t.messages[0].body == body),
            None,
        )
        if ticket is None:
            ticket = ticketing.create_ticket(call.customer_id, subject, body, category=cat, priority=prio,
                                             order_id=order_id, conversation_id=call.sender_id)
        call.params["ticket_id"] = ticket.id
        call.set("ticket_id", ticket.id)
        call.say(f"I've opened ticket {ticket.id} ({ticket.category.replace('_', ' ')}, {ticket.priority} priority). "
                 "Our team replies by e-mail, usually within one business day.")


class AddTicketMessage(Tool):
    def name(self) -> str:
        return "action_add_ticket_message"

    def execute(self, call: Call) -> None:
        ticket_id = ticket_number(call, "Which ticket should I add it to? Ticket numbers look like TCK-12345.")
        body = inputs.text(call.slot("ticket_message") or call.text, "message to add")
        ticket = call.ticket(ticket_id)
        last = ticket.messages[-1] if ticket.messages else None
        if not (last and last.author == "customer" and last.body == body):  # else: a retry of this very call
            ticket = call.bo.ticketing.add_message(ticket.id, body, author="customer")
        call.say(f"I've added your message to ticket {ticket.id}; it's {ticket.status} and our team will reply by e-mail.")


class TicketStatus(Tool):
    def name(self) -> str:
        return "action_ticket_status"

    def execute(self, call: Call) -> None:
        if call.value("ticket_id") is None:
            tickets = [t for t in call.bo.ticketing.list_tickets(call.customer_id) if t.status != "closed"][:3]
            if not tickets:
                call.say("You have no open tickets.")
                return
            call.outcome = "listed"
            call.say("Your open tickets:\n" + "\n".join(f"- {t.id} \"{t.subject}\": {t.status}" for t in tickets))
            return
        ticket = call.ticket(ticket_number(call, ""))
        last = ticket.messages[-1] if ticket.messages else None
        text = f"Ticket {ticket.id} \"{ticket.subject}\" is {ticket.status}."
        if last is not None:
            who = {"agent": "our team", "customer": "you"}.get(last.author, "us")
            text += f" The latest message is from {who}, on {day(local(call, last.time))}."
        if ticket.status == "pending":
            text += " We're waiting for your reply; you can add a message here."
        call.say(text)
