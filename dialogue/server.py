"""The HTTP server (Sanic): Rasa's channels and HTTP API in front of an ``Assistant``.

Endpoints (all JSON unless said otherwise; ``/openapi.json`` describes them):

=========================================  ====================================================
``GET /``                                  the web chat page (speaks the ``/websocket`` channel)
``POST /webhooks/rest/webhook``            Rasa's REST channel (:mod:`dialogue.channels.rest`)
``GET /webhooks/rest/``                    ``{"status": "ok"}``
``/socket.io``                             Rasa's socket.io channel (:mod:`dialogue.channels.socketio`)
``GET /webhooks/socketio/``                ``{"status": "ok"}``
``/websocket``                             a plain websocket channel (:mod:`dialogue.channels.websocket`)
``POST /model/parse``                      ``{"text"}`` → the NLU parse (no conversation is touched)
``GET /conversations/<id>/tracker``        the tracker; ``?include_events=ALL|APPLIED|AFTER_RESTART|NONE``
``POST /conversations/<id>/messages``      ``{"text", "sender": "user", "parse_data"?}``: log a user
                                           message without running the bot → the tracker
``POST /conversations/<id>/resume``        ``{"agent"?}``: the human agent hands back → the tracker
``GET /approvals``                         held requests awaiting a person (``?status=``
                                           ``pending`` (default), ``approved``, ``rejected``,
                                           ``executed`` or ``all``) → ``{"approvals": [...]}``
``POST /approvals/<id>/approve``           ``{"agent", "reason"?}``: approve and carry out a held
``POST /approvals/<id>/reject``            request, or reject it; the customer's conversation gets
                                           the outcome as a bot message (see below)
``GET /health``                            ``{"status": "ok"}``
``GET /version``                           ``{"version", "minimum_compatible_version"}``
``GET /status``                            ``{"model_file", "model_id", "num_active_training_jobs"}``
``GET /openapi.json``                      this list as OpenAPI 3
=========================================  ====================================================

Authentication is described in :mod:`dialogue.auth`. Errors are Rasa's error object
(``{"version", "status": "failure", "message", "reason", "details", "help", "code"}``) plus
``"error"`` (the message): 400 malformed request (invalid JSON, a missing field, a wrong type),
413 a message longer than ``limits.max_chars`` (default 5000) or a body over 1 MB, 404 an
unknown conversation, 409 resuming a conversation that is not paused, 401/403 authentication,
429 (with ``Retry-After``) a sender or client address over its rate limit
(:mod:`dialogue.guardrails.rate_limit`; the channels and ``/model/parse``).
A refused request never reaches the assistant, so it changes no stored conversation.

``desk run`` (:func:`dialogue.cli.cmd_run`) builds the app with :func:`build_app` and serves it
with :func:`serve`; :class:`ServerThread` serves one from a background thread (tests,
embedding); :class:`ActionServerProcess` runs a project's rasa-sdk action server as a child.

Handlers are thin: they check the request, call the assistant, and shape the reply; the
assistant knows nothing of HTTP.

Approvals: the ``/approvals`` endpoints authenticate like the conversation endpoints (a token, or
a JWT with role ``admin``) and call the action server's ``action_list_approvals`` /
``action_decide_approval`` with Rasa's request format, the decision in ``latest_message.metadata``
and a sender id starting with :data:`AGENT_SENDER_PREFIX`, which no channel accepts as a
conversation id (400 on REST and the conversation endpoints; a websocket or socket.io message with
it is dropped). A decision's customer-facing outcome is appended to the customer's conversation
as a ``bot`` event (:meth:`dialogue.engine.Assistant.notify`): over REST nothing is pushed, the
customer sees it on the next fetch of the tracker. Errors: 400 a bad body, 404 an unknown
request, 409 one already decided, 502 the action server is unavailable or failed.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import logging
import os
import re
import socket
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Mapping

from sanic import Sanic
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse, html, json

from dialogue.auth import AuthError, AuthSettings, authorise
from dialogue.channels import AGENT_SENDER_PREFIX, BadInput, payloads, sender_id, user_text
from dialogue.guardrails.limits import MessageLimits

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000
WEB_PAGE = Path(__file__).parent / "channels" / "web" / "index.html"
EVENT_VERBOSITY = ("ALL", "APPLIED", "AFTER_RESTART", "NONE")
DEFAULT_VERBOSITY = "AFTER_RESTART"  # Rasa's default for the tracker endpoints
_REASONS = {
    400: "BadRequest",
    401: "NotAuthenticated",
    403: "NotAuthorized",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    413: "PayloadTooLarge",
    429: "TooManyRequests",
    500: "ServerError",
    502: "BadGateway",
}
_ACTION_ERRORS = {"not_found": 404, "already_decided": 409, "invalid": 400}
_app_names = itertools.count()


def server_version() -> str:
    try:
        return version("desk")
    except PackageNotFoundError:
        return "0+unknown"


@dataclass(frozen=True)
class ServerSettings:
    """How the server behaves; everything but the assistant."""

    auth: AuthSettings = field(default_factory=AuthSettings)
    credentials: Mapping[str, Any] = field(default_factory=dict)  # credentials.yml
    limits: MessageLimits = field(default_factory=MessageLimits)  # size and clean-up of every message
    rate_limiter: Any = None  # a dialogue.guardrails.rate_limit.RateLimiter: messages per sender and address
    model_file: str | None = None
    model_id: str | None = None


# ---------------------------------------------------------------------------- helpers


def error(status: int, message: str, reason: str | None = None, details: dict | None = None) -> HTTPResponse:
    """Rasa's error response (plus ``error``, the message)."""
    return json(
        {
            "version": server_version(),
            "status": "failure",
            "message": message,
            "reason": reason or _REASONS.get(status, "Error"),
            "details": details or {},
            "help": None,
            "code": status,
            "error": message,
        },
        status=status,
    )


