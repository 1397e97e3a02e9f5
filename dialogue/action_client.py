"""Calls custom actions on a rasa-sdk action server, with Rasa's exact request.

The body is ``{"next_action", "sender_id", "tracker", "version", "domain"}``, as Rasa 3.6 sends
it. After the first call the domain is replaced by its digest (rasa-sdk caches it); a 449 reply
means the server has not seen it, and the call is sent again with the domain.
"""

from __future__ import annotations

import logging

import httpx

logger = logging.getLogger(__name__)

RASA_VERSION = "3.6.21"  # the protocol version we speak


class ActionServerError(Exception):
    """A custom action could not run. ``reason``: rejected, not_found, failed, timeout, unreachable."""

    def __init__(self, action_name: str, reason: str, message: str = ""):
        super().__init__(f"action {action_name!r} {reason}: {message}".rstrip(": "))
        self.action_name = action_name
        self.reason = reason
        self.message = message


class ActionRejected(ActionServerError):
    """The action server rejected the call (HTTP 400): a form re-asks its slot."""

    def __init__(self, action_name: str, message: str = ""):
        super().__init__(action_name, "rejected", message)


class ActionServerClient:
    def __init__(self, url: str, domain: dict, domain_digest: str, timeout: float = 10.0, transport=None):
        self.url = url
        self.domain = domain
        self.domain_digest = domain_digest
        self._domain_sent = False
        self._client = httpx.AsyncClient(timeout=timeout, transport=transport)

    async def run(self, action_name: str, sender_id: str, tracker: dict) -> dict:
        """Run ``action_name``; returns ``{"events": [...], "responses": [...]}``."""
        reply = await self._post(action_name, sender_id, tracker, with_domain=not self._domain_sent)
        if reply.status_code == 449:
            reply = await self._post(action_name, sender_id, tracker, with_domain=True)
        return self._result(action_name, reply)

    async def _post(self, action_name, sender_id, tracker, with_domain: bool) -> httpx.Response:
        body = {"next_action": action_name, "sender_id": sender_id, "tracker": tracker, "version": RASA_VERSION}
        if with_domain:
            body["domain"] = self.domain
        body["domain_digest"] = self.domain_digest
        try:
            reply = await self._client.post(self.url, json=body)
        except httpx.TimeoutException:
            raise ActionServerError(action_name, "timeout", f"no reply from {self.url}") from None
        except httpx.TransportError as exc:
            raise ActionServerError(action_name, "unreachable", f"{self.url}: {exc}") from None
        if with_domain and reply.status_code == 200:
            self._domain_sent = True
        return reply

    @staticmethod
    def _result(action_name: str, reply: httpx.Response) -> dict:
        status = reply.status_code
        try:
            payload = reply.json()
        except ValueError:
            payload = None
        message = payload.get("error", "") if isinstance(payload, dict) else reply.text[:200]
        if status == 400:
            raise ActionRejected(action_name, message)
        if status == 404:
            raise ActionServerError(action_name, "not_found", message)
        if status != 200 or not isinstance(payload, dict):
            raise ActionServerError(action_name, "failed", f"HTTP {status} {message}")
        events, responses = payload.get("events") or [], payload.get("responses") or []
        if not isinstance(events, list) or not isinstance(responses, list):
            raise ActionServerError(action_name, "failed", "reply has no `events` and `responses` lists")
        return {"events": events, "responses": responses}

    async def aclose(self) -> None:
        await self._client.aclose()
