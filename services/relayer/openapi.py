"""The relayer's OpenAPI document: every route services.relayer.health serves, typed.

Written by hand next to the routes (the relayer serves HTTP on services.common.http, not
FastAPI, for RSS); tests/services/api/test_service_schemas.py runs schemathesis against a live
relayer with it. Message rows and health sections list the fields clients rely on and allow
more, since the queue's columns grow with the relayer.
"""

from __future__ import annotations

from typing import Any

from services.common.openapi import (
    ADDRESS,
    BYTES32,
    Schema,
    document,
    hex_string,
    integer,
    json_response,
    nullable,
    obj,
    operation,
    param,
)

STATUS = {"type": "string", "description": "pending, attested, submitted, delivered, failed, ..."}
COUNT = integer()
TIME = nullable({"type": "number"})

MESSAGE = obj(
    {
        "id": BYTES32,
        "src": integer(),
        "dst": integer(),
        "nonce": integer(),
        "sender": {"type": "string"},
        "recipient": {"type": "string"},
        "payload": hex_string(description="the message payload"),
        "sent_block": integer(),
        "status": STATUS,
        "attempts": COUNT,
        "failures": COUNT,
        "last_error": nullable({"type": "string"}),
        "revert_reason": nullable({"type": "string"}),
        "attempt_log": {"type": "array", "items": {"type": "object", "required": ["attempt"]}},
    }
)
CHAIN = obj(
    {
        "name": {"type": "string"},
        "connected": {"type": "boolean"},
        "head": integer(-1),
        "inflight": COUNT,
        "cursor": integer(),
    },
    optional=("cursor",),
)
WATCHTOWER = obj(
    {
        "status": {"enum": ["ok", "alert"]},
        "checked": COUNT,
        "rewound": COUNT,
        "flags": {"type": "array", "items": {"type": "object"}},
        "distrusted": {"type": "array", "items": {"type": "string"}},
    }
)
HEALTH = obj(
    {
        "status": {"enum": ["ok", "starting", "degraded"]},
        "address": ADDRESS,
        "out_of_funds": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "chain name -> why the relayer's last transaction there could not be paid for",
        },
        "chains": {"type": "object", "additionalProperties": CHAIN, "description": "by chain id"},
        "queue": obj(
            {
                "messages": {"type": "object", "additionalProperties": COUNT, "description": "by status"},
                "total": COUNT,
            }
        ),
        "counters": {"type": "object", "additionalProperties": COUNT},
        "guardians": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "url -> ok | down: why",
        },
        "live_feeds": {
            "type": "array",
            "items": {"type": "string"},
            "description": "guardians (urls) whose live feed of signatures is connected",
        },
        "guardian_sets": {
            "type": "object",
            "additionalProperties": obj(
                {"members": {"type": "array", "items": {"type": "string"}}, "threshold": COUNT}
            ),
        },
        "slashes": {"type": "array", "items": {"type": "object"}},
        "watchtower": nullable(WATCHTOWER),
        "uptime": {"type": "number", "minimum": 0},
    }
)
RETRIED = obj({"id": BYTES32, "status": {"enum": ["pending"]}})
MESSAGE_ID = param("message_id", "path", BYTES32 | {"description": "0x and 64 hex digits"})


def paths() -> dict[str, dict[str, Schema]]:
    return {
        "/health": {
            "get": operation(
                "relayer health",
                [],
                {200: json_response("relaying", HEALTH), 503: json_response("not ready or a chain is lost", HEALTH)},
            )
        },
        "/v1/messages/{message_id}": {
            "get": operation(
                "one message", [MESSAGE_ID], {200: json_response("the queue's row and its attempts", MESSAGE)}, 404
            )
        },
        "/v1/messages/{message_id}/retry": {
            "post": operation(
                "retry a message",
                [MESSAGE_ID],
                {200: json_response("queued to be delivered again", RETRIED)},
                404,
                409,
            )
        },
    }


def relayer_document() -> dict[str, Any]:
    return document(
        "Metalayer relayer",
        "1.0.0",
        paths(),
        "Relays ERC-7786 messages between the devnet's chains; errors carry the devnet's common error body.",
    )
