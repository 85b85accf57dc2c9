"""GET a JSON document over kept-alive HTTP/1.1 connections: the relayer's requests to guardians.

Hand-written for speed (httptools parses the response, asyncio carries it): every delivery asks
each guardian for a signature on the latency path, and the whole devnet shares two cores, so the
client's own CPU is paid by every process waiting for one. Measured 2026-11-26 against a
running guardian, 1000 sequential asks: aiohttp's ClientSession 150-165 us of client CPU per
answer, this 82-89 us. Nothing but GET, a status and a JSON body is supported: anything else
is an error for the caller.

    client = JsonGetter()
    status, doc = await client.get("http://127.0.0.1:9100/v1/attestations/901/7?wait=2", timeout=5)
    await client.close()
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit

import httptools

MAX_BODY = 1 << 20  # bytes: a guardian's answer is a few hundred


class _Conn(asyncio.Protocol):
    """One connection; one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.body = bytearray()
        self.done: asyncio.Future[tuple[int, bytes]] | None = None
        self.closed = False
        self.keep_alive = False  # of the last response (read when it completes: the parser resets)

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ConnectionError(f"bad HTTP response: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(ConnectionError(f"connection closed: {exc or 'by the server'}"))

    # httptools callbacks
    def on_body(self, body: bytes) -> None:
        self.body += body
        if len(self.body) > MAX_BODY:
            self._fail(ConnectionError(f"response over {MAX_BODY} bytes"))

    def on_message_complete(self) -> None:
        self.keep_alive = self.parser.should_keep_alive()
        if self.done is not None and not self.done.done():
            self.done.set_result((self.parser.get_status_code(), bytes(self.body)))

    def _fail(self, exc: Exception) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_exception(exc)
        self.close()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    async def request(self, head: bytes, timeout: float) -> tuple[int, bytes]:
        assert self.transport is not None
        self.body = bytearray()
        self.done = asyncio.get_running_loop().create_future()
        self.transport.write(head)
        try:
            return await asyncio.wait_for(self.done, timeout)
        except BaseException:
            self.close()  # a half-read response: the connection cannot be reused
            raise

    @property
    def reusable(self) -> bool:
        return not self.closed and self.keep_alive


class JsonGetter:
    """Per (host, port), a stack of idle connections; a request takes one or opens one."""

    def __init__(self) -> None:
        self._idle: dict[tuple[str, int], list[_Conn]] = {}

    async def get(self, url: str, timeout: float) -> tuple[int, Any]:
        """(status, decoded JSON body); raises ConnectionError, TimeoutError or ValueError."""
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        head = f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: application/json\r\n\r\n".encode()
        conn, reused = await self._take(host, port, timeout)
        try:
            status, body = await conn.request(head, timeout)
        except ConnectionError:
            if not reused:
                raise
            # the server may close an idle connection just as we reuse it: once more, on a new one
            conn, _ = await self._take(host, port, timeout, fresh=True)
            status, body = await conn.request(head, timeout)
        if conn.reusable:
            self._idle.setdefault((host, port), []).append(conn)
        else:
            conn.close()
        return status, json.loads(body)

    async def _take(self, host: str, port: int, timeout: float, fresh: bool = False) -> tuple[_Conn, bool]:
        """(a connection, whether it was idle before)."""
        idle = self._idle.get((host, port))
        while idle and not fresh:
            conn = idle.pop()
            if not conn.closed:
                return conn, True
        loop = asyncio.get_running_loop()
        _, conn = await asyncio.wait_for(loop.create_connection(_Conn, host, port), timeout)
        return conn, False

    async def close(self) -> None:
        for conns in self._idle.values():
            for conn in conns:
                conn.close()
        self._idle.clear()
