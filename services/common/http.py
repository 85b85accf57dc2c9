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
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl

import uvicorn

from services.common import guard
from services.common.error_body import error_body

Handler = Callable[["Request"], Awaitable[tuple[int, Any]]]
# a WebSocket route: the raw ASGI (receive, send) of one connection
SocketHandler = Callable[[Any, Any], Awaitable[None]]


class HttpError(Exception):
    """Raised by a handler: answered as `status` with the common error body (services.common.error_body)."""

    def __init__(self, status: int, detail: str, details: list[dict[str, Any]] | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.details = details or []


def invalid(where: str, name: str, message: str) -> HttpError:
    """A 422 naming the parameter, e.g. invalid("query", "limit", "must be between 1 and 10000")."""
    return HttpError(
        422, f"{where} parameter {name!r} {message}", [{"loc": [where, name], "msg": message, "type": "value_error"}]
    )


# Strict, ASCII-only forms: int() and float() alone also take "0x1f", "1_000", " 7 " and non-ASCII
# digits, none of which an OpenAPI integer or number is.
_INT = re.compile(r"-?[0-9]+")
_FLOAT = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


def parse_int(where: str, name: str, raw: str, lo: int, hi: int) -> int:
    """`raw` as a decimal integer in lo..hi, else a 422 naming the parameter."""
    if not _INT.fullmatch(raw):
        raise invalid(where, name, f"must be an integer, got {raw[:80]!r}")
    if len(raw) > 80 or not lo <= int(raw) <= hi:  # the length check first: int() of 5000 digits raises
        raise invalid(where, name, f"must be between {lo} and {hi}, got {raw[:80]}")
    return int(raw)


def parse_float(where: str, name: str, raw: str, lo: float, hi: float) -> float:
    """`raw` as a decimal number in lo..hi, else a 422 naming the parameter."""
    if not _FLOAT.fullmatch(raw):
        raise invalid(where, name, f"must be a number, got {raw[:80]!r}")
    value = float(raw)
    if not lo <= value <= hi:
        raise invalid(where, name, f"must be between {lo} and {hi}, got {raw[:80]}")
    return value


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, Any]
    query: dict[str, str]
    _receive: Any = field(repr=False)
    repeated: frozenset[str] = frozenset()  # query names given more than once
    headers: dict[str, str] = field(default_factory=dict, repr=False)  # names lower-case

    async def json(self) -> Any:
        body = b""
        while True:
            msg = await self._receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        try:
            return json.loads(body) if body else None
        except ValueError as exc:
            raise HttpError(400, f"the body is not JSON: {exc}") from None
        except RecursionError:
            raise HttpError(400, "the body is nested too deeply") from None

    def _single(self, name: str) -> str | None:
        if name in self.repeated:
            raise invalid("query", name, "must be given once")
        return self.query.get(name)

    def query_float(self, name: str, default: float, lo: float, hi: float) -> float:
        raw = self._single(name)
        return default if raw is None else parse_float("query", name, raw, lo, hi)

    def query_int(self, name: str, default: int, lo: int, hi: int) -> int:
        raw = self._single(name)
        return default if raw is None else parse_int("query", name, raw, lo, hi)


_PARAM = re.compile(r"\{(\w+)(?::(int))?\}")


class App:
    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], dict[str, str], Handler]] = []
        self.sockets: dict[str, SocketHandler] = {}  # exact path -> WebSocket handler

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

    def _allowed(self, path: str) -> str:
        """The Allow header of a 405: every method some route serves on `path`."""
        return ", ".join(sorted({method for method, regex, _, _ in self.routes if regex.match(path)}))

    def get(self, pattern: str) -> Callable[[Handler], Handler]:
        return self.route("GET", pattern)

    def websocket(self, path: str) -> Callable[[SocketHandler], SocketHandler]:
        def deco(fn: SocketHandler) -> SocketHandler:
            self.sockets[path] = fn
            return fn

        return deco

    def post(self, pattern: str) -> Callable[[Handler], Handler]:
        return self.route("POST", pattern)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            handler = self.sockets.get(scope["path"])
            if handler is None:
                await send({"type": "websocket.close", "code": 4404, "reason": f"no route {scope['path']}"[:120]})
                return
            await handler(receive, send)
            return
        if scope["type"] != "http":
            return
        path = scope["path"].rstrip("/") or "/"
        pairs = parse_qsl(scope.get("query_string", b"").decode("utf-8", "replace"), keep_blank_values=True)
        query = dict(pairs)
        repeated = frozenset(k for k, n in Counter(k for k, _ in pairs).items() if n > 1)
        status, body = 404, error_body(404, f"no route {path}")
        headers: list[tuple[bytes, bytes]] = []
        for method, regex, kinds, fn in self.routes:
            m = regex.match(path)
            if not m:
                continue
            if method != scope["method"]:
                # RFC 9110: a 405 names what the resource does allow
                status, body = 405, error_body(405, f"method {scope['method']} not allowed on {path}")
                headers = [(b"allow", self._allowed(path).encode())]
                continue
            headers = []
            try:
                # any 256-bit integer here; each handler narrows its own (e.g. to SQLite's range)
                params = {
                    name: parse_int("path", name, raw, -(2**256), 2**256) if kinds[name] == "int" else raw
                    for name, raw in m.groupdict().items()
                }
                req_headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}
                request = Request(scope["method"], path, params, query, receive, repeated=repeated, headers=req_headers)
                status, body = await fn(request)
            except HttpError as exc:
                status, body = exc.status, error_body(exc.status, exc.detail, exc.details)
            break
        await send_json(send, status, body, headers)


async def send_json(send: Any, status: int, body: Any, headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
    """One compact JSON response through an ASGI `send`."""
    data = json.dumps(body, separators=(",", ":")).encode()
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": data})


def server(app: Any, port: int, host: str = "127.0.0.1") -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        # httptools (C parser: delivery p50 6.23 -> 5.93 ms against h11, bench.py latency, 3 pairs),
        # with a head deadline, a head size cap and a connection cap (services/common/guard.py)
        **guard.options(),
        proxy_headers=False,  # loopback only, no proxy in front: ~10% of a guardian answer's CPU
        ws="websockets-sansio",  # the guardians' live feed of signatures (App.websocket)
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
