"""Agent-only actions over held requests (:mod:`actions.controls.approvals`), called by the Desk
server's ``/approvals`` endpoints with Rasa's request format, never predicted in a conversation.

``action_list_approvals``
    the requests (pending by default; ``latest_message.metadata.status`` picks another status or
    ``all``) in one ``custom`` response: ``{"approvals": [...]}``.
``action_decide_approval``
    reads ``{"approval_id", "approve", "agent", "reason"?}`` from ``latest_message.metadata``, calls
    :func:`~actions.controls.approvals.decide` and answers with the customer-facing outcome as a
    text response (when the customer is to be told) and a ``custom`` response
    ``{"approval", "conversation_id", "executed", "changed", "message"}``.

Both refuse unless the call's ``sender_id`` starts with :data:`AGENT_SENDER_PREFIX`, which the
public channels never accept as a conversation id. A refusal, like any error, is a ``custom``
response ``{"error": {"reason", "message"}}``; ``reason`` is one of ``forbidden``, ``not_found``,
``already_decided``, ``invalid``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict
from datetime import datetime
from decimal import Decimal
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.backoffice.interfaces import BackofficeError, Conflict, InvalidRequest, NotFound
from actions.controls import approvals

logger = logging.getLogger(__name__)

AGENT_SENDER_PREFIX = "__agent__:"
# Agents' actions, called by the Desk server for an agent, never chosen in a customer's conversation.
AGENT_ACTIONS = frozenset({"action_list_approvals", "action_decide_approval"})
REFUSED = "Sorry, I can't do that from here."


def is_agent(tracker: Tracker) -> bool:
    return str(tracker.sender_id or "").startswith(AGENT_SENDER_PREFIX)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def as_json(approval: approvals.Approval) -> dict:
    data = _plain(asdict(approval))
    data["parameters"] = {k: v for k, v in data["parameters"].items() if k != "dedupe"}
    data["summary"] = approval.summary()
    return data


def _money(approval: approvals.Approval) -> str:
    return f"{approval.amount} {approval.currency}" if approval.amount is not None else ""


def customer_text(approval: approvals.Approval, approve: bool, reason: str | None) -> str:
    """What the customer reads in the conversation about the decision."""
    p = approval.parameters
    because = f" The reason: {reason}." if reason and not approve else ""
    if approval.kind == approvals.KIND_REFUND:
        if approve:
            return (f"Good news: we've approved your refund of {_money(approval)} for order {p.get('order_id')} "
                    f"(reference {p.get('refund_id')}). It goes back to your original payment method within "
                    "5 business days.")
        return (f"We've reviewed your refund request of {_money(approval)} for order {p.get('order_id')} "
                f"(reference {p.get('refund_id')}) and couldn't approve it.{because}")
    if approval.kind == approvals.KIND_CLOSE_ACCOUNT:
        if approve:
            return "As you asked, we've closed your account."
        return f"We haven't closed your account.{because}"
    return ("Your request has been approved and carried out." if approve
            else f"Your request was reviewed and not approved.{because}")


def _error(dispatcher: CollectingDispatcher, reason: str, message: str) -> list:
    dispatcher.utter_message(json_message={"error": {"reason": reason, "message": message}})
    return []


class ActionListApprovals(Action):
    def name(self) -> str:
        return "action_list_approvals"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list:
        if not is_agent(tracker):
            dispatcher.utter_message(text=REFUSED)
            return _error(dispatcher, "forbidden", "only agents may list approval requests")
        metadata = (tracker.latest_message or {}).get("metadata") or {}
        status = metadata.get("status") or "pending"
        try:
            found = await asyncio.to_thread(approvals.list_requests, None if status == "all" else status)
        except InvalidRequest as exc:
            return _error(dispatcher, "invalid", str(exc))
        dispatcher.utter_message(json_message={"approvals": [as_json(a) for a in found]})
        return []


class ActionDecideApproval(Action):
    def name(self) -> str:
        return "action_decide_approval"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list:
        if not is_agent(tracker):
            dispatcher.utter_message(text=REFUSED)
            return _error(dispatcher, "forbidden", "only agents may decide approval requests")
        metadata = (tracker.latest_message or {}).get("metadata") or {}
        request_id, approve = metadata.get("approval_id"), metadata.get("approve")
        agent, reason = metadata.get("agent"), metadata.get("reason")
        if not isinstance(request_id, str) or not request_id or not isinstance(approve, bool):
            return _error(dispatcher, "invalid", "expected metadata {approval_id, approve, agent, reason?}")
        try:
            return await asyncio.to_thread(self._decide, dispatcher, request_id, approve, agent, reason)
        except NotFound as exc:
            return _error(dispatcher, "not_found", str(exc))
        except Conflict as exc:
            return _error(dispatcher, "already_decided", str(exc))
        except BackofficeError as exc:
            return _error(dispatcher, "invalid", str(exc))

    @staticmethod
    def _decide(dispatcher: CollectingDispatcher, request_id: str, approve: bool, agent: Any, reason: Any) -> list:
        reason = reason if isinstance(reason, str) else None
        current = approvals.get(request_id)
        if current is None:
            raise NotFound(f"no approval request {request_id}")
        # an approval whose execution failed earlier ("approved") may be retried; anything else is final
        if current.status != "pending" and not (approve and current.status == "approved"):
            by = f" by {current.decided_by}" if current.decided_by else ""
            raise Conflict(f"{current.id} was already {current.status}{by}", reason="already_decided")
        decision = approvals.decide(request_id, approve, str(agent or ""), reason)
        if not decision.changed:
            raise Conflict(decision.message, reason="already_decided")
        told = decision.executed or not approve
        if told:
            dispatcher.utter_message(text=customer_text(decision.approval, approve, decision.approval.reason))
        dispatcher.utter_message(json_message={
            "approval": as_json(decision.approval),
            "conversation_id": decision.approval.conversation_id,
            "executed": decision.executed,
            "changed": decision.changed,
            "message": decision.message,
        })
        return []
