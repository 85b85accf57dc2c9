"""Connection limits of every HTTP server of the devnet (guardians, relayer, solvers, API).

uvicorn's httptools protocol (kept for its latency, services/common/http.py) trusts its clients:
connection_made arms no timer (the keep-alive timeout starts only after a first response, and
the first byte of a request cancels it), and httptools buffers a header of any size. Seen by an
attacker run: ~20,000 idle sockets from one local client took every descriptor of a guardian
(unreachable; asyncio logged "too many open files" 69 MB worth), and a 200 MB header was read
into memory. `GuardedHttpTools` adds, per connection:

- a head deadline: a request's head (request line + headers) must be complete HEAD_DEADLINE s
  after the connection opens or after its first byte, else the connection is closed (an idle
  socket, a slow-header "slowloris"); between requests uvicorn's keep-alive timeout applies;
- a head size cap: past MAX_HEAD_BYTES, 431 and the connection is closed;
- a body size cap: a Content-Length past MAX_BODY_BYTES is answered 413 before any of the body is
  read; a chunked body that grows past it closes the connection;
- a body deadline: a request's body must be complete BODY_DEADLINE s after its head, and until it
  is, the connection counts as idle for the connection cap below (a "slow body" client that sends
  a head and then one byte a minute would otherwise hold its connection for ever, and enough of
  them would fill the cap);
- a write stall limit: a client whose socket buffers stay full (it reads nothing) for WRITE_STALL s
  is disconnected; the response waiting for it (an event stream) would otherwise wait for ever;

and per server, a connection cap (`max_connections()`, a quarter of the descriptor limit; and a
listen backlog no larger, for asyncio accepts up to a backlog's worth of sockets at once): a
connection past it closes the oldest idle one (no request in flight: waiting for its head or
kept alive), as nginx reuses its idle keep-alive connections, so a flood of idle sockets cannot
starve a client that sends its request; with none idle the new connection is closed. Either is
logged at most once per LOG_INTERVAL with a count.

uvicorn's own `limit_concurrency` does not do this: it counts connections only once a head is
complete (an idle socket is never refused) and logs a warning per refused request.

Cost, measured 2026-11-26 (`scripts/bench.py latency --messages 100`, twice each, one session):
delivery p50 7.2 / 8.1 ms before, 6.5 / 7.8 ms with it (noise); guardian RSS +0.1 MB.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import resource
import time
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from services.common.error_body import error_body

HEAD_DEADLINE = 5.0  # s: a local client sends its head within milliseconds
KEEP_ALIVE = 5  # s: uvicorn's default, stated because the deadline above relies on it
MAX_HEAD_BYTES = 64 * 1024  # nginx's default large_client_header_buffers is 4 x 8 KiB
LOG_INTERVAL = 30.0  # s between two log lines about refused connections
WRITE_STALL = 10.0  # s a response may wait for a client that reads nothing (its buffers full)
MAX_BODY_BYTES = 4 * 1024 * 1024  # the largest body the devnet takes (a 128 KiB payload as JSON hex) x 16
BODY_DEADLINE = 30.0  # s: a local client sends a 4 MiB body in milliseconds

log = logging.getLogger("services.http")


def max_connections() -> int:
    """Connections one server keeps: a quarter of the descriptor limit (the rest for its chains,
    databases and outgoing requests), at least 32, at most 1024 (ample for a devnet)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max(32, min(1024, soft // 4))


class RateLimitedLog:
    """Counts an event and logs it at most once per `interval` seconds, with the count since."""

    def __init__(self, interval: float = LOG_INTERVAL):
        self.interval, self.count, self.last = interval, 0, -interval

    def __call__(self, message: str, *args: Any) -> None:
        self.count += 1
        now = time.monotonic()
        if now - self.last >= self.interval:
            log.warning(message + " (%d times since the last such line)", *args, self.count)
            self.count, self.last = 0, now


class ConnectionBook:
    """One server's connections, idle ones in the order they became idle (oldest first)."""

    def __init__(self, limit: int):
        self.limit = limit
        self.open: set[GuardedHttpTools] = set()
        self.idle: dict[GuardedHttpTools, None] = {}  # an ordered set
        self.over = RateLimitedLog()

    def opened(self, conn: GuardedHttpTools) -> bool:
        """Count `conn` in, making room if needed; False: it must be closed (nothing idle to close)."""
        if len(self.open) >= self.limit:
            if not self.idle:
                self.over("%d connections open, none idle: a new one was closed", len(self.open))
                return False
            oldest = next(iter(self.idle))
            self.forget(oldest)
            oldest.transport.close()
            self.over("%d connections open: the oldest idle one was closed for a new one", self.limit)
        self.open.add(conn)
        self.set_idle(conn, True)
        return True

    def set_idle(self, conn: GuardedHttpTools, idle: bool) -> None:
        self.idle.pop(conn, None)
        if idle and conn in self.open:
            self.idle[conn] = None

    def forget(self, conn: GuardedHttpTools) -> None:
        self.open.discard(conn)
        self.idle.pop(conn, None)


class GuardedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol with a head deadline, a head size cap and a connection cap."""

    def __init__(self, *args: Any, book: ConnectionBook, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.book = book
        self.head_timer: asyncio.TimerHandle | None = None
        self.stall_timer: asyncio.TimerHandle | None = None
        self.body_timer: asyncio.TimerHandle | None = None
        self.awaiting_head = True  # no request being read or answered
        self.head_bytes = 0
        self.body_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if not self.book.opened(self):
            transport.close()
            return
        self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self.head_timer = _cancel(self.head_timer)
        self.body_timer = _cancel(self.body_timer)
        self.stall_timer = _cancel(self.stall_timer)
        self.book.forget(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        counting = self.awaiting_head  # bytes of a chunk that began inside a head
        super().data_received(data)
        if counting and self.awaiting_head and not self.transport.is_closing():
            self.head_bytes += len(data)
            if self.head_bytes > MAX_HEAD_BYTES:
                self._refuse_large_head()

    # httptools parser callbacks
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.awaiting_head, self.head_bytes = True, 0
        self._arm_head_deadline()

    def on_headers_complete(self) -> None:
        # until its body is complete a request may be closed for a newcomer, like a head still
        # arriving (it is then the newest idle connection, closed only after every older one)
        self.awaiting_head = False
        self.head_timer = _cancel(self.head_timer)
        length = _content_length(self.headers)
        if length is not None and length > MAX_BODY_BYTES:
            self._refuse(413, "Content Too Large", f"request body over {MAX_BODY_BYTES} bytes")
            return
        self.body_bytes = 0
        self.body_timer = self.loop.call_later(BODY_DEADLINE, self._body_late)
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if self.transport.is_closing():  # refused (413) or closed: the rest of the body is dropped
            return
        self.body_bytes += len(body)
        if self.body_bytes > MAX_BODY_BYTES:  # chunked: no Content-Length to refuse it by
            self.transport.close()
            return
        super().on_body(body)

    def on_message_complete(self) -> None:
        if self.transport.is_closing():
            return
        # a whole request in flight: never closed for a newcomer (unless answered already)
        self.body_timer = _cancel(self.body_timer)
        if self.cycle is not None and not self.cycle.response_complete:
            self.book.set_idle(self, False)
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self.book.set_idle(self, not self.pipeline)

    def pause_writing(self) -> None:
        """The transport's buffer is full (the kernel's are already): the client is not reading."""
        super().pause_writing()
        if self.stall_timer is None:
            self.stall_timer = self.loop.call_later(WRITE_STALL, self._stalled)

    def resume_writing(self) -> None:
        super().resume_writing()
        self.stall_timer = _cancel(self.stall_timer)

    def _stalled(self) -> None:
        self.stall_timer = None
        # abort, not close: close waits for the buffer to be written, which is what never happens
        self.transport.abort()

    def handle_websocket_upgrade(self) -> None:
        # the socket now belongs to uvicorn's WebSocket protocol (its own ping timeout); not counted here
        self.book.forget(self)
        super().handle_websocket_upgrade()

    def _arm_head_deadline(self) -> None:
        if self.head_timer is None:
            self.head_timer = self.loop.call_later(HEAD_DEADLINE, self._head_late)

    def _head_late(self) -> None:
        self.head_timer = None
        if self.awaiting_head and not self.transport.is_closing():
            self.transport.close()

    def _body_late(self) -> None:
        self.body_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def _refuse_large_head(self) -> None:
        self.awaiting_head = False
        self._refuse(431, "Request Header Fields Too Large", f"request head over {MAX_HEAD_BYTES} bytes")

    def _refuse(self, status: int, phrase: str, message: str) -> None:
        body = json.dumps(error_body(status, message)).encode()
        head = (
            f"HTTP/1.1 {status} {phrase}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        )
        self.transport.write(head.encode() + body)
        self.transport.close()


def _cancel(timer: asyncio.TimerHandle | None) -> asyncio.TimerHandle | None:
    """Cancel `timer` if set; returns None, to be stored in its place."""
    if timer is not None:
        timer.cancel()
    return None


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    """The request's Content-Length, None without one (or a malformed one: httptools refuses it)."""
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class _AcceptErrors(logging.Filter):
    """asyncio logs "socket.accept() out of system resource" (with a traceback) on every retry, once
    a second while descriptors run out: let one through per LOG_INTERVAL."""

    def __init__(self) -> None:
        super().__init__()
        self.last = -LOG_INTERVAL

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith("socket.accept() out of system resource"):
            return True
        now = time.monotonic()
        if now - self.last < LOG_INTERVAL:
            return False
        self.last = now
        return True


_accept_filter = _AcceptErrors()


def options() -> dict[str, Any]:
    """uvicorn.Config arguments of a guarded server (one connection book per call: per server)."""
    logging.getLogger("asyncio").addFilter(_accept_filter)  # once: a filter is added at most once
    limit = max_connections()
    return {
        "http": functools.partial(GuardedHttpTools, book=ConnectionBook(limit)),
        "timeout_keep_alive": KEEP_ALIVE,
        # asyncio accepts up to `backlog` sockets per loop turn, and a connection closed for a newcomer
        # frees its descriptor two turns later: with uvicorn's 2048 a 256-descriptor process ran out in
        # one turn. A sixteenth of the descriptors keeps the peak (limit + 3 turns' worth) under half
        # of them; not smaller, for a full accept queue drops a client's SYN (retried 1 s later).
        "backlog": max(16, min(2048, resource.getrlimit(resource.RLIMIT_NOFILE)[0] // 16)),
    }
