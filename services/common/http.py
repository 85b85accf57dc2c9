"""A tiny ASGI router for the guardian's and relayer's small HTTP surfaces.

FastAPI is the API service's framework; the guardians and the relayer only
answer a handful of JSON routes on the hot path, so they use this router on
uvicorn and keep their memory and per-request overhead low.

Why not Starlette's router (installed with FastAPI): measured 2026-11-25 in one
session, `scripts/bench.py latency` twice with each router (same 3-guardian devnet),
a drop-in Starlette `App` with the same handler interface:
    p50 latency   this router 12.1 / 11.8 ms   Starlette 10.7 / 25.7 ms (a loaded run)
    RSS guardian  this router 41.6-41.7 MB     Starlette 43.5-43.7 MB  (+1.9 MB, +4.6%)
    RSS relayer   this router 63.6-63.7 MB     Starlette 64.8-64.9 MB  (+1.2 MB)
Latency is within noise, but every guardian and the relayer pay ~2 MB more (run-to-run
spread 0.1 MB) for importing Starlette, for routing that fits in this module.

    app = App()
    @app.get("/v1/attestations/{chain_id:int}/{block}")
    async def attestation(req): return 200, {...}
    await serve(app, port)          # runs until SIGTERM/SIGINT
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl

import uvicorn

Handler = Callable[["Request"], Awaitable[tuple[int, Any]]]


class HttpError(Exception):
    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, Any]
    query: dict[str, str]
    _receive: Any = field(repr=False)
    headers: dict[str, str] = field(default_factory=dict, repr=False)  # names lower-case

    async def json(self) -> Any:
        body = b""
        while True:
            msg = await self._receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        return json.loads(body) if body else None

    def query_float(self, name: str, default: float, lo: float, hi: float) -> float:
        raw = self.query.get(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise HttpError(422, f"query parameter {name!r} must be a number, got {raw!r}") from None
        if not lo <= value <= hi:
            raise HttpError(422, f"query parameter {name!r} must be between {lo} and {hi}, got {value}")
        return value

    def query_int(self, name: str, default: int, lo: int, hi: int) -> int:
        raw = self.query.get(name)
        if raw is None:
            return default
        try:
            value = int(raw, 0)
        except ValueError:
            raise HttpError(422, f"query parameter {name!r} must be an integer, got {raw!r}") from None
        if not lo <= value <= hi:
            raise HttpError(422, f"query parameter {name!r} must be between {lo} and {hi}, got {value}")
        return value


_PARAM = re.compile(r"\{(\w+)(?::(int))?\}")


class App:
    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], dict[str, str], Handler]] = []

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        kinds: dict[str, str] = {}

        def repl(m: re.Match[str]) -> str:
            kinds[m.group(1)] = m.group(2) or "str"
            return f"(?P<{m.group(1)}>[^/]+)"

        regex = re.compile("^" + _PARAM.sub(repl, pattern) + "$")

        def deco(fn: Handler) -> Handler:
            self.routes.append((method, regex, kinds, fn))
            return fn

        return deco

    def get(self, pattern: str) -> Callable[[Handler], Handler]:
        return self.route("GET", pattern)

    def post(self, pattern: str) -> Callable[[Handler], Handler]:
        return self.route("POST", pattern)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"].rstrip("/") or "/"
        query = dict(parse_qsl(scope.get("query_string", b"").decode("utf-8", "replace")))
        status, body = 404, {"detail": f"no route {path}"}
        for method, regex, kinds, fn in self.routes:
            m = regex.match(path)
            if not m:
                continue
            if method != scope["method"]:
                status, body = 405, {"detail": f"method {scope['method']} not allowed on {path}"}
                continue
            params: dict[str, Any] = {}
            try:
                for name, raw in m.groupdict().items():
                    if kinds[name] == "int":
                        try:
                            params[name] = int(raw, 0)
                        except ValueError:
                            raise HttpError(422, f"path parameter {name!r} must be an integer, got {raw!r}") from None
                    else:
                        params[name] = raw
                headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}
                status, body = await fn(Request(scope["method"], path, params, query, receive, headers))
            except HttpError as exc:
                status, body = exc.status, {"detail": exc.detail}
            break
        data = json.dumps(body, separators=(",", ":")).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": data})


def server(app: Any, port: int, host: str = "127.0.0.1") -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        http="h11",
        ws="none",
        loop="none",
    )
    return uvicorn.Server(config)


class BackgroundService(Protocol):
    """What guardian and relayer have in common: an HTTP app beside a start/close lifecycle."""

    def app(self) -> Any: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


async def serve(service: BackgroundService, port: int) -> None:
    """Serve `service.app()` on `port` while the service runs; close both on exit or error."""
    import asyncio
    import contextlib

    http_server = server(service.app(), port)
    serving = asyncio.create_task(http_server.serve())
    try:
        await service.start()
        await serving
    finally:
        http_server.should_exit = True
        with contextlib.suppress(BaseException):
            await serving
        await service.close()
