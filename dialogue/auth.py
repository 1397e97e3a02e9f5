"""Who may use the HTTP API: a shared token or a JWT, as Rasa's ``--auth-token``/``--jwt-secret``.

Two ways to authenticate, configured with ``desk run --auth-token``/``--jwt-secret`` (or the
environment variables ``DESK_AUTH_TOKEN``/``DESK_JWT_SECRET``/``DESK_JWT_METHOD``):

- **token**: ``?token=<token>`` in the query string (Rasa's ``--auth-token``);
- **JWT**: ``Authorization: Bearer <jwt>``, verified with the secret (a public key for the
  asymmetric methods) and ``--jwt-method`` (default ``HS256``). As in Rasa, the payload's
  ``user.role`` scopes it: ``admin`` may use every endpoint, ``user`` only the conversation whose
  id is its ``user.username``; anything else gets 403.

Secure by default: while neither is configured, the endpoints that read or change
conversations (``/conversations/...``) and ``/status`` answer 401. The channels (REST,
socket.io, websocket, the web page), ``/health``, ``/version``, ``/openapi.json`` and
``/model/parse`` need no authentication then; ``/model/parse`` reveals no more than the channels
do. Once a token or secret is configured, ``/model/parse`` requires it too, as in Rasa.
"""

from __future__ import annotations

import hmac
import logging
import os
from dataclasses import dataclass
from typing import Any, Mapping

logger = logging.getLogger(__name__)

ENV_TOKEN = "DESK_AUTH_TOKEN"
ENV_JWT_SECRET = "DESK_JWT_SECRET"
ENV_JWT_METHOD = "DESK_JWT_METHOD"
DEFAULT_JWT_METHOD = "HS256"
BEARER = "Bearer "


class AuthError(Exception):
    """The request may not use the endpoint: 401 (not authenticated) or 403 (not authorised)."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


NOT_AUTHENTICATED = "User is not authenticated."
API_DISABLED = (
    "User is not authenticated. This endpoint needs authentication, and none is configured: "
    f"start the server with --auth-token or --jwt-secret (or set {ENV_TOKEN} or {ENV_JWT_SECRET}) "
    "and send ?token=... or an Authorization: Bearer <JWT> header."
)


@dataclass(frozen=True)
class AuthSettings:
    token: str | None = None
    jwt_secret: str | None = None
    jwt_method: str = DEFAULT_JWT_METHOD

    @property
    def configured(self) -> bool:
        return bool(self.token or self.jwt_secret)

    @classmethod
    def from_env(
        cls,
        token: str | None = None,
        jwt_secret: str | None = None,
        jwt_method: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> "AuthSettings":
        """Settings from arguments, falling back to ``DESK_AUTH_TOKEN``/``DESK_JWT_SECRET``/``DESK_JWT_METHOD``."""
        environ = os.environ if environ is None else environ
        return cls(
            token=token or environ.get(ENV_TOKEN) or None,
            jwt_secret=jwt_secret or environ.get(ENV_JWT_SECRET) or None,
            jwt_method=jwt_method or environ.get(ENV_JWT_METHOD) or DEFAULT_JWT_METHOD,
        )


def decode_jwt(token: Any, secret: str, method: str) -> dict | None:
    """The verified payload of ``token`` (a ``Bearer `` prefix is stripped), or ``None``: also
    for a token that is not text, or holds bytes that are not UTF-8 (Sanic keeps a header's
    undecodable bytes as lone surrogates)."""
    import jwt

    if not isinstance(token, str):
        return None
    token = token.removeprefix(BEARER).strip()
    try:
        payload = jwt.decode(token, secret, algorithms=[method])
    except (jwt.PyJWTError, UnicodeEncodeError) as e:
        logger.info("JWT rejected: %s", e)
        return None
    return payload if isinstance(payload, dict) else None


def _jwt_scope_allows(payload: Mapping[str, Any], conversation_id: str | None) -> bool:
    user = payload.get("user")
    user = user if isinstance(user, Mapping) else {}
    role = user.get("role")
    if role == "admin":
        return True
    if role == "user":
        return conversation_id is not None and user.get("username") == conversation_id
    return False


def authorise(
    settings: AuthSettings,
    query_token: str | None,
    authorization: str | None,
    conversation_id: str | None = None,
    open_when_unconfigured: bool = False,
) -> None:
    """Raise :class:`AuthError` unless the request may use an endpoint.

    ``conversation_id`` is the conversation the endpoint touches (for a JWT's ``user`` scope);
    ``open_when_unconfigured`` lets the request through while no authentication is configured.
    """
    if not settings.configured:
        if open_when_unconfigured:
            return
        raise AuthError(401, "NotAuthenticated", API_DISABLED)
    if settings.token and query_token is not None and hmac.compare_digest(query_token.encode(), settings.token.encode()):
        return
    if settings.jwt_secret and authorization and authorization.startswith(BEARER):
        payload = decode_jwt(authorization, settings.jwt_secret, settings.jwt_method)
        if payload is not None:
            if _jwt_scope_allows(payload, conversation_id):
                return
            raise AuthError(403, "NotAuthorized", "User has insufficient permissions.")
    raise AuthError(401, "NotAuthenticated", NOT_AUTHENTICATED)
