"""One error body for every 4xx the API answers, declared in the OpenAPI schema it publishes.

    {"error": {"code": "not_found", "message": "unknown message id 0x..", "details": []}}

Validation errors (FastAPI's 422) and Starlette's own 404/405 are rewritten into the same
shape, so a client parses one format whatever went wrong.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.common.error_body import CODES  # one list for the API, guardians and relayer

DESCRIPTIONS = {
    400: "malformed request",
    404: "no such resource",
    409: "the resource is in a state that does not allow this",
    422: "a parameter or the body is invalid (details name each one)",
    429: "too many requests of this kind in progress: try again after Retry-After seconds",
    502: "a chain or the relayer answered with an error",
    503: "a chain or the relayer does not answer",
}


class ErrorDetail(BaseModel):
    loc: list[str | int] = Field(default_factory=list, description='where: e.g. ["query", "limit"]')
    msg: str
    type: str


class ErrorInfo(BaseModel):
    code: str = Field(description="machine-readable: " + ", ".join(sorted(set(CODES.values()))))
    message: str
    details: list[ErrorDetail] = Field(default_factory=list)


class ErrorBody(BaseModel):
    error: ErrorInfo


class ApiError(Exception):
    """Raised by a route: becomes `status` with the one error body."""

    def __init__(
        self,
        status: int,
        message: str,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details or []
        self.headers = headers


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route that can answer these statuses (422 always: it replaces FastAPI's own)."""
    return {s: {"model": ErrorBody, "description": DESCRIPTIONS[s]} for s in sorted({422, *statuses})}


def body(
    status: int, message: str, details: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    info = ErrorInfo(
        code=CODES.get(status, "error"), message=message, details=[ErrorDetail(**d) for d in details or []]
    )
    return JSONResponse(ErrorBody(error=info).model_dump(), status_code=status, headers=headers)


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {
            "loc": [p if isinstance(p, int) else str(p) for p in e.get("loc", ())],
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in exc.errors()
    ]


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return body(exc.status, exc.message, exc.details, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = _validation_details(exc)
        first = details[0] if details else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"][1:]) or "request"
        return body(422, f"{where}: {first['msg']}", details)

    @app.exception_handler(sqlite3.DatabaseError)
    async def unreadable(request: Request, exc: sqlite3.DatabaseError) -> JSONResponse:
        # the relayer's queue file is damaged (the relayer moves it aside and starts a new one)
        return body(503, f"the relayer's queue cannot be read: {exc}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # Starlette names only the first route's methods; the path may have more
            headers["Allow"] = ", ".join(_allowed(request))
        return body(exc.status_code, str(exc.detail), headers=headers)


def _allowed(request: Request) -> list[str]:
    return sorted(_methods(request.app.routes, request.url.path))


def _methods(routes: Any, path: str) -> set[str]:
    """Methods of the routes matching `path`, into included routers too (FastAPI 0.165 wraps
    them: app.routes holds wrappers without a path_regex, which left every Allow empty)."""
    methods: set[str] = set()
    for route in routes:
        regex, route_methods = getattr(route, "path_regex", None), getattr(route, "methods", None)
        if regex is not None and route_methods and regex.match(path):
            methods |= set(route_methods)
        included = getattr(route, "original_router", None)  # the routers are included without a prefix
        inner = getattr(route, "routes", None) or getattr(included, "routes", None)
        if regex is None and inner:
            methods |= _methods(inner, path)
    return methods
