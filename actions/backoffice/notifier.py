"""Notifiers: send an email or text message to a customer.

* :class:`OutboxNotifier` writes the message to the ``outbox_messages`` table (the transactional
  outbox: a separate relay delivers it, see :meth:`OutboxNotifier.relay`). It is the default,
  and what demos and tests read back.
* :class:`SMTPNotifier` delivers email through an SMTP server configured by arguments or by the
  ``DESK_SMTP_*`` environment variables.
"""

from __future__ import annotations

import os
import re
import smtplib
import ssl
from collections.abc import Mapping
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from . import models as m
from .db import session_factory, session_scope
from .interfaces import BackofficeError, InvalidRequest, Notifier
from .sql import Clock, Database, normalise_phone

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class DeliveryFailed(BackofficeError):
    code = "delivery_failed"


def check_recipient(channel: str, recipient: str, default_region: str = "US") -> str:
    """The recipient in canonical form (lower-case email, E.164 phone); ``InvalidRequest`` if unusable."""
    if channel not in m.CHANNELS:
        raise InvalidRequest(f"channel must be one of {', '.join(m.CHANNELS)}", reason="bad_channel")
    recipient = str(recipient or "").strip()
    if channel == "email":
        address = parseaddr(recipient)[1].lower()
        if not _EMAIL.match(address):
            raise InvalidRequest(f"not an email address: {recipient!r}", reason="bad_recipient")
        return address
    e164 = normalise_phone(recipient, default_region)
    if e164 is None:
        raise InvalidRequest(f"not a phone number: {recipient!r}", reason="bad_recipient")
    return e164


class OutboxNotifier:
    """Queues messages in the database; ``send`` returns ``"outbox:<id>"``."""

    def __init__(self, db: Database = None, *, clock: Clock | None = None, default_region: str = "US") -> None:
        self.sessions = db if isinstance(db, sessionmaker) else session_factory(db)
        self.clock = clock or m.utcnow
        self.default_region = default_region

    def send(self, channel: str, recipient: str, subject: str | None, body: str) -> str:
        recipient = check_recipient(channel, recipient, self.default_region)
        if not str(body or "").strip():
            raise InvalidRequest("message body is empty", reason="missing_body")
        with session_scope(self.sessions) as s:
            message = m.OutboxMessage(
                channel=channel, recipient=recipient, subject=(subject or None), body=body, created_at=self.clock()
            )
            s.add(message)
            s.flush()
            return f"outbox:{message.id}"

    def pending(self, limit: int = 100) -> list[m.OutboxMessage]:
        """Messages not yet delivered, oldest first (detached ORM rows)."""
        with session_scope(self.sessions) as s:
            stmt = sa.select(m.OutboxMessage).where(m.OutboxMessage.sent_at.is_(None)).order_by(m.OutboxMessage.id).limit(limit)
            return list(s.scalars(stmt))

    def mark_sent(self, message_id: int, when: datetime | None = None) -> None:
        with session_scope(self.sessions) as s:
            s.execute(
                sa.update(m.OutboxMessage)
                .where(m.OutboxMessage.id == message_id, m.OutboxMessage.sent_at.is_(None))
                .values(sent_at=when or self.clock())
            )

    def relay(self, to: Notifier, *, limit: int = 100) -> int:
        """Deliver queued messages through ``to`` and mark them sent; returns how many were sent.

        A message that fails stays queued for the next run (delivery is at least once).
        """
        sent = 0
        for message in self.pending(limit):
            try:
                to.send(message.channel, message.recipient, message.subject, message.body)
            except (BackofficeError, OSError, smtplib.SMTPException):
                continue
            self.mark_sent(message.id)
            sent += 1
        return sent


def _flag(value: str | None) -> bool:
    return str(value or "").strip().lower() in ("1", "true", "yes", "on")


class SMTPNotifier:
    """Sends email over SMTP (``sms`` is refused); ``send`` returns the Message-ID.

    Args:
        host, port: The SMTP server.
        sender: The From address, e.g. ``Northwind Outfitters <support@example.com>``.
        username, password: Log in when given.
        starttls: Upgrade the connection with STARTTLS; ``use_ssl``: connect with implicit TLS.
    """

    def __init__(
        self,
        host: str = "localhost",
        port: int = 25,
        sender: str = "support@example.com",
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        use_ssl: bool = False,
        timeout: float = 10.0,
    ) -> None:
        if not _EMAIL.match(parseaddr(sender)[1]):
            raise InvalidRequest(f"not a sender address: {sender!r}", reason="bad_sender")
        self.host, self.port, self.sender = host, int(port), sender
        self.username, self.password = username, password
        self.starttls, self.use_ssl, self.timeout = starttls, use_ssl, timeout

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SMTPNotifier:
        """Configure from ``DESK_SMTP_HOST``, ``_PORT``, ``_FROM``, ``_USER``, ``_PASSWORD``,
        ``_STARTTLS`` and ``_SSL`` (defaults: localhost, 25, support@example.com, no login, plain)."""
        env = os.environ if env is None else env
        use_ssl = _flag(env.get("DESK_SMTP_SSL"))
        return cls(
            host=env.get("DESK_SMTP_HOST") or "localhost",
            port=int(env.get("DESK_SMTP_PORT") or (465 if use_ssl else 25)),
            sender=env.get("DESK_SMTP_FROM") or "support@example.com",
            username=env.get("DESK_SMTP_USER") or None,
            password=env.get("DESK_SMTP_PASSWORD") or None,
            starttls=_flag(env.get("DESK_SMTP_STARTTLS")),
            use_ssl=use_ssl,
        )

    def build(self, recipient: str, subject: str | None, body: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = recipient
        message["Subject"] = subject or ""
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain=parseaddr(self.sender)[1].rpartition("@")[2])
        message.set_content(body)
        return message

    def send(self, channel: str, recipient: str, subject: str | None, body: str) -> str:
        if channel != "email":
            raise InvalidRequest("SMTP delivers email only", reason="channel_unsupported")
        recipient = check_recipient("email", recipient)
        message = self.build(recipient, subject, body)
        try:
            if self.use_ssl:
                client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=ssl.create_default_context())
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with client:
                if self.starttls and not self.use_ssl:
                    client.starttls(context=ssl.create_default_context())
                if self.username:
                    client.login(self.username, self.password or "")
                refused = client.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryFailed(f"could not send email via {self.host}:{self.port}: {exc}") from exc
        if refused:
            raise DeliveryFailed(f"recipient refused: {', '.join(refused)}")
        return message["Message-ID"]