def json_body(request: Request) -> Any:
    """The request's JSON body (``None`` when empty); :class:`BadInput` when it is not JSON."""
    if not request.body:
        return None
    return payloads.decode(request.body)


def client_address(request: Request) -> str:
    """The client's address: the proxy-reported one when Sanic trusts a proxy, else the peer's."""
    return request.remote_addr or request.ip


async def rate_limit(request: Request, sender: str | None) -> Any:
    """Count one message; the ``Refusal`` when the sender or the client address is over its limit."""
    limiter = request.app.ctx.settings.rate_limiter
    return None if limiter is None else await limiter.check(sender, client_address(request))


def too_many_requests(refusal: Any) -> HTTPResponse:
    """429 with ``Retry-After`` (seconds) for a rate-limit refusal."""
    details = {"scope": refusal.scope, "limit": refusal.limit, "window_seconds": refusal.window,
               "retry_after": refusal.retry_after}
    response = error(429, refusal.message, details=details)
    response.headers["Retry-After"] = str(refusal.retry_after)
    return response


def make_user_message(**fields: Any):
    """A ``dialogue.engine.UserMessage`` (imported lazily: the engine is not a channel's concern)."""
    from dialogue.engine import UserMessage

    return UserMessage(**fields)


def _conversation(conversation_id: str) -> str:
    return sender_id(conversation_id, "conversation id", default=None)


def _auth(request: Request, conversation_id: str | None = None, open_when_unconfigured: bool = False) -> None:
    authorise(
        request.app.ctx.settings.auth,
        request.args.get("token"),
        request.headers.get("authorization"),
        conversation_id,
        open_when_unconfigured,
    )


def _verbosity(request: Request) -> str:
    value = request.args.get("include_events", DEFAULT_VERBOSITY).upper()
    if value not in EVENT_VERBOSITY:
        raise BadInput(f"Invalid parameter value for 'include_events'. Should be one of {', '.join(EVENT_VERBOSITY)}")
    return value.lower()


def _web_page() -> tuple[str, str]:
    """The chat page and a Content-Security-Policy allowing exactly its own inline script and style."""
    page = WEB_PAGE.read_text(encoding="utf-8")

    def hashes(tag: str) -> str:
        found = re.findall(rf"<{tag}>(.*?)</{tag}>", page, flags=re.S)
        return " ".join(
            f"'sha256-{base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()}'" for body in found
        )

    policy = (
        f"default-src 'none'; script-src {hashes('script')}; style-src {hashes('style')}; "
        "connect-src 'self'; img-src http: https:; base-uri 'none'; form-action 'none'"
    )
    return page, policy


# ---------------------------------------------------------------------------- the app


