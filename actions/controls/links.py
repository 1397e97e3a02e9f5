"""Signed, expiring links to a customer's account pages (e.g. to change a payment method).

The link carries ``token=<payload>.<signature>``: the payload is base64url JSON
``{"c": customer id, "p": purpose, "exp": unix time}``, the signature HMAC-SHA256 of the payload
with ``DESK_LINK_SECRET``, which the web shop shares to check it (:func:`verify_token`). The
account page still asks the customer to sign in; the link only takes them to the right page and
cannot be reused after it expires. Without ``DESK_LINK_SECRET`` a random per-process secret is
used, so links work only for checks made in the same process (and a warning is logged).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

logger = logging.getLogger(__name__)

SECRET_ENV = "DESK_LINK_SECRET"
_fallback_secret = secrets.token_bytes(32)
_warned = False


def _secret() -> bytes:
    global _warned
    value = os.environ.get(SECRET_ENV)
    if value:
        return value.encode()
    if not _warned:
        logger.warning("%s is not set: account links are signed with a throw-away secret", SECRET_ENV)
        _warned = True
    return _fallback_secret


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_token(customer_id: str, purpose: str, expires_at: datetime) -> str:
    payload = _b64(json.dumps({"c": customer_id, "p": purpose, "exp": int(expires_at.timestamp())}, separators=(",", ":")).encode())
    signature = _b64(hmac.new(_secret(), payload.encode(), hashlib.sha256).digest())
    return f"{payload}.{signature}"


def verify_token(token: str, purpose: str, now: datetime | None = None) -> str | None:
    """The customer id the token was made for, or ``None`` if it is forged, for another purpose or expired."""
    try:
        payload, signature = str(token).split(".", 1)
        expected = _b64(hmac.new(_secret(), payload.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(expected, signature):
            return None
        data = json.loads(_unb64(payload))
    except (ValueError, TypeError):
        return None
    now = now or datetime.now(timezone.utc)
    if data.get("p") != purpose or int(data.get("exp", 0)) <= now.timestamp():
        return None
    return str(data.get("c"))


def signed_link(base_url: str, customer_id: str, purpose: str, ttl_minutes: float, now: datetime) -> tuple[str, datetime]:
    """``(url, expires_at)`` for ``base_url`` with a token for ``customer_id``."""
    expires_at = now + timedelta(minutes=ttl_minutes)
    separator = "&" if "?" in base_url else "?"
    return f"{base_url}{separator}{urlencode({'token': make_token(customer_id, purpose, expires_at)})}", expires_at
