"""Data-protection operations on the back office: retention, a customer's export, erasure.

- :func:`apply_retention` deletes sent outbox messages and audit records older than their
  retention periods. Deleting the oldest audit records moves the chain's start
  (``audit_head.first_seq``/``base_hash``) and appends a ``privacy.retention`` record, so
  ``audit verify`` still checks every record that is left.
- :func:`export_customer` returns everything held about a customer, as JSON-ready data.
- :func:`erase_customer` removes a customer's personal data and keeps what the business must keep
  (orders, invoices, payments and refunds, with the names and addresses on them replaced), and the
  ids of the conversations it knew of, so that the dialogue side deletes them too. The customer
  row stays, closed, as a tombstone without personal data (orders point to it).

  Audit records are never deleted by an erasure: their customer id and conversation ids are
  replaced by pseudonyms (``ERASED-1a2b3c4d``, random, so they cannot be recomputed from the id)
  and personal data in their parameters is masked. That changes their hashes, so the chain is
  re-computed from the first changed record, after checking that it verifies; a
  ``privacy.erase`` record at the end names the pseudonym, the records changed, and the head
  hash that was replaced, so a head published before the erasure can still be reconciled.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from . import models as m
from .audit import AuditLog, mask_parameters, record_hash
from .db import session_scope

ERASED_NAME = "Erased customer"
ERASED_TEXT = "[erased]"
RETENTION_TOOL = "privacy.retention"
ERASE_TOOL = "privacy.erase"


@functools.lru_cache(maxsize=8)
def personal_data_masker(config_path: str | Path = "config.yml", destination: str = "audit") -> Callable[[str], str]:
    """Masks the ``destination`` types of the project's ``privacy:`` section (:mod:`nlu.pii`) in a text."""
    import yaml

    from nlu.pii import MaskingPolicy

    path = Path(config_path)
    section = None
    if path.is_file():
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        section = data.get("privacy") if isinstance(data, dict) else None
    policy = MaskingPolicy.from_config(section, str(path))
    return lambda text: policy.mask_text(text, destination)


class ChainBroken(RuntimeError):
    """The audit chain does not verify; nothing was changed."""


def _row(obj: Any) -> dict:
    out = {}
    for column in obj.__table__.columns:
        value = getattr(obj, column.key)
        out[column.key] = value.isoformat() if hasattr(value, "isoformat") else str(value) if isinstance(value, Decimal) else value
    return out


def _conversations(s, customer_id: str) -> set[str]:
    ids: set[str] = set()
    for model in (m.VerificationChallenge, m.ApprovalRequest, m.Ticket):
        ids |= set(s.scalars(sa.select(model.conversation_id).where(model.customer_id == customer_id)))
    order_ids = sa.select(m.Order.id).where(m.Order.customer_id == customer_id)
    ids |= set(s.scalars(sa.select(m.Refund.conversation_id).where(m.Refund.order_id.in_(order_ids))))
    ids |= set(s.scalars(sa.select(m.AuditRecord.conversation_id).where(m.AuditRecord.customer_id == customer_id)))
    return {i for i in ids if i}


def _contacts(customer: m.Customer) -> list[str]:
    return [v for v in (customer.email, customer.phone) if v]


def export_customer(sessions: sessionmaker, customer_id: str) -> dict | None:
    """Everything the back office holds about the customer (``None``: no such customer)."""
    with session_scope(sessions) as s:
        customer = s.get(m.Customer, customer_id)
        if customer is None:
            return None
        orders = []
        for order in customer.orders:
            orders.append({
                **_row(order),
                "items": [_row(i) for i in order.items],
                "shipments": [{**_row(sh), "events": [_row(e) for e in sh.events]} for sh in order.shipments],
                "invoices": [{**_row(inv), "payments": [_row(p) for p in inv.payments]} for inv in order.invoices],
                "refunds": [_row(r) for r in order.refunds],
            })
        tickets = [{**_row(t), "messages": [_row(msg) for msg in t.messages]}
                   for t in s.scalars(sa.select(m.Ticket).where(m.Ticket.customer_id == customer_id).order_by(m.Ticket.id))]

        def rows(model, *where) -> list[dict]:
            return [_row(x) for x in s.scalars(sa.select(model).where(*where))]

        challenges = [{k: v for k, v in c.items() if k not in ("salt", "code_hash")}
                      for c in rows(m.VerificationChallenge, m.VerificationChallenge.customer_id == customer_id)]
        return {
            "customer": _row(customer),
            "addresses": [_row(a) for a in customer.addresses],
            "orders": orders,
            "tickets": tickets,
            "appointments": rows(m.Appointment, m.Appointment.customer_id == customer_id),
            "approval_requests": rows(m.ApprovalRequest, m.ApprovalRequest.customer_id == customer_id),
            "verification_challenges": challenges,
            "messages_sent": rows(m.OutboxMessage, m.OutboxMessage.recipient.in_(_contacts(customer))),
            "audit_records": rows(m.AuditRecord, m.AuditRecord.customer_id == customer_id),
            "conversation_ids": sorted(_conversations(s, customer_id)),
        }