def build_app(assistant: Any, settings: ServerSettings | None = None, name: str | None = None) -> Sanic:
    """A Sanic app serving ``assistant`` (see the module docstring for the endpoints)."""
    from dialogue.channels import rest, websocket
    from dialogue.channels import socketio as socketio_channel

    settings = settings or ServerSettings()
    credentials = settings.credentials or {}
    socketio_config = socketio_channel.SocketIOConfig.from_credentials(credentials.get("socketio"))

    app = Sanic(name or f"desk_{next(_app_names)}")
    app.config.REQUEST_MAX_SIZE = MAX_BODY_BYTES
    app.config.WEBSOCKET_MAX_SIZE = MAX_BODY_BYTES
    app.config.FALLBACK_ERROR_FORMAT = "json"
    app.ctx.assistant = assistant
    app.ctx.settings = settings
    app.ctx.started = time.time()
    page, page_policy = _web_page()

    @app.exception(BadInput)
    async def bad_input(request: Request, exc: BadInput):
        return error(exc.status, exc.message)

    @app.exception(AuthError)
    async def not_allowed(request: Request, exc: AuthError):
        return error(exc.status, exc.message, exc.reason)

    @app.exception(SanicException)
    async def http_error(request: Request, exc: SanicException):
        return error(exc.status_code, str(exc) or type(exc).__name__)

    @app.exception(Exception)
    async def server_error(request: Request, exc: Exception):
        logger.exception("error while handling %s %s", request.method, request.path)
        return error(500, "the server could not handle this request (see its log)")

    @app.before_server_stop
    async def disconnect_sockets(app: Sanic) -> None:
        await app.ctx.sio.shutdown()

    @app.after_server_stop
    async def close_assistant(app: Sanic) -> None:
        await app.ctx.assistant.aclose()
        if settings.rate_limiter is not None:
            await settings.rate_limiter.aclose()

    app.blueprint(rest.blueprint())
    app.blueprint(websocket.blueprint())
    app.ctx.sio = socketio_channel.attach(app, socketio_config)

    @app.get("/")
    async def web_chat(request: Request):
        return html(
            page,
            headers={
                "Content-Security-Policy": page_policy,
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
            },
        )

    @app.get("/health")
    async def health(request: Request):
        return json({"status": "ok"})

    @app.get("/version")
    async def version_info(request: Request):
        current = server_version()
        return json({"version": current, "minimum_compatible_version": current})

    @app.get("/openapi.json")
    async def openapi(request: Request):
        from dialogue.openapi import openapi_document

        return json(openapi_document(server_version()))

    @app.get("/status")
    async def status(request: Request):
        _auth(request)
        nlu = getattr(assistant, "nlu", None)
        model_file = settings.model_file or getattr(nlu, "path", None)
        model_id = settings.model_id or getattr(nlu, "fingerprint", None)
        return json(
            {
                "model_file": str(model_file) if model_file else None,
                "model_id": model_id,
                "num_active_training_jobs": 0,
            }
        )

    @app.post("/model/parse")
    async def parse(request: Request):
        _auth(request, open_when_unconfigured=True)
        body = json_body(request)
        if not isinstance(body, dict) or "text" not in body:
            raise BadInput('expected a JSON object with a "text" field, e.g. {"text": "hello"}')
        text = user_text(body["text"], "text", settings.limits)
        refusal = await rate_limit(request, None)
        if refusal is not None:
            return too_many_requests(refusal)
        return json(request.app.ctx.assistant.parse(text))

    @app.get("/conversations/<conversation_id:str>/tracker", unquote=True)
    async def tracker(request: Request, conversation_id: str):
        _auth(request, conversation_id)
        conversation_id = _conversation(conversation_id)
        if "until" in request.args:
            raise BadInput("the 'until' parameter is not supported")
        state = await request.app.ctx.assistant.tracker_state(conversation_id, _verbosity(request))
        if state is None:
            return error(404, f"no conversation with id '{conversation_id}'")
        return json(state)

    @app.post("/conversations/<conversation_id:str>/messages", unquote=True)
    async def add_message(request: Request, conversation_id: str):
        _auth(request, conversation_id)
        conversation_id = _conversation(conversation_id)
        body = json_body(request)
        if not isinstance(body, dict):
            raise BadInput('expected a JSON object like {"text": "hello", "sender": "user"}')
        if "text" not in body:
            raise BadInput('missing "text"')
        text = user_text(body["text"], "text", settings.limits)
        sender = body.get("sender")
        if sender != "user":
            raise BadInput(
                "Currently, only user messages can be passed to this endpoint. "
                f"Messages of sender '{sender}' cannot be handled."
            )
        parse_data = payloads.parse_data(body.get("parse_data"))
        verbosity = _verbosity(request)
        ctx = request.app.ctx
        await ctx.assistant.add_message(conversation_id, text, sender="user", parse_data=parse_data)
        return json(await ctx.assistant.tracker_state(conversation_id, verbosity))

    @app.post("/conversations/<conversation_id:str>/resume", unquote=True)
    async def resume(request: Request, conversation_id: str):
        _auth(request, conversation_id)
        conversation_id = _conversation(conversation_id)
        body = json_body(request)
        if body is not None and not isinstance(body, dict):
            raise BadInput('expected a JSON object like {"agent": "alice"} (or no body)')
        agent = (body or {}).get("agent")
        if agent is not None and not isinstance(agent, str):
            raise BadInput('"agent" must be a string')
        verbosity = _verbosity(request)
        ctx = request.app.ctx
        if not await ctx.assistant.resume(conversation_id, agent):
            if await ctx.assistant.tracker_state(conversation_id, "none") is None:
                return error(404, f"no conversation with id '{conversation_id}'")
            return error(409, f"conversation '{conversation_id}' is not paused")
        return json(await ctx.assistant.tracker_state(conversation_id, verbosity))

    @app.get("/approvals")
    async def list_approvals(request: Request):
        _auth(request)
        status = request.args.get("status", "pending")
        reply = await _agent_call(request, "action_list_approvals", "api", {"status": status})
        if isinstance(reply, HTTPResponse):
            return reply
        return json({"approvals": reply["custom"].get("approvals") or []})

    @app.post("/approvals/<approval_id:str>/approve", unquote=True)
    async def approve(request: Request, approval_id: str):
        return await _decide(request, approval_id, True)

    @app.post("/approvals/<approval_id:str>/reject", unquote=True)
    async def reject(request: Request, approval_id: str):
        return await _decide(request, approval_id, False)

    return app


