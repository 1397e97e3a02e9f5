"""The HTTP server (Sanic): Rasa's ``/model/parse`` and status endpoints.

Handlers are thin: they validate the request, call the model, and shape the reply.
"""

from __future__ import annotations

import time
from pathlib import Path

from sanic import Sanic
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse, json

from nlu import NLUModel, load_model
from nlu.model import desk_version

MAX_MESSAGE_CHARS = 5_000


def error(status: int, message: str, **extra) -> HTTPResponse:
    return json({"error": message, **extra}, status=status)


def build_app(model: NLUModel, name: str = "desk") -> Sanic:
    app = Sanic(name)
    app.config.REQUEST_MAX_SIZE = 1_000_000
    app.ctx.model = model
    app.ctx.started = time.time()

    @app.exception(SanicException)
    async def http_error(request: Request, exc: SanicException):
        return error(exc.status_code, str(exc) or type(exc).__name__)

    @app.get("/health")
    async def health(request: Request):
        return json({"status": "ok"})

    @app.get("/version")
    async def version(request: Request):
        return json({"version": desk_version(), "minimum_compatible_version": desk_version()})

    @app.get("/status")
    async def status(request: Request):
        loaded = request.app.ctx.model
        return json(
            {
                "model_file": str(loaded.path) if loaded.path else None,
                "model_id": loaded.fingerprint,
                "num_active_training_jobs": 0,
            }
        )

    @app.post("/model/parse")
    async def parse(request: Request):
        try:
            body = request.json
        except Exception:
            return error(400, "the request body is not valid JSON")
        if not isinstance(body, dict) or "text" not in body:
            return error(400, 'expected a JSON object with a "text" field, e.g. {"text": "hello"}')
        text = body["text"]
        if not isinstance(text, str):
            return error(400, '"text" must be a string')
        if len(text) > MAX_MESSAGE_CHARS:
            return error(413, f"message longer than {MAX_MESSAGE_CHARS} characters")
        return json(request.app.ctx.model.parse(text))

    return app


def serve(model_path: str | Path, host: str = "127.0.0.1", port: int = 5005) -> None:
    app = build_app(load_model(model_path))
    app.run(host=host, port=port, single_process=True, access_log=False, motd=False)
