"""Tool calls held back for a person's decision.

Refunds above ``refund_approval_threshold`` and account closures are not carried out by the
assistant: it records an :class:`~actions.backoffice.models.ApprovalRequest` (and, for a refund,
the refund itself in state ``pending_approval``, which reserves the amount) and tells the
customer that a person will review it. An agent then calls :func:`decide` (or the command line,
``python -m actions.approvals``):

* approve: the request moves ``pending`` -> ``approved`` with one conditional update, so of two
  agents deciding at once only one wins; the stored action is carried out (it is idempotent,
  so resuming a half-finished approval is safe) and the request becomes ``executed``, again
  with a conditional update, whose single winner e-mails the outcome to the customer (outbox).
  Running it again changes nothing.
* reject: ``pending`` -> ``rejected``; a held refund becomes ``rejected`` and the customer is told.

Nothing held here is ever carried out without an approval.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Callable

import sqlalchemy as sa

from actions.backoffice import models as m
from actions.backoffice.db import session_scope
from actions.backoffice.interfaces import BackofficeError, Conflict, InvalidRequest, NotFound
from actions.backoffice.sql import normalise_id
from actions.runtime import Runtime, build
from actions.runtime import get as current_runtime

KIND_REFUND = "refund"
KIND_CLOSE_ACCOUNT = "close_account"


@dataclass(frozen=True)
class Approval:
    id: str
    conversation_id: str
    customer_id: str | None
    tool: str
    parameters: dict[str, Any]
    amount: Decimal | None
    currency: str | None
    status: str
    requested_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None
    executed_at: datetime | None = None

    @property
    def kind(self) -> str:
        return str(self.parameters.get("kind") or "")

    def summary(self) -> str:
        p = self.parameters
        if self.kind == KIND_REFUND:
            what = f"refund {p.get('refund_id')} of {self.amount} {self.currency} for {p.get('order_id')}"
        elif self.kind == KIND_CLOSE_ACCOUNT:
            what = f"close account {self.customer_id}"
        else:
            what = self.tool
        return what + (f" ({p['reason']})" if p.get("reason") else "")


@dataclass(frozen=True)
class Decision:
    approval: Approval
    executed: bool  # the held action has been carried out (now or earlier)
    changed: bool  # this call changed the request
    message: str  # for the agent


def _record(row: m.ApprovalRequest) -> Approval:
    return Approval(**{f.name: getattr(row, f.name) for f in dataclasses.fields(Approval)})


def _runtime(db: Any) -> Runtime:
    if isinstance(db, Runtime):
        return db
    return current_runtime() if db is None else build(db)


# --------------------------------------------------------------------------- requesting


def request(
    rt: Runtime,
    *,
    conversation_id: str,
    customer_id: str,
    tool: str,
    parameters: dict[str, Any],
    dedupe: str,
    reuse: tuple[str, ...] = ("pending", "approved", "rejected", "executed"),
    amount: Decimal | None = None,
    currency: str | None = None,
) -> tuple[Approval, bool]:
    """Hold ``tool`` with ``parameters`` for approval; ``(request, created)``.

    A request of the same customer and tool with the same ``dedupe`` value whose status is in
    ``reuse`` is returned instead of creating another (a retried call never queues twice).
    """
    with session_scope(rt.sessions, write=True) as s:
        # serialise requests per customer (PostgreSQL row lock; SQLite holds its write lock already)
        s.execute(sa.select(m.Customer.id).where(m.Customer.id == customer_id).with_for_update())
        rows = s.scalars(
            sa.select(m.ApprovalRequest)
            .where(m.ApprovalRequest.customer_id == customer_id, m.ApprovalRequest.tool == tool,
                   m.ApprovalRequest.status.in_(reuse))
            .order_by(m.ApprovalRequest.requested_at.desc(), m.ApprovalRequest.id.desc())
        ).all()
        for row in rows:
            if (row.parameters or {}).get("dedupe") == dedupe:
                return _record(row), False
        row = m.ApprovalRequest(
            id=m.next_id(s, "APR"), conversation_id=conversation_id, customer_id=customer_id, tool=tool,
            parameters={**parameters, "dedupe": dedupe}, amount=amount, currency=currency, status="pending",
            requested_at=rt.now(),
        )
        s.add(row)
        s.flush()
        return _record(row), True


def get(request_id: str, *, db: Any = None) -> Approval | None:
    rt = _runtime(db)
    with session_scope(rt.sessions) as s:
        row = s.get(m.ApprovalRequest, normalise_id(request_id, "APR"))
        return _record(row) if row else None


def list_requests(status: str | None = "pending", *, db: Any = None, limit: int = 100) -> list[Approval]:
    """Requests oldest first; ``status=None`` for all of them."""
    rt = _runtime(db)
    stmt = sa.select(m.ApprovalRequest).order_by(m.ApprovalRequest.requested_at, m.ApprovalRequest.id).limit(limit)
    if status is not None:
        if status not in m.APPROVAL_STATUSES:
            raise InvalidRequest(f"status must be one of {', '.join(m.APPROVAL_STATUSES)}", reason="bad_status")
        stmt = stmt.where(m.ApprovalRequest.status == status)
    with session_scope(rt.sessions) as s:
        return [_record(row) for row in s.scalars(stmt)]


# --------------------------------------------------------------------------- deciding


def _money(amount: Decimal | None, currency: str | None) -> str:
    return f"{amount} {currency}" if amount is not None else ""


def _tell_customer(rt: Runtime, approval: Approval, subject: str, body: str) -> None:
    customer = rt.backoffice.crm.get_customer(approval.customer_id) if approval.customer_id else None
    if customer is None:
        return
    rt.backoffice.notifier.send("email", customer.email, subject, f"Hello {customer.name},\n\n{body}\n\nNorthwind Outfitters customer care\n")


def _execute_refund(rt: Runtime, approval: Approval) -> tuple[str, str]:
    p = approval.parameters
    rt.backoffice.billing.set_refund_status(p["refund_id"], "approved")
    return (
        f"Your refund for order {p['order_id']} has been approved",
        f"We've approved your refund of {_money(approval.amount, approval.currency)} for order {p['order_id']} "
        f"(reference {p['refund_id']}). It goes back to your original payment method within 5 business days; "
        "your bank may take another 3-5 business days to show it.",
    )


def _reject_refund(rt: Runtime, approval: Approval, reason: str | None) -> tuple[str, str]:
    p = approval.parameters
    rt.backoffice.billing.set_refund_status(p["refund_id"], "rejected")
    because = f" The reason: {reason}." if reason else ""
    return (
        f"About your refund request for order {p['order_id']}",
        f"We've reviewed your refund request of {_money(approval.amount, approval.currency)} for order "
        f"{p['order_id']} (reference {p['refund_id']}) and couldn't approve it.{because} "
        "If you have questions, reply to this e-mail or chat with us and type \"agent\".",
    )


def _execute_close(rt: Runtime, approval: Approval) -> tuple[str, str]:
    rt.backoffice.crm.close_account(approval.customer_id, reason=approval.parameters.get("reason"))
    return (
        "Your Northwind Outfitters account has been closed",
        "As you asked, we've closed your Northwind Outfitters account. If this wasn't you, "
        "reply to this e-mail straight away.",
    )


def _reject_close(rt: Runtime, approval: Approval, reason: str | None) -> tuple[str, str]:
    because = f" The reason: {reason}." if reason else ""
    return (
        "About your request to close your account",
        f"We haven't closed your Northwind Outfitters account.{because} "
        "If you have questions, reply to this e-mail or chat with us and type \"agent\".",
    )


Handler = Callable[..., tuple[str, str]]
EXECUTE: dict[str, Handler] = {KIND_REFUND: _execute_refund, KIND_CLOSE_ACCOUNT: _execute_close}
REJECT: dict[str, Handler] = {KIND_REFUND: _reject_refund, KIND_CLOSE_ACCOUNT: _reject_close}


def decide(request_id: str, approve: bool, agent: str, reason: str | None = None, *, db: Any = None) -> Decision:
    """Approve (and carry out) or reject a held request.

    Raises :class:`NotFound` for an unknown request, :class:`Conflict` when it was already decided
    the other way, :class:`InvalidRequest` without an agent name. Deciding the same way again is a
    no-op (an approval whose execution failed is retried).
    """
    agent = str(agent or "").strip()
    if not agent:
        raise InvalidRequest("the deciding agent's name is required", reason="missing_agent")
    reason = (reason or "").strip() or None
    started = time.perf_counter()
    rt = _runtime(db)
    key = normalise_id(request_id, "APR")
    now = rt.now()
    table = m.ApprovalRequest.__table__
    with session_scope(rt.sessions, write=True) as s:
        row = s.scalars(sa.select(m.ApprovalRequest).where(m.ApprovalRequest.id == key).with_for_update()).one_or_none()
        if row is None:
            raise NotFound(f"no approval request {request_id}")
        if row.parameters.get("kind") not in EXECUTE:
            raise InvalidRequest(f"approval request {row.id} holds an unknown action", reason="unknown_action")
        approval = _record(row)
        wanted = "approved" if approve else "rejected"
        claimed = s.execute(
            sa.update(table).where(table.c.id == key, table.c.status == "pending")
            .values(status=wanted, decided_by=agent[:100], decided_at=now, reason=reason)
        ).rowcount == 1
        if not claimed and (approval.status == "rejected") == approve:
            raise Conflict(
                f"{approval.id} was already {approval.status} by {approval.decided_by}", reason="already_decided"
            )
    decision = _carry_out(rt, key, approve, claimed, reason)
    rt.audit.append(
        decision.approval.conversation_id, decision.approval.customer_id, "approval." + ("approve" if approve else "reject"),
        {"request_id": key, "agent": agent, "reason": reason, "held_tool": decision.approval.tool},
        ("executed" if decision.executed else "not_executed") if approve else "rejected",
        (time.perf_counter() - started) * 1000,
    )
    return decision


def _carry_out(rt: Runtime, key: str, approve: bool, claimed: bool, reason: str | None) -> Decision:
    table = m.ApprovalRequest.__table__
    approval = get(key, db=rt)
    if not approve:
        if claimed:
            subject, body = REJECT[approval.kind](rt, approval, reason)
            _tell_customer(rt, approval, subject, body)
            return Decision(approval, False, True, f"{approval.id} rejected: {approval.summary()}; the customer was told")
        return Decision(approval, False, False, f"{approval.id} was already rejected")
    if approval.status == "executed":
        return Decision(approval, True, claimed, f"{approval.id} was already approved and carried out")
    try:
        subject, body = EXECUTE[approval.kind](rt, approval)
    except BackofficeError as exc:
        return Decision(approval, False, claimed, f"{approval.id} approved, but it could not be carried out: {exc}")
    with session_scope(rt.sessions, write=True) as s:
        finished = s.execute(
            sa.update(table).where(table.c.id == key, table.c.status == "approved").values(status="executed", executed_at=rt.now())
        ).rowcount == 1
    if finished:
        _tell_customer(rt, approval, subject, body)
    approval = get(key, db=rt)
    return Decision(approval, True, True, f"{approval.id} approved and carried out: {approval.summary()}; the customer was told")