def _agent_tracker(sender: str, metadata: dict) -> dict:
    """A Rasa tracker for an agent's call: no events, the request in ``latest_message.metadata``."""
    message = {"text": "", "intent": {"name": None, "confidence": 0.0}, "entities": [], "intent_ranking": [],
               "metadata": metadata}
    return {
        "sender_id": sender, "slots": {}, "latest_message": message, "latest_event_time": time.time(),
        "followup_action": None, "paused": False, "events": [], "latest_input_channel": None,
        "active_loop": {}, "latest_action": {"action_name": "action_listen"}, "latest_action_name": "action_listen",
    }


async def _agent_call(request: Request, action: str, agent: str, metadata: dict) -> dict | HTTPResponse:
    """Run an agent action on the action server: ``{"texts", "custom"}``, or the error response."""
    from dialogue.action_client import ActionServerError

    client = getattr(request.app.ctx.assistant, "action_client", None)
    if client is None:
        return error(502, "no action server is configured", "ActionServerUnavailable")
    sender = AGENT_SENDER_PREFIX + agent
    try:
        result = await client.run(action, sender, _agent_tracker(sender, metadata))
    except ActionServerError as exc:
        logger.error("agent call %s failed: %s", action, exc)
        return error(502, f"the action server could not run {action} ({exc.reason})", "ActionServerUnavailable")
    responses = [r for r in result["responses"] if isinstance(r, dict)]
    custom = next((r["custom"] for r in responses if r.get("custom") and isinstance(r["custom"], dict)), None)
    if custom is None:
        return error(502, f"the action server's {action} answered without a result", "ActionServerUnavailable")
    problem = custom.get("error")
    if isinstance(problem, dict):
        status = _ACTION_ERRORS.get(problem.get("reason"), 502)
        return error(status, str(problem.get("message") or problem.get("reason")), _REASONS.get(status))
    texts = [r["text"] for r in responses if isinstance(r.get("text"), str) and r["text"]]
    return {"texts": texts, "custom": custom}


