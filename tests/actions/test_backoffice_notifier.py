"""Notifiers: the database outbox and SMTP delivery against a real local SMTP server (aiosmtpd)."""

import email
import email.policy
import socket

import pytest
import sqlalchemy as sa
from backoffice_helpers import NOW, clock

from actions.backoffice import db
from actions.backoffice import models as m
from actions.backoffice.interfaces import InvalidRequest, Notifier
from actions.backoffice.notifier import DeliveryFailed, OutboxNotifier, SMTPNotifier

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")
from aiosmtpd.smtp import AuthResult  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """aiosmtpd handler that keeps every envelope it receives."""

    def __init__(self) -> None:
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self):
        return [email.message_from_bytes(e.content, policy=email.policy.default) for e in self.envelopes]


@pytest.fixture
def smtp_server():
    """A real SMTP server on localhost; with ``logins`` it requires logging in as one of those users."""
    servers = []

    def start(logins: dict[str, str] | None = None):
        inbox = Inbox()
        kwargs = {}
        if logins is not None:
            def authenticator(server, session, envelope, mechanism, auth_data):
                ok = logins.get(auth_data.login.decode()) == auth_data.password.decode()
                return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535

            kwargs = {"authenticator": authenticator, "auth_require_tls": False, "auth_required": True}
        controller = aiosmtpd_controller.Controller(inbox, hostname="127.0.0.1", port=free_port(), **kwargs)
        controller.start()
        servers.append(controller)
        return controller.port, inbox

    yield start
    for controller in servers:
        controller.stop()


# --------------------------------------------------------------------------- outbox


def test_outbox_notifier_writes_messages(migrated_url):
    outbox = OutboxNotifier(migrated_url, clock=clock)
    assert isinstance(outbox, Notifier)
    first = outbox.send("email", "Ada <Ada@Example.com>", "Your refund", "We refunded 10.00 USD.")
    second = outbox.send("sms", "(503) 555-0101", None, "Your code is on its way")
    assert (first, second) == ("outbox:1", "outbox:2")
    with db.session_scope(migrated_url) as s:
        rows = s.scalars(sa.select(m.OutboxMessage).order_by(m.OutboxMessage.id)).all()
        assert [(r.channel, r.recipient, r.subject, r.body, r.created_at, r.sent_at) for r in rows] == [
            ("email", "ada@example.com", "Your refund", "We refunded 10.00 USD.", NOW, None),
            ("sms", "+15035550101", None, "Your code is on its way", NOW, None),
        ]


def test_outbox_notifier_rejects_bad_messages(migrated_url):
    outbox = OutboxNotifier(migrated_url)
    with pytest.raises(InvalidRequest):
        outbox.send("fax", "a@example.com", "s", "b")
    with pytest.raises(InvalidRequest):
        outbox.send("email", "not-an-address", "s", "b")
    with pytest.raises(InvalidRequest):
        outbox.send("sms", "12", None, "b")
    with pytest.raises(InvalidRequest):
        outbox.send("email", "a@example.com", "s", "  ")
    assert outbox.pending() == []


def test_outbox_relay_marks_delivered_messages_sent(migrated_url):
    outbox = OutboxNotifier(migrated_url, clock=clock)
    outbox.send("email", "a@example.com", "one", "1")
    outbox.send("email", "b@example.com", "two", "2")
    delivered = []

    class Flaky:
        def send(self, channel, recipient, subject, body):
            if recipient.startswith("b"):
                raise DeliveryFailed("mailbox full")
            delivered.append((channel, recipient, subject, body))
            return "id"

    assert outbox.relay(Flaky()) == 1
    assert delivered == [("email", "a@example.com", "one", "1")]
    assert [msg.recipient for msg in outbox.pending()] == ["b@example.com"]  # stays queued for the next run


# --------------------------------------------------------------------------- SMTP


def test_smtp_notifier_delivers_to_a_real_server(smtp_server):
    port, inbox = smtp_server()
    notifier = SMTPNotifier("127.0.0.1", port, "Northwind Outfitters <support@northwind.example.com>")
    assert isinstance(notifier, Notifier)
    message_id = notifier.send("email", "Ada.Byron@Example.com", "Your refund RFD-00023", "Hi Ada,\n\nWe refunded 10.00 USD.\n")

    assert len(inbox.envelopes) == 1
    envelope = inbox.envelopes[0]
    assert envelope.mail_from == "support@northwind.example.com"
    assert envelope.rcpt_tos == ["ada.byron@example.com"]
    received = inbox.messages()[0]
    assert received["Subject"] == "Your refund RFD-00023"
    assert received["From"] == "Northwind Outfitters <support@northwind.example.com>"
    assert received["To"] == "ada.byron@example.com"
    assert received["Message-ID"] == message_id and message_id.endswith("@northwind.example.com>")
    assert received["Date"]
    assert received.get_content().replace("\r\n", "\n") == "Hi Ada,\n\nWe refunded 10.00 USD.\n"


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_smtp_notifier_logs_in(smtp_server):
    port, inbox = smtp_server(logins={"desk": "s3cret"})
    SMTPNotifier("127.0.0.1", port, "support@example.com", username="desk", password="s3cret").send("email", "a@example.com", "hi", "body")
    assert len(inbox.envelopes) == 1
    with pytest.raises(DeliveryFailed):
        SMTPNotifier("127.0.0.1", port, "support@example.com", username="desk", password="wrong").send("email", "a@example.com", "hi", "body")
    assert len(inbox.envelopes) == 1


def test_smtp_notifier_from_environment(smtp_server):
    port, inbox = smtp_server()
    env = {"DESK_SMTP_HOST": "127.0.0.1", "DESK_SMTP_PORT": str(port), "DESK_SMTP_FROM": "help@example.org"}
    notifier = SMTPNotifier.from_env(env)
    assert (notifier.host, notifier.port, notifier.sender, notifier.starttls, notifier.username) == ("127.0.0.1", port, "help@example.org", False, None)
    notifier.send("email", "a@example.com", "s", "b")
    assert inbox.envelopes[0].mail_from == "help@example.org"
    tls = SMTPNotifier.from_env({"DESK_SMTP_SSL": "true", "DESK_SMTP_STARTTLS": "1"})
    assert tls.use_ssl and tls.port == 465


def test_smtp_notifier_refusals():
    notifier = SMTPNotifier("127.0.0.1", free_port(), "support@example.com", timeout=2)
    with pytest.raises(InvalidRequest):
        notifier.send("sms", "+15035550101", None, "hi")
    with pytest.raises(InvalidRequest):
        notifier.send("email", "nobody", "s", "b")
    with pytest.raises(DeliveryFailed):
        notifier.send("email", "a@example.com", "s", "b")  # nothing listens on that port
    with pytest.raises(InvalidRequest):
        SMTPNotifier(sender="no-at-sign")


def test_outbox_relays_through_smtp(migrated_url, smtp_server):
    port, inbox = smtp_server()
    outbox = OutboxNotifier(migrated_url, clock=clock)
    outbox.send("email", "a@example.com", "Ticket TCK-00001 received", "We'll get back to you within a day.")
    assert outbox.relay(SMTPNotifier("127.0.0.1", port, "support@example.com")) == 1
    assert inbox.messages()[0]["Subject"] == "Ticket TCK-00001 received"
    assert outbox.pending() == []
