"""Small builders for the OpenAPI 3.1 documents of the services on services.common.http.

The guardians and the relayer describe their routes statically with these (the API gets its
document from FastAPI); `publish` serves one at `GET /openapi.json`, where schemathesis and
clients read it.

    doc = document("guardian", "1.0.0", {
        "/v1/x/{n}": {"get": operation("one x", [int_param("n", "path", 0, MAX_INT)], ok(X_SCHEMA), 404)},
    })
    publish(app, doc)
"""

from __future__ import annotations

from typing import Any

from services.common.error_body import SCHEMA as ERROR_SCHEMA
from services.common.http import App, Request

Schema = dict[str, Any]

MAX_INT = 2**63 - 1  # SQLite's INTEGER: no chain id, block number or sequence number is larger

ERROR_REF: Schema = {"$ref": "#/components/schemas/Error"}
ERROR_DESCRIPTIONS = {
    400: "malformed request",
    404: "no such resource",
    409: "the resource is in a state that does not allow this",
    422: "a parameter is invalid (details name it)",
    502: "a chain answered with an error",
    503: "a chain does not answer, or the service is not ready",
}


def integer(lo: int = 0, hi: int = MAX_INT, **extra: Any) -> Schema:
    return {"type": "integer", "minimum": lo, "maximum": hi, **extra}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def hex_string(length: int | None = None, description: str = "") -> Schema:
    """0x-prefixed hex; `length` in bytes (None: any even length)."""
    digits = f"[0-9a-fA-F]{{{2 * length}}}" if length is not None else "(?:[0-9a-fA-F]{2})*"
    schema: Schema = {"type": "string", "pattern": f"^0x{digits}$"}
    return schema | ({"description": description} if description else {})


ADDRESS = hex_string(20, "an EIP-55 checksummed account address")
BYTES32 = hex_string(32)


def obj(properties: dict[str, Schema], optional: tuple[str, ...] = (), **extra: Any) -> Schema:
    """An object with every property required but `optional` ones."""
    required = [k for k in properties if k not in optional]
    return {"type": "object", "required": required, "properties": properties, **extra}


def param(name: str, where: str, schema: Schema, description: str = "", required: bool | None = None) -> Schema:
    doc: Schema = {"name": name, "in": where, "required": where == "path" if required is None else required}
    doc["schema"] = schema
    return doc | ({"description": description} if description else {})


def int_param(name: str, where: str, lo: int = 0, hi: int = MAX_INT, description: str = "", **extra: Any) -> Schema:
    return param(name, where, integer(lo, hi, **extra), description)


def json_response(description: str, schema: Schema) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def operation(summary: str, parameters: list[Schema], responses: dict[int, Schema], *errors: int) -> Schema:
    """One operation answering `responses` (status -> response) and the error body on `errors` and 422."""
    out: dict[str, Schema] = {str(s): r for s, r in responses.items()}
    for status in sorted({422, *errors} - set(responses)):
        out[str(status)] = json_response(ERROR_DESCRIPTIONS[status], ERROR_REF)
    doc: Schema = {"summary": summary, "operationId": _operation_id(summary), "responses": out}
    return doc | ({"parameters": parameters} if parameters else {})


def _operation_id(summary: str) -> str:
    words = "".join(c if c.isalnum() else " " for c in summary).split()
    return "_".join(w.lower() for w in words)


def document(title: str, version: str, paths: dict[str, dict[str, Schema]], description: str = "") -> Schema:
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": description},
        "paths": paths,
        "components": {"schemas": {"Error": ERROR_SCHEMA}},
    }


def publish(app: App, doc: Schema) -> None:
    """Serve `doc` at GET /openapi.json."""

    @app.get("/openapi.json")
    async def openapi(req: Request) -> tuple[int, Any]:
        return 200, doc