async def _decide(request: Request, approval_id: str, approve: bool) -> HTTPResponse:
    _auth(request)
    body = json_body(request)
    if not isinstance(body, dict):
        raise BadInput('expected a JSON object like {"agent": "alice", "reason": "checked the photos"}')
    agent, reason = body.get("agent"), body.get("reason")
    if not isinstance(agent, str) or not agent.strip():
        raise BadInput('"agent" must be a non-empty string')
    if reason is not None and not isinstance(reason, str):
        raise BadInput('"reason" must be a string')
    if len(agent) > 100 or len(reason or "") > 1000:
        raise BadInput('"agent" (100) or "reason" (1000 characters) too long')
    metadata = {"approval_id": approval_id, "approve": approve, "agent": agent.strip(), "reason": reason}
    reply = await _agent_call(request, "action_decide_approval", agent.strip(), metadata)
    if isinstance(reply, HTTPResponse):
        return reply
    custom = reply["custom"]
    conversation_id = custom.get("conversation_id")
    text = "\n\n".join(reply["texts"]) or None
    notified = False
    if text and isinstance(conversation_id, str) and conversation_id:
        notified = await request.app.ctx.assistant.notify(conversation_id, text)
    return json({
        "approval": custom.get("approval"),
        "executed": bool(custom.get("executed")),
        "message": custom.get("message"),
        "conversation_id": conversation_id,
        "customer_message": text,
        "customer_notified": notified,
    })


# ---------------------------------------------------------------------------- running it

SUPPORTED_CHANNELS = ("rest", "socketio")
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}


def load_credentials(path: str | Path) -> dict:
    """``credentials.yml`` (Rasa's channel settings) as a dict; ``{}`` when the file is absent.

    ``${NAME}`` is replaced by the environment variable ``NAME``. Sections of channels Desk
    does not serve are ignored with a warning. The REST, socket.io and websocket channels are
    always served; the ``socketio`` section configures socket.io.
    """
    import yaml

    path = Path(path)
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ValueError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a credentials file is a mapping of channel names to their settings")

    def expand(value: Any) -> Any:
        if isinstance(value, str):
            def variable(match: re.Match) -> str:
                if match.group(1) not in os.environ:
                    raise ValueError(f"{path}: environment variable {match.group(1)!r} is not set")
                return os.environ[match.group(1)]

            return re.sub(r"\$\{([^}]+)\}", variable, value)
        if isinstance(value, dict):
            return {k: expand(v) for k, v in value.items()}
        if isinstance(value, list):
            return [expand(v) for v in value]
        return value

    for name in data:
        if name not in SUPPORTED_CHANNELS:
            logger.warning("%s: channel %r is not served by Desk; its settings are ignored", path, name)
    return expand(data)


def serve(app: Sanic, host: str = "127.0.0.1", port: int = 5005) -> None:
    """Serve ``app`` in this process until interrupted (SIGINT or SIGTERM)."""
    for name in ("sanic.root", "sanic.server", "sanic.error", "sanic.access", "sanic.websockets"):
        logging.getLogger(name).propagate = False  # Sanic prints its own log lines
    app.run(host=host, port=port, single_process=True, access_log=False, motd=False)


