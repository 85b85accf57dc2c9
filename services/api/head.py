"""HEAD on every GET route (RFC 9110: a GET's headers without its body); FastAPI routes answer only
the methods they declare, so `HEAD /v1/chains` was a 405.

Done here, not by adding HEAD to each route: the OpenAPI document keeps one operation per route.
The event stream is left out: its body never ends, so there is nothing finite to describe.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

STREAMS = frozenset({"/v1/events"})


class HeadAsGet:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD" or scope["path"] in STREAMS:
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":  # Content-Length stays the GET body's, as HEAD wants
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)
