"""HEAD on every GET route (RFC 9110: a GET's headers without its body); FastAPI routes answer only
the methods they declare, so `HEAD /v1/chains` was a 405.

Done here, not by adding HEAD to each route: the OpenAPI document keeps one operation per route.
The event stream's body never ends: HEAD /v1/events answers the stream's status and headers (or
the 422/429 a GET would get) and ends at once, the stream's generator cancelled as by a client
that disconnected (it was a 405 before).
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

STREAMS = frozenset({"/v1/events"})


class HeadAsGet:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        as_get = {**scope, "method": "GET"}
        if scope["path"] in STREAMS:
            await self._stream_head(as_get, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":  # Content-Length stays the GET body's, as HEAD wants
                message = {**message, "body": b""}
            await send(message)

        await self.app(as_get, receive, headers_only)

    async def _stream_head(self, scope: Scope, send: Send) -> None:
        started = asyncio.Event()

        async def start_then_end(message: Message) -> None:
            if message["type"] == "http.response.start":  # of the stream, or of a 422/429 body
                started.set()
                await send(message)
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            # every body message after it: not for a HEAD

        async def gone_once_started() -> Message:
            await started.wait()
            return {"type": "http.disconnect"}  # the streaming response stops its generator

        await self.app(scope, gone_once_started, start_then_end)
