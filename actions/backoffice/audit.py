"""Tamper-evident audit log of the assistant's tool calls.

Every record stores its tool call's parameters *after masking* (:func:`mask_parameters`: payment
card numbers, one-time codes, government ids and passwords never reach the table) and is chained
to its predecessor::

    hash = sha256(prev_hash + canonical_json({seq, time, conversation_id, customer_id,
                                              tool, parameters, outcome, latency_ms}))

with ``prev_hash`` of record 1 being 64 zeros and ``seq`` counting 1, 2, 3 ... without gaps. The
``audit_head`` row holds the newest ``(seq, hash)``: appends lock it (``SELECT ... FOR UPDATE`` on
PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), so concurrent appends queue up and the chain never
forks, and :meth:`AuditLog.verify` compares the end of the chain with it, so records cut off the
end are noticed too.

:meth:`AuditLog.verify` streams the log in one consistent read and reports the first record that
was altered (its hash no longer matches its contents), rewritten with a recomputed hash (its
successor's ``prev_hash``, or the head, no longer matches), removed (a gap in ``seq``, or missing
from the end) or added behind the log's back. Someone able to rewrite the whole
table *and* the head row can forge a consistent chain; publish :attr:`VerifyResult.last_hash`
elsewhere (a ticket, a log line, a notarisation service) to anchor it.

Two documented operations change the log (:mod:`.privacy`), each recorded by a record of its
own at the end of the chain: the retention period deletes the oldest records and moves the
chain's start (``audit_head.first_seq`` and ``base_hash``: the deleted last record's hash), and
erasing a customer replaces their identifiers by a pseudonym and re-chains from the first
changed record, the erase record naming the head it replaced.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from . import models as m
from .db import session_factory, session_scope
from .sql import Clock, Database

MASK = "***"

# Keys whose values are replaced whole, compared without case or punctuation.
SECRET_KEYS = frozenset(
    {
        "code", "otp", "onetimecode", "verificationcode", "securitycode", "passcode", "pin",
        "password", "passwd", "pwd", "secret",
        "ssn", "socialsecuritynumber", "taxid", "nationalid", "passportnumber",
        "cvv", "cvc", "cvv2",
    }
)
CARD_KEYS = frozenset({"cardnumber", "card", "pan", "creditcard", "creditcardnumber", "debitcard"})

_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d])")
_SSN = re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}([- ])(?!00)\d{2}\1(?!0000)\d{4}(?![\d-])")
_CODE_IN_TEXT = re.compile(
    r"(?i)(?<!postal )(?<!zip )(?<!area )(?<!country )(?<!promo )(?<!discount )(?<!coupon )"
    r"\b(one[- ]time code|verification code|security code|passcode|code|otp|pin)\b"
    r"([^\w\n]{0,3}(?:is|was)?[^\w\n]{0,3})(\d{4,8})\b"
)
_PASSWORD_IN_TEXT = re.compile(r"(?i)\b(password|passwd|pwd)\b(\s*(?:is|was|:|=)\s*)(\S+)")


def luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        n = ord(char) - 48
        if index % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _card_mask(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    if 13 <= len(digits) <= 19 and luhn_ok(digits):
        return "****" + digits[-4:]
    return match.group(0)


def mask_text(text: str) -> str:
    """Mask card numbers (13-19 digits passing the Luhn check), US social security numbers,
    one-time codes and passwords mentioned in free text."""
    text = _CARD.sub(_card_mask, text)
    text = _SSN.sub("***-**-****", text)
    text = _CODE_IN_TEXT.sub(lambda mt: f"{mt.group(1)}{mt.group(2)}{MASK}", text)
    return _PASSWORD_IN_TEXT.sub(lambda mt: f"{mt.group(1)}{mt.group(2)}{MASK}", text)


def _key(name: Any) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def _masked_card(value: Any) -> str:
    digits = re.sub(r"\D", "", str(value))
    return "****" + digits[-4:] if len(digits) >= 4 else MASK


def mask_parameters(value: Any, personal: Callable[[str], str] | None = None) -> Any:
    """A JSON-ready copy of ``value`` with secrets masked (see :data:`SECRET_KEYS`, :func:`mask_text`).

    Values under secret keys become ``"***"``; under card keys ``"****1234"``. Decimals and dates
    become strings, tuples and sets lists, other objects their ``str()``. ``personal`` masks
    personal data in every text too (the ``audit`` types of ``privacy.mask``, see :mod:`nlu.pii`).
    """
    if personal is not None:
        return _mask_strings(mask_parameters(value), personal)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            name = _key(k)
            if v is not None and name in SECRET_KEYS:
                out[str(k)] = MASK
            elif v is not None and name in CARD_KEYS:
                out[str(k)] = _masked_card(v)
            else:
                out[str(k)] = mask_parameters(v)
        return out
    if isinstance(value, str):
        return mask_text(value)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        digits = str(abs(value))
        return "****" + digits[-4:] if 13 <= len(digits) <= 19 and luhn_ok(digits) else value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return _time_text(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [mask_parameters(v) for v in items]
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return mask_text(str(value))


def _mask_strings(value: Any, personal: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return personal(value)
    if isinstance(value, dict):
        return {k: _mask_strings(v, personal) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_strings(v, personal) for v in value]
    return value


# --------------------------------------------------------------------------- hashing


def _time_text(value: datetime) -> str:
    """``2025-06-02T16:00:00.000000Z``: UTC with microseconds (naive values are UTC)."""
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds") + "Z"


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, ASCII only: the same text for the same data on every database."""
    return _ENCODER.encode(value)


