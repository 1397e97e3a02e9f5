"""The OpenAPI 3 description of the server's endpoints, served at ``GET /openapi.json``."""

from __future__ import annotations

from typing import Any


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict:
    text = {
        400: "Malformed request: invalid JSON, a missing field, a wrong type, or a text holding NUL or a lone surrogate.",
        401: "Not authenticated (or authentication is required and none is configured).",
        403: "The JWT's role may not use this endpoint or conversation.",
        404: "No such conversation.",
        409: "The conversation is not paused.",
        413: "The message is longer than the server's limit (default 5000 characters).",
        429: "The sender or the client address is over its rate limit (guardrails.rate_limit); "
             "Retry-After says in how many seconds to try again.",
        502: "The action server is unavailable or could not run the call.",
    }
    responses = {str(code): _json(_ref("Error"), text[code]) for code in codes}
    if 429 in codes:
        responses["429"]["headers"] = {"Retry-After": {"description": "Seconds until the limit allows a message.",
                                                       "schema": {"type": "integer", "minimum": 1}}}
    return responses


# No NUL. A lone surrogate (JSON's "\ud800" escape) is refused too; it is left out of the pattern,
# where it would be a range of UTF-16 code units that generators and validators read differently.
_WRITABLE = r"[^\x00]*$"
# dialogue.channels.AGENT_SENDER_PREFIX is reserved for agents' calls.
_SENDER = {"type": "string", "minLength": 1, "maxLength": 256, "pattern": "^(?!__agent__:)" + _WRITABLE}
_TEXT = {"type": "string", "maxLength": 5000, "pattern": "^" + _WRITABLE}  # longer: 413
_CONVERSATION_ID = {
    "name": "conversation_id",
    "in": "path",
    "required": True,
    "description": "The conversation (sender) id.",
    "schema": _SENDER,
}
_INCLUDE_EVENTS = {
    "name": "include_events",
    "in": "query",
    "allowEmptyValue": True,
    "description": "Case-insensitive; empty means the default.",
    "schema": {"type": "string", "enum": ["ALL", "APPLIED", "AFTER_RESTART", "NONE"], "default": "AFTER_RESTART"},
}
_SECURED = [{"TokenAuth": []}, {"JWT": []}]

_SCHEMAS: dict[str, Any] = {
    "Approval": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "conversation_id": {"type": "string"},
            "customer_id": {"type": "string", "nullable": True},
            "tool": {"type": "string"},
            "parameters": {"type": "object"},
            "amount": {"type": "string", "nullable": True},
            "currency": {"type": "string", "nullable": True},
            "status": {"type": "string", "enum": ["pending", "approved", "rejected", "executed"]},
            "summary": {"type": "string"},
            "requested_at": {"type": "string"},
            "decided_by": {"type": "string", "nullable": True},
            "decided_at": {"type": "string", "nullable": True},
            "reason": {"type": "string", "nullable": True},
            "executed_at": {"type": "string", "nullable": True},
        },
    },
    "Decision": {
        "type": "object",
        "properties": {
            "approval": {"$ref": "#/components/schemas/Approval"},
            "executed": {"type": "boolean", "description": "The held action has been carried out."},
            "message": {"type": "string", "description": "For the agent."},
            "conversation_id": {"type": "string"},
            "customer_message": {"type": "string", "nullable": True,
                                 "description": "What the customer's conversation was told."},
            "customer_notified": {"type": "boolean",
                                  "description": "The message was added to the conversation (false: unknown to this server)."},
        },
    },
    "Error": {
        "type": "object",
        "description": "Rasa's error response, plus `error` (the same text as `message`).",
        "properties": {
            "version": {"type": "string"},
            "status": {"type": "string", "enum": ["failure"]},
            "message": {"type": "string"},
            "reason": {"type": "string"},
            "details": {"type": "object"},
            "help": {"type": "string", "nullable": True},
            "code": {"type": "integer"},
            "error": {"type": "string"},
        },
        "required": ["status", "message", "code", "error"],
    },
    "RestRequest": {
        "type": "object",
        "required": ["message"],
        "properties": {
            "sender": {**_SENDER, "nullable": True, "default": "default", "description": "The conversation id."},
            "message": _TEXT,
            "metadata": {"type": "object", "nullable": True},
            "input_channel": {"type": "string", "nullable": True, "default": "rest"},
        },
    },
    "BotMessage": {
        "type": "object",
        "description": "Rasa's collected bot message: `recipient_id` first, then only the keys present.",
        "required": ["recipient_id"],
        "properties": {
            "recipient_id": {"type": "string"},
            "text": {"type": "string"},
            "image": {"type": "string", "format": "uri"},
            "buttons": {
                "type": "array",
                "items": {"type": "object", "properties": {"title": {"type": "string"}, "payload": {"type": "string"}}},
            },
            "attachment": {},
            "custom": {},
        },
    },
    "ParseResult": {
        "type": "object",
        "properties": {
            "text": {"type": "string"},
            "intent": {"type": "object", "properties": {"name": {"type": "string"}, "confidence": {"type": "number"}}},
            "entities": {"type": "array", "items": {"type": "object"}},
            "intent_ranking": {"type": "array", "items": {"type": "object"}},
        },
    },
    "Tracker": {
        "type": "object",
        "description": "Rasa's tracker state, keys in Rasa's order.",
        "properties": {
            "sender_id": {"type": "string"},
            "slots": {"type": "object"},
            "latest_message": {"type": "object"},
            "latest_event_time": {"type": "number", "nullable": True},
            "followup_action": {"type": "string", "nullable": True},
            "paused": {"type": "boolean"},
            "events": {"type": "array", "items": {"type": "object"}, "nullable": True},
            "latest_input_channel": {"type": "string", "nullable": True},
            "active_loop": {"type": "object"},
            "latest_action": {"type": "object"},
            "latest_action_name": {"type": "string", "nullable": True},
        },
    },
}


