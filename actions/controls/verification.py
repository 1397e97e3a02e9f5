"""Step-up verification: a one-time code sent to the e-mail address on file.

A code is only ever stored as a salted scrypt hash (:class:`VerificationChallenge`). A challenge
belongs to one conversation (the tracker's ``sender_id``); only the newest challenge of a
conversation can be answered. Once answered correctly, that conversation acts for the challenge's
customer until ``verification.valid_for_minutes`` have passed. The verified customer is read
from the database on every call (:func:`verified_customer`), never from a slot.

Abuse limits (``policy.yml``): ``max_attempts`` wrong answers lock the challenge, after which the
conversation gets no new code for ``lockout_minutes``; at most ``max_codes_per_hour`` codes are
sent per conversation.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from actions.backoffice import models as m
from actions.backoffice.db import session_scope
from actions.backoffice.interfaces import Customer
from actions.policy import Policy
from actions.runtime import Runtime

SUBJECT = "Your Northwind Outfitters verification code"


class CodeNotSent(Exception):
    """No code was sent; ``reason`` is ``locked`` or ``rate_limited``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Sent:
    customer_id: str
    masked_email: str
    expires_at: datetime


@dataclass(frozen=True)
class CheckResult:
    status: str  # verified | wrong | expired | locked | no_challenge
    customer_id: str | None = None
    attempts_left: int = 0


def mask_email(email: str) -> str:
    """``jane.doe@example.com`` -> ``j***@example.com``."""
    local, _, domain = str(email).partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def new_code(length: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(length))


def _newest(s, conversation_id: str, *, lock: bool = False) -> m.VerificationChallenge | None:
    stmt = (
        sa.select(m.VerificationChallenge)
        .where(m.VerificationChallenge.conversation_id == conversation_id)
        .order_by(m.VerificationChallenge.created_at.desc(), m.VerificationChallenge.id.desc())
        .limit(1)
    )
    return s.scalars(stmt.with_for_update() if lock else stmt).first()


def _locked(challenge: m.VerificationChallenge) -> bool:
    return challenge.verified_at is None and challenge.attempts >= challenge.max_attempts


def send_code(rt: Runtime, conversation_id: str, customer: Customer, policy: Policy) -> Sent:
    """Issue a new challenge for ``customer`` in this conversation and e-mail its code.

    Raises :class:`CodeNotSent` when the conversation is locked out or has asked for too many codes.
    """
    rules = policy.verification
    now = rt.now()
    code = new_code(rules.code_length)
    with session_scope(rt.sessions, write=True) as s:
        newest = _newest(s, conversation_id, lock=True)
        if newest is not None and _locked(newest) and newest.created_at > now - timedelta(minutes=rules.lockout_minutes):
            raise CodeNotSent("locked")
        recent = s.scalar(
            sa.select(sa.func.count())
            .select_from(m.VerificationChallenge)
            .where(
                m.VerificationChallenge.conversation_id == conversation_id,
                m.VerificationChallenge.created_at > now - timedelta(hours=1),
            )
        )
        if recent >= rules.max_codes_per_hour:
            raise CodeNotSent("rate_limited")
        challenge = m.VerificationChallenge.issue(
            conversation_id, customer.id, code, channel="email",
            ttl=timedelta(minutes=rules.code_ttl_minutes), max_attempts=rules.max_attempts, now=now,
        )
        s.add(challenge)
        s.flush()
        challenge_id, expires_at = challenge.id, challenge.expires_at
    minutes = f"{rules.code_ttl_minutes:g}"
    body = (
        f"Hello {customer.name},\n\n"
        f"Your Northwind Outfitters verification code is {code}. It is valid for {minutes} minutes.\n\n"
        "Type it into the chat to confirm it's you. We will never ask you for this code by phone or e-mail; "
        "if you did not ask for it, you can ignore this message.\n"
    )
    try:
        rt.backoffice.notifier.send("email", customer.email, SUBJECT, body)
    except Exception:
        with session_scope(rt.sessions, write=True) as s:  # a code nobody received must not stay open
            s.execute(
                sa.update(m.VerificationChallenge).where(m.VerificationChallenge.id == challenge_id).values(expires_at=now)
            )
        raise
    return Sent(customer.id, mask_email(customer.email), expires_at)


def check_code(rt: Runtime, conversation_id: str, code: str) -> CheckResult:
    """Answer the conversation's newest challenge with ``code`` (each answer counts as an attempt)."""
    now = rt.now()
    with session_scope(rt.sessions, write=True) as s:
        challenge = _newest(s, conversation_id, lock=True)
        if challenge is None or challenge.verified_at is not None:
            return CheckResult("no_challenge")
        if _locked(challenge):
            return CheckResult("locked", challenge.customer_id)
        if now >= challenge.expires_at:
            return CheckResult("expired", challenge.customer_id)
        if challenge.attempt(code, now):
            return CheckResult("verified", challenge.customer_id)
        left = challenge.max_attempts - challenge.attempts
        return CheckResult("wrong" if left > 0 else "locked", challenge.customer_id, left)


def latest_code_sent(url) -> str | None:
    """The code in the newest verification e-mail of the outbox at ``url`` (None: none was sent).

    For test conversations and demos on a demo back office, where nobody reads the e-mails."""
    from actions.backoffice.db import session_factory

    with session_scope(session_factory(url)) as s:
        body = s.scalar(
            sa.select(m.OutboxMessage.body).where(m.OutboxMessage.subject == SUBJECT).order_by(m.OutboxMessage.id.desc()).limit(1)
        )
    found = re.search(r"verification code is (\d+)", body or "")
    return found.group(1) if found else None


def last_challenge_customer(rt: Runtime, conversation_id: str) -> str | None:
    """The customer the conversation's newest challenge was for (to send a new code to)."""
    with session_scope(rt.sessions) as s:
        challenge = _newest(s, conversation_id)
        return challenge.customer_id if challenge else None


def verified_customer(rt: Runtime, conversation_id: str, policy: Policy) -> tuple[str | None, bool]:
    """``(customer_id, lapsed)``: whom this conversation is verified as right now (``None`` if
    nobody), and whether an earlier verification has lapsed."""
    now = rt.now()
    since = now - timedelta(minutes=policy.verification.valid_for_minutes)
    with session_scope(rt.sessions) as s:
        row = s.execute(
            sa.select(m.VerificationChallenge.customer_id, m.VerificationChallenge.verified_at)
            .where(
                m.VerificationChallenge.conversation_id == conversation_id,
                m.VerificationChallenge.verified_at.is_not(None),
            )
            .order_by(m.VerificationChallenge.verified_at.desc(), m.VerificationChallenge.id.desc())
            .limit(1)
        ).first()
    if row is None:
        return None, False
    customer_id, verified_at = row
    if verified_at <= since or verified_at > now + timedelta(minutes=1):
        return None, True
    return customer_id, False
