"""The one error body every HTTP service of the devnet answers with, as plain data.

    {"error": {"code": "not_found", "message": "unknown message id 0x..", "details": []}}

The API builds it with pydantic (services/api/errors.py); the guardians and the relayer build it
here without pydantic, for the RSS reasons in services/common/http.py. `SCHEMA` is its JSON
Schema, published in each service's OpenAPI document.
"""

from __future__ import annotations

from typing import Any

CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "body_too_large",
    422: "invalid_request",
    429: "too_many_requests",
    431: "header_too_large",
    502: "upstream_error",
    503: "unavailable",
}

SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string", "enum": sorted(set(CODES.values()) | {"error"})},
                "message": {"type": "string"},
                "details": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["loc", "msg", "type"],
                        "properties": {
                            "loc": {"type": "array", "items": {"type": ["string", "integer"]}},
                            "msg": {"type": "string"},
                            "type": {"type": "string"},
                        },
                    },
                },
            },
        }
    },
}


def error_body(status: int, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The body of an error answer with `status`; `details` as [{"loc", "msg", "type"}]."""
    return {"error": {"code": CODES.get(status, "error"), "message": message, "details": list(details or [])}}
