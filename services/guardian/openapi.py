"""The guardian's OpenAPI document: every route services.guardian.service serves, typed.

Written by hand next to the routes because the guardian serves them on services.common.http
(not FastAPI, for RSS); tests/services/test_guardian_schema.py runs schemathesis against a live
guardian with it, so a route that drifts from its description fails `make test`.
"""

from __future__ import annotations

from typing import Any

from services.common.openapi import (
    ADDRESS,
    BYTES32,
    MAX_INT,
    Schema,
    document,
    hex_string,
    int_param,
    integer,
    json_response,
    nullable,
    obj,
    operation,
    param,
)

WAIT_MAX = 60.0  # seconds a request may wait for its block to reach confirmations depth
FEED_LIMIT = 1000  # default page of the feed
FEED_LIMIT_MAX = 10000

ATTESTATION = obj(
    {
        "chain_id": integer(description="the chain the block belongs to"),
        "block_number": integer(),
        "block_hash": BYTES32,
        "state_root": BYTES32,
        "signature": hex_string(65, "EIP-712 signature (r, s, v) of (chain_id, block_number, block_hash, state_root)"),
        "signer": ADDRESS,
        "signed_at": {"type": "number", "description": "unix time of signing"},
        "seq": integer(1, description="position in this guardian's feed"),
    }
)
GUARDIAN_ATTESTATION = ATTESTATION | {
    "required": [*ATTESTATION["required"], "guardian"],
    "properties": ATTESTATION["properties"] | {"guardian": integer(description="the guardian's manifest index")},
}
FEED_ENTRY = ATTESTATION | {
    "required": [*ATTESTATION["required"], "forced"],
    "properties": ATTESTATION["properties"]
    | {"forced": {"type": "boolean", "description": "a test-only conflicting signature"}},
}
FEED = obj(
    {
        "guardian": integer(),
        "signer": ADDRESS,
        "attestations": {"type": "array", "items": FEED_ENTRY},
        "next": integer(description="pass as `after` for the next page"),
        "store": {
            "type": "string",
            "description": "this store's id: seqs count in it; another id means the store was replaced (read from 0)",
        },
    }
)
CHAIN_HEALTH = obj(
    {
        "name": {"type": "string"},
        "connected": {"type": "boolean"},
        "head": integer(-1, description="newest block seen, -1 before the first"),
        "last_signed": nullable(integer()),
    }
)
HEALTH = obj(
    {
        "status": {"enum": ["ok", "starting", "wrong instance"]},
        "guardian": integer(),
        "address": ADDRESS,
        "confirmations": integer(),
        "chains": {"type": "object", "additionalProperties": CHAIN_HEALTH, "description": "by chain id"},
        "signed": integer(),
        "refused_second_roots": integer(),
        "uptime": {"type": "number", "minimum": 0},
        "instance_id": BYTES32,
        "instance_errors": {"type": "object", "additionalProperties": {"type": "string"}},
    }
)
EQUIVOCATION = obj({"honest": GUARDIAN_ATTESTATION, "conflicting": GUARDIAN_ATTESTATION})


def _chain(chain_ids: list[int]) -> Schema:
    return int_param("chain_id", "path", examples=chain_ids[:1], description=f"known: {chain_ids}")


def _wait(default: float) -> Schema:
    schema = {"type": "number", "minimum": 0, "maximum": WAIT_MAX, "default": default}
    return param("wait", "query", schema, "seconds to wait for the block to reach confirmations depth")


def paths(chain_ids: list[int], allow_equivocation: bool) -> dict[str, dict[str, Schema]]:
    block = int_param("block", "path", examples=[1])
    out: dict[str, dict[str, Schema]] = {
        "/health": {
            "get": operation(
                "guardian health",
                [],
                {200: json_response("following every chain", HEALTH), 503: json_response("not ready", HEALTH)},
            )
        },
        "/v1/attestations/{chain_id}/latest": {
            "get": operation(
                "latest attestation",
                [_chain(chain_ids)],
                {200: json_response("the newest signed block of the chain", GUARDIAN_ATTESTATION)},
                404,
            )
        },
        "/v1/attestations/{chain_id}/{block}": {
            "get": operation(
                "attestation of a block",
                [_chain(chain_ids), block, _wait(0.0)],
                {200: json_response("the block's attestation, signed on demand", GUARDIAN_ATTESTATION)},
                404,
                503,
            )
        },
        "/v1/attestations": {
            "get": operation(
                "attestation feed",
                [
                    int_param("after", "query", description="sequence number to start after (default 0)"),
                    int_param("limit", "query", 1, FEED_LIMIT_MAX, description=f"page size (default {FEED_LIMIT})"),
                    int_param("chain_id", "query", description="only this chain"),
                ],
                {200: json_response("everything signed after `after`, by sequence number", FEED)},
            )
        },
    }
    if allow_equivocation:
        out["/v1/test/equivocate/{chain_id}/{block}"] = {
            "post": operation(
                "TEST ONLY sign a conflicting root",
                [_chain(chain_ids), block, _wait(5.0)],
                {200: json_response("the honest and the conflicting attestation", EQUIVOCATION)},
                404,
                503,
            )
        }
    return out


def guardian_document(index: int, chain_ids: list[int], allow_equivocation: bool) -> dict[str, Any]:
    return document(
        f"Metalayer guardian {index}",
        "1.0.0",
        paths(chain_ids, allow_equivocation),
        "Signs (chain id, block, block hash, state root) under the devnet's EIP-712 domain. "
        f"Every integer is 0..{MAX_INT} (SQLite INTEGER); errors carry the devnet's common error body.",
    )