def openapi_document(version: str) -> dict:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Desk HTTP API",
            "version": version,
            "description": (
                "Rasa 3.x compatible channels and HTTP API. Channels, /health, /version and /openapi.json "
                "need no authentication; the other endpoints take ?token=<auth token> or an "
                "`Authorization: Bearer <JWT>` header. While no authentication is configured, "
                "/model/parse is open and the conversation endpoints and /status answer 401. "
                "socket.io (Rasa's SocketIOInput protocol) is served at /socket.io and a plain "
                "websocket at /websocket (send {\"sender\"?, \"message\", \"metadata\"?}, receive "
                "the REST reply array)."
            ),
        },
        "components": {
            "securitySchemes": {
                "TokenAuth": {"type": "apiKey", "in": "query", "name": "token"},
                "JWT": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            },
            "schemas": _SCHEMAS,
        },
        "paths": {
            "/": {"get": {"summary": "The web chat page.", "responses": {"200": {"description": "HTML page."}}}},
            "/health": {
                "get": {
                    "summary": "Liveness.",
                    "responses": {"200": _json({"type": "object", "properties": {"status": {"type": "string"}}}, "ok")},
                }
            },
            "/version": {
                "get": {
                    "summary": "Server version.",
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "version": {"type": "string"},
                                    "minimum_compatible_version": {"type": "string"},
                                },
                            },
                            "Versions.",
                        )
                    },
                }
            },
            "/status": {
                "get": {
                    "summary": "The loaded model.",
                    "security": _SECURED,
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "model_file": {"type": "string", "nullable": True},
                                    "model_id": {"type": "string", "nullable": True},
                                    "num_active_training_jobs": {"type": "integer"},
                                },
                            },
                            "Status.",
                        ),
                        **_errors(401, 403),
                    },
                }
            },
            "/model/parse": {
                "post": {
                    "summary": "Parse a message with the NLU model (no conversation is touched).",
                    "security": _SECURED,
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["text"],
                                    "properties": {"text": _TEXT},
                                }
                            }
                        },
                    },
                    "responses": {"200": _json(_ref("ParseResult"), "Parse result."), **_errors(400, 401, 403, 413, 429)},
                }
            },
            "/webhooks/rest/": {
                "get": {"summary": "REST channel health.", "responses": {"200": {"description": '{"status": "ok"}'}}}
            },
            "/webhooks/rest/webhook": {
                "post": {
                    "summary": "Send a user message; receive the bot's messages (Rasa's REST channel).",
                    "parameters": [
                        {
                            "name": "stream",
                            "in": "query",
                            "schema": {"type": "string"},
                            "description": "`true`, `1` or `yes` (any case): stream the messages, one JSON object "
                                           "per line; anything else: one JSON array.",
                        }
                    ],
                    "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("RestRequest")}}},
                    "responses": {
                        "200": {
                            "description": "The bot's messages (with ?stream=true: one JSON object per line).",
                            "content": {
                                "application/json": {"schema": {"type": "array", "items": _ref("BotMessage")}},
                                "text/event-stream": {"schema": {"type": "string"}},
                            },
                        },
                        **_errors(400, 413, 429),
                    },
                }
            },
            "/conversations/{conversation_id}/tracker": {
                "get": {
                    "summary": "A conversation's tracker.",
                    "security": _SECURED,
                    "parameters": [
                        _CONVERSATION_ID,
                        _INCLUDE_EVENTS,
                    ],
                    "responses": {"200": _json(_ref("Tracker"), "The tracker."), **_errors(400, 401, 403, 404)},
                }
            },
            "/conversations/{conversation_id}/messages": {
                "post": {
                    "summary": "Add a user message to a conversation without running the bot (Rasa's endpoint).",
                    "security": _SECURED,
                    "parameters": [
                        _CONVERSATION_ID,
                        _INCLUDE_EVENTS,
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["text", "sender"],
                                    "properties": {
                                        "text": _TEXT,
                                        "sender": {"type": "string", "enum": ["user"]},
                                        "parse_data": {"type": "object", "nullable": True,
                                                       "description": "Used instead of parsing `text`, in "
                                                                      "/model/parse's shape."},
                                    },
                                }
                            }
                        },
                    },
                    "responses": {"200": _json(_ref("Tracker"), "The tracker."), **_errors(400, 401, 403, 413)},
                }
            },
            "/conversations/{conversation_id}/resume": {
                "post": {
                    "summary": "Hand a paused conversation (after a handoff) back to the assistant.",
                    "security": _SECURED,
                    "parameters": [_CONVERSATION_ID],
                    "requestBody": {
                        "required": False,
                        "content": {
                            "application/json": {
                                "schema": {"type": "object", "properties": {"agent": {"type": "string"}}}
                            }
                        },
                    },
                    "responses": {"200": _json(_ref("Tracker"), "The tracker."), **_errors(400, 401, 403, 404, 409)},
                }
            },
            "/approvals": {
                "get": {
                    "summary": "Requests held for a person's approval (refunds above the threshold, account closures).",
                    "security": _SECURED,
                    "parameters": [
                        {
                            "name": "status",
                            "in": "query",
                            "required": False,
                            "allowEmptyValue": True,
                            "schema": {"type": "string", "default": "pending",
                                       "enum": ["pending", "approved", "rejected", "executed", "all"]},
                        }
                    ],
                    "responses": {
                        "200": _json(
                            {"type": "object", "properties": {"approvals": {"type": "array", "items": _ref("Approval")}}},
                            "The requests, oldest first.",
                        ),
                        **_errors(400, 401, 403, 502),
                    },
                }
            },
            **{f"/approvals/{{approval_id}}/{verb}": {"post": _decision(verb)} for verb in ("approve", "reject")},
        },
    }


def _decision(verb: str) -> dict:
    what = ("Approve a held request and carry it out (once)." if verb == "approve"
            else "Reject a held request.")
    return {
        "summary": what + " The customer's conversation gets the outcome as a bot message, "
                          "seen on the next fetch of its tracker (nothing is pushed over REST).",
        "security": _SECURED,
        "parameters": [{"name": "approval_id", "in": "path", "required": True, "schema": {"type": "string"},
                        "description": "The request, e.g. APR-00001."}],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {
                "type": "object", "required": ["agent"],
                "properties": {"agent": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": r"\S"},
                               "reason": {"type": "string", "maxLength": 1000}},
            }}},
        },
        "responses": {
            "200": _json(_ref("Decision"), "The decision."),
            **_errors(400, 401, 403),
            "404": _json(_ref("Error"), "No such approval request."),
            "409": _json(_ref("Error"), "The request was already decided."),
            **_errors(502),
        },
    }