def _stop_with_parent() -> None:  # pragma: no cover - runs in the child
    """Linux: the child gets SIGTERM when the process that started it dies."""
    import ctypes
    import signal

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def plan_action_server(
    project_dir: Path, endpoints: Mapping[str, Any], default_port: int = 5055
) -> tuple["ActionServerProcess | None", str | None]:
    """Which action server a project uses: ``(child process to start or None, webhook URL or None)``.

    - ``endpoints.yml`` names a server on another machine: that one, nothing is started;
    - it names one on this machine that already answers: that one;
    - otherwise, when the project has action code (``actions/`` or ``actions.py``): a child
      process on the named port (``default_port`` when ``action_endpoint`` is absent);
    - no action code and no ``action_endpoint``: none (custom actions fail, responses work).
    """
    from urllib.parse import urlsplit

    section = endpoints.get("action_endpoint") if isinstance(endpoints, Mapping) else None
    url = section.get("url") if isinstance(section, Mapping) else None
    has_code = ActionServerProcess.present(project_dir)
    if not url:
        if not has_code:
            return None, None
        child = ActionServerProcess(project_dir, default_port)
        return child, child.url
    parts = urlsplit(str(url))
    if parts.hostname not in _LOCAL_HOSTS or not has_code:
        return None, str(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if ActionServerProcess.answering(port):
        return None, str(url)
    return ActionServerProcess(project_dir, port), str(url)


class ActionServerProcess:
    """The project's rasa-sdk action server as a child process (``python -m rasa_sdk``).

    Runs ``python -m rasa_sdk --actions actions --port PORT`` in the project directory; use as
    a context manager, or :meth:`start` and :meth:`stop`.
    """

    def __init__(self, project_dir: Path, port: int = 5055, actions: str = "actions", startup_timeout: float = 60.0):
        self.project_dir = Path(project_dir)
        self.port = port
        self.actions = actions
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhook"

    @staticmethod
    def present(project_dir: Path, actions: str = "actions") -> bool:
        """Whether the project has action code to serve (``actions/`` or ``actions.py``)."""
        base = Path(project_dir) / actions.replace(".", "/")
        return (base / "__init__.py").is_file() or base.with_suffix(".py").is_file()

    @staticmethod
    def answering(port: int) -> bool:
        """Whether an action server answers ``/health`` on this machine's ``port``."""
        import httpx

        try:
            return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def launch(self) -> "ActionServerProcess":
        """Start the process without waiting for it (see :meth:`wait_ready`)."""
        if not port_is_free(self.port):
            raise ValueError(
                f"port {self.port} is in use, so the action server cannot start there; "
                "stop what uses it, or name another port (endpoints.yml action_endpoint, --actions-port)"
            )
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(self.project_dir), os.environ.get("PYTHONPATH")]))}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rasa_sdk", "--actions", self.actions, "--port", str(self.port)],
            cwd=self.project_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            # Its own process group: Sanic runs a manager and a worker, and stop() ends both.
            start_new_session=True,
            preexec_fn=_stop_with_parent if sys.platform == "linux" else None,
        )
        return self

    def wait_ready(self) -> "ActionServerProcess":
        """Wait until the process answers ``/health``; ``ValueError`` when it exits or times out."""
        import httpx

        assert self.process is not None, "launch() first"
        deadline = time.monotonic() + self.startup_timeout
        health = f"http://127.0.0.1:{self.port}/health"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ValueError(f"the action server exited with code {self.process.returncode} (see its output above)")
            try:
                if httpx.get(health, timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise ValueError(f"the action server did not answer {health} within {self.startup_timeout:.0f} s")

    def start(self) -> "ActionServerProcess":
        return self.launch().wait_ready()

    def stop(self) -> None:
        if self.process is None:
            return
        self._signal_group(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._signal_group(signal.SIGKILL)  # a worker that outlived its manager

    def _signal_group(self, signum: int) -> None:
        try:
            os.killpg(self.process.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass

    def __enter__(self) -> "ActionServerProcess":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class ServerThread:
    """Serves an app from a background thread with its own event loop (for tests and embedding).

    ``port=0`` picks a free port; :attr:`url` names the address once :meth:`start` returns::

        with ServerThread(build_app(assistant)) as server:
            httpx.get(f"{server.url}/health")
    """

    def __init__(self, app: Sanic, host: str = "127.0.0.1", port: int = 0, startup_timeout: float = 30.0):
        self.app = app
        self.host = host
        self.port = port
        self.startup_timeout = startup_timeout
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name=f"server-{app.name}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> "ServerThread":
        self._thread.start()
        if not self._ready.wait(self.startup_timeout):
            raise RuntimeError(f"the server did not start within {self.startup_timeout} s")
        if self._failure is not None:
            raise RuntimeError("the server failed to start") from self._failure
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as e:  # reported to start()
            self._failure = e
        finally:
            self._ready.set()
            pending = asyncio.all_tasks(self._loop)
            for task in pending:
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        # Sanic's start-up optimisation rewrites methods of the Sanic class itself: with more
        # than one app in a process, only unmodified methods are safe.
        self.app.config.TOUCHUP = False
        server = await self.app.create_server(sock=sock, access_log=False, return_asyncio_server=True)
        await server.startup()
        await server.before_start()
        await server.after_start()
        self._ready.set()
        await self._stop.wait()
        await server.before_stop()
        for connection in list(server.connections):
            connection.close_if_idle()
        await server.close()
        await server.after_stop()

    def __enter__(self) -> "ServerThread":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