def _pseudonym() -> str:
    return f"ERASED-{secrets.token_hex(4)}"


def erase_customer(sessions: sessionmaker, customer_id: str, mask_text: Callable[[str], str],
                   now: datetime | None = None) -> dict | None:
    """Erase the customer's personal data (see the module docstring); ``mask_text`` masks the
    personal data left in free texts. Returns a summary with the original conversation ids
    (``None``: no such customer). Raises :class:`ChainBroken` before changing anything when the
    audit chain does not verify."""
    audit = AuditLog(sessions)
    result = audit.verify()
    if not result.ok:
        raise ChainBroken(f"the audit log does not verify (record {result.first_bad_seq}: {result.problem}); nothing erased")
    now = now or m.utcnow()
    pseudonym = _pseudonym()
    with session_scope(sessions, write=True) as s:
        customer = s.get(m.Customer, customer_id)
        if customer is None:
            return None
        known = [v for v in (customer.email, customer.phone, customer.name) if v]

        def scrub(text: str | None) -> str | None:
            if text is None:
                return None
            for value in known:
                text = text.replace(value, ERASED_TEXT)
            return mask_text(text)

        conversations = _conversations(s, customer_id)
        renamed = {c: f"erased-{secrets.token_hex(6)}" for c in conversations}  # sender ids can be phone numbers
        contacts = _contacts(customer)
        outbox = s.execute(sa.delete(m.OutboxMessage).where(m.OutboxMessage.recipient.in_(contacts))).rowcount
        s.execute(sa.delete(m.VerificationChallenge).where(m.VerificationChallenge.customer_id == customer_id))
        for address in list(customer.addresses):
            s.delete(address)
        for order in customer.orders:
            order.ship_name, order.ship_line1, order.ship_line2 = ERASED_NAME, ERASED_TEXT, None
            order.ship_postal_code, order.ship_region = ERASED_TEXT, None
            order.cancel_reason = scrub(order.cancel_reason)
            for refund in order.refunds:
                refund.reason = scrub(refund.reason)
        for ticket in s.scalars(sa.select(m.Ticket).where(m.Ticket.customer_id == customer_id)):
            ticket.subject = ERASED_TEXT
            for message in ticket.messages:
                message.body = ERASED_TEXT
        for appointment in s.scalars(sa.select(m.Appointment).where(m.Appointment.customer_id == customer_id)):
            appointment.notes = None
        for model in (m.Ticket, m.Refund, m.ApprovalRequest):
            for row in s.scalars(sa.select(model).where(model.conversation_id.in_(conversations))):
                row.conversation_id = renamed[row.conversation_id]
        for approval in s.scalars(sa.select(m.ApprovalRequest).where(m.ApprovalRequest.customer_id == customer_id)):
            approval.parameters = mask_parameters(approval.parameters, scrub)
            approval.reason = scrub(approval.reason)
        customer.name, customer.email, customer.phone = ERASED_NAME, f"{pseudonym.lower()}@erased.invalid", None
        customer.date_of_birth, customer.email_verified, customer.phone_verified = None, False, False
        customer.status, customer.closed_at, customer.updated_at = "closed", customer.closed_at or now, now
        changed, first = _pseudonymise_audit(s, customer_id, renamed, pseudonym, scrub)
    erase_record = audit.append(None, pseudonym, ERASE_TOOL, {
        "records_changed": changed, "rechained_from": first,
        "replaced_head": {"seq": result.last_seq, "hash": result.last_hash},
    }, "done", 0)
    return {"customer_id": customer_id, "pseudonym": pseudonym, "conversation_ids": sorted(conversations),
            "audit_records_pseudonymised": changed, "outbox_messages_deleted": outbox, "erase_record": erase_record.seq}