def record_hash(
    prev_hash: str,
    seq: int,
    time: datetime,
    conversation_id: str | None,
    customer_id: str | None,
    tool: str,
    parameters: Any,
    outcome: str,
    latency_ms: int,
) -> str:
    body = canonical_json(
        {
            "seq": seq,
            "time": _time_text(time),
            "conversation_id": conversation_id,
            "customer_id": customer_id,
            "tool": tool,
            "parameters": parameters,
            "outcome": outcome,
            "latency_ms": latency_ms,
        }
    )
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


# --------------------------------------------------------------------------- log


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    time: datetime
    conversation_id: str | None
    customer_id: str | None
    tool: str
    parameters: Any
    outcome: str
    latency_ms: int
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int  # records whose links were checked
    first_bad_seq: int | None = None  # the altered, missing or unexpected record
    problem: str | None = None
    last_seq: int = 0  # the chain head that was verified
    last_hash: str = m.GENESIS_HASH

    def __bool__(self) -> bool:
        return self.ok


_COLUMNS = ("seq", "time", "conversation_id", "customer_id", "tool", "parameters", "outcome", "latency_ms", "prev_hash", "hash")


class AuditLog:
    """Append-only, hash-chained log of tool calls.

    Args:
        db: Where the log lives: a session factory, URL or engine (default: :func:`~.db.default_url`).
        clock: Returns the current aware UTC time (default: the system clock).
        personal: Masks personal data in the parameters' texts (see :func:`mask_parameters`).
    """

    def __init__(self, db: Database = None, *, clock: Clock | None = None, personal: Callable[[str], str] | None = None) -> None:
        self.sessions: sessionmaker = db if isinstance(db, sessionmaker) else session_factory(db)
        self.clock = clock or m.utcnow
        self.personal = personal

    # ------------------------------------------------------------------ writing

    def append(
        self,
        conversation_id: str | None,
        customer_id: str | None,
        tool: str,
        parameters: Any,
        outcome: str,
        latency_ms: float,
    ) -> AuditEntry:
        """Record one tool call; ``parameters`` are masked before they are stored or hashed."""
        return self.append_many([(conversation_id, customer_id, tool, parameters, outcome, latency_ms)])[0]

    def append_many(self, calls: Iterable[tuple[str | None, str | None, str, Any, str, float]]) -> list[AuditEntry]:
        """Record several tool calls in one transaction, in order (same arguments as :meth:`append`)."""
        prepared = [
            (
                None if conversation_id is None else str(conversation_id)[:255],
                None if customer_id is None else str(customer_id)[:16],
                str(tool)[:100],
                mask_parameters({} if parameters is None else parameters, self.personal),
                str(outcome)[:100],
                max(0, int(round(float(latency_ms)))),
            )
            for conversation_id, customer_id, tool, parameters, outcome, latency_ms in calls
        ]
        if not prepared:
            return []
        head_table, records = m.AuditHead.__table__, m.AuditRecord.__table__
        with session_scope(self.sessions, write=True) as s:
            head = s.execute(
                sa.select(head_table.c.last_seq, head_table.c.last_hash).where(head_table.c.id == 1).with_for_update()
            ).one_or_none()
            if head is None:  # a log created without the migration's genesis row
                s.execute(sa.insert(head_table).values(id=1, last_seq=0, last_hash=m.GENESIS_HASH))
                head = (0, m.GENESIS_HASH)
            seq, prev = head
            now = self.clock()
            entries, rows = [], []
            for conversation_id, customer_id, tool, parameters, outcome, latency in prepared:
                seq += 1
                digest = record_hash(prev, seq, now, conversation_id, customer_id, tool, parameters, outcome, latency)
                entry = AuditEntry(seq, now, conversation_id, customer_id, tool, parameters, outcome, latency, prev, digest)
                entries.append(entry)
                rows.append({name: getattr(entry, name) for name in _COLUMNS})
                prev = digest
            s.execute(sa.insert(records), rows)
            s.execute(sa.update(head_table).where(head_table.c.id == 1).values(last_seq=seq, last_hash=prev))
        return entries

    # ------------------------------------------------------------------ reading

    def entries(self, *, conversation_id: str | None = None, after_seq: int = 0, limit: int = 100) -> list[AuditEntry]:
        """Records in ``seq`` order, optionally of one conversation."""
        records = m.AuditRecord.__table__
        stmt = sa.select(*(records.c[name] for name in _COLUMNS)).where(records.c.seq > after_seq)
        if conversation_id is not None:
            stmt = stmt.where(records.c.conversation_id == conversation_id)
        with session_scope(self.sessions) as s:
            return [AuditEntry(*row) for row in s.execute(stmt.order_by(records.c.seq).limit(limit))]

    def verify(self, *, chunk_size: int = 5000) -> VerifyResult:
        """Check the whole chain in one consistent snapshot; stops at the first broken link."""
        head_table, records = m.AuditHead.__table__, m.AuditRecord.__table__
        engine = self.sessions.kw["bind"]
        options: dict[str, Any] = {"stream_results": True, "yield_per": chunk_size}
        if engine.dialect.name == "postgresql":
            options["isolation_level"] = "REPEATABLE READ"
        checked = 0

        def bad(seq: int, problem: str) -> VerifyResult:
            return VerifyResult(False, checked, seq, problem, head_seq, head_hash)

        with engine.connect().execution_options(**options) as conn, conn.begin():
            head = conn.execute(
                sa.select(head_table.c.last_seq, head_table.c.last_hash, head_table.c.first_seq, head_table.c.base_hash)
                .where(head_table.c.id == 1)
            ).one_or_none()
            head_seq, head_hash, expected, prev = head if head is not None else (0, m.GENESIS_HASH, 1, m.GENESIS_HASH)
            first = expected
            result = conn.execute(sa.select(*(records.c[name] for name in _COLUMNS)).order_by(records.c.seq))
            hash_of = record_hash
            for rows in result.partitions(chunk_size):
                for seq, time, conversation_id, customer_id, tool, parameters, outcome, latency, prev_hash, digest in rows:
                    if seq != expected:
                        if seq < expected:
                            return bad(seq, f"record {seq} is out of sequence")
                        missing = f"record {expected} is" if seq == expected + 1 else f"records {expected}-{seq - 1} are"
                        return bad(expected, f"{missing} missing (the log jumps from {expected - 1} to {seq})")
                    if seq > head_seq:
                        return bad(seq, f"record {seq} is past the chain head ({head_seq}): it was not appended through the log")
                    if hash_of(prev_hash, seq, time, conversation_id, customer_id, tool, parameters, outcome, latency) != digest:
                        return bad(seq, f"record {seq} was altered (its hash does not match its contents)")
                    if prev_hash != prev:
                        if seq == first:
                            return bad(seq, f"record {seq} does not start from the chain's base hash")
                        return bad(seq - 1, f"record {seq - 1} was rewritten or replaced (record {seq} no longer links to it)")
                    prev = digest
                    expected += 1
                    checked += 1
        last = expected - 1
        if last < head_seq:
            span = f"record {head_seq} is" if last + 1 == head_seq else f"records {last + 1}-{head_seq} are"
            return bad(last + 1, f"{span} missing from the end of the log")
        if prev != head_hash:
            return bad(last, f"record {last} was rewritten or replaced (it does not match the chain head)")
        return VerifyResult(True, checked, None, None, head_seq, head_hash)