def _pseudonymise_audit(s, customer_id: str, renamed: dict[str, str], pseudonym: str,
                        scrub: Callable[[str], str]) -> tuple[int, int | None]:
    """Rewrite the customer's audit records (``renamed``: their conversation ids' pseudonyms) and
    re-chain from the first one; returns ``(records changed, first changed seq)``. Runs in the
    caller's write transaction."""
    records, head = m.AuditRecord.__table__, m.AuditHead.__table__
    s.execute(sa.select(head.c.last_seq).where(head.c.id == 1).with_for_update())  # appends wait for us
    mine = sa.or_(records.c.customer_id == customer_id, records.c.conversation_id.in_(list(renamed)))
    first = s.scalar(sa.select(sa.func.min(records.c.seq)).where(mine))
    if first is None:
        return 0, None
    prev = s.scalar(sa.select(records.c.hash).where(records.c.seq == first - 1))
    if prev is None:
        prev = s.scalar(sa.select(head.c.base_hash).where(head.c.id == 1))
    changed = 0
    rows = s.execute(sa.select(records).where(records.c.seq >= first).order_by(records.c.seq)).mappings().all()
    for row in rows:
        values = dict(row)
        if values["customer_id"] == customer_id or values["conversation_id"] in renamed:
            changed += 1
            values["customer_id"] = pseudonym if values["customer_id"] == customer_id else values["customer_id"]
            values["conversation_id"] = renamed.get(values["conversation_id"], values["conversation_id"])
            values["parameters"] = mask_parameters(values["parameters"], scrub)
        values["prev_hash"] = prev
        values["hash"] = record_hash(prev, values["seq"], values["time"], values["conversation_id"], values["customer_id"],
                                     values["tool"], values["parameters"], values["outcome"], values["latency_ms"])
        if values != dict(row):
            s.execute(sa.update(records).where(records.c.seq == row["seq"]).values(
                **{k: values[k] for k in ("customer_id", "conversation_id", "parameters", "prev_hash", "hash")}))
        prev = values["hash"]
    s.execute(sa.update(head).where(head.c.id == 1).values(last_hash=prev))
    return changed, first


def apply_retention(sessions: sessionmaker, *, outbox_days: float | None, audit_days: float | None,
                    dry_run: bool = False, now: datetime | None = None) -> dict:
    """Delete sent outbox messages and audit records older than their periods (``None``: keep
    forever); unsent messages are kept. Returns the counts (what would go, with ``dry_run``)."""
    now = now or m.utcnow()
    counts = {"outbox_messages": 0, "audit_records": 0}
    with session_scope(sessions, write=not dry_run) as s:
        if outbox_days is not None:
            old = sa.and_(m.OutboxMessage.sent_at.is_not(None), m.OutboxMessage.created_at < now - timedelta(days=outbox_days))
            if dry_run:
                counts["outbox_messages"] = s.scalar(sa.select(sa.func.count()).select_from(m.OutboxMessage).where(old))
            else:
                counts["outbox_messages"] = s.execute(sa.delete(m.OutboxMessage).where(old)).rowcount
        if audit_days is not None:
            counts["audit_records"], cut = _audit_prefix(s, now - timedelta(days=audit_days))
            if cut is not None and not dry_run:
                records, head = m.AuditRecord.__table__, m.AuditHead.__table__
                base = s.scalar(sa.select(records.c.hash).where(records.c.seq == cut))
                s.execute(sa.delete(records).where(records.c.seq <= cut))
                s.execute(sa.update(head).where(head.c.id == 1).values(first_seq=cut + 1, base_hash=base))
    if counts["audit_records"] and not dry_run:
        AuditLog(sessions).append(None, None, RETENTION_TOOL, {"deleted_records": counts["audit_records"],
                                                              "older_than_days": audit_days}, "done", 0)
    return counts


def _audit_prefix(s, cutoff: datetime) -> tuple[int, int | None]:
    """How many records, from the oldest, are older than ``cutoff``, and the last of them: the
    deletion stops at the first newer record so that the chain stays whole."""
    records = m.AuditRecord.__table__
    first_new = s.scalar(sa.select(sa.func.min(records.c.seq)).where(records.c.time >= cutoff))
    stmt = sa.select(sa.func.count(), sa.func.max(records.c.seq))
    if first_new is not None:
        stmt = stmt.where(records.c.seq < first_new)
    count, last = s.execute(stmt).one()
    return count or 0, last
