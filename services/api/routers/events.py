"""GET /v1/events: a Server-Sent Events stream of message status changes.

Each client polls the relayer queue (through QueueReader) on its own, on the newest
`WINDOW` messages: a change of status or attempt count becomes one event

    event: message
    id: 3
    data: {"id": "0x..", "status": "delivered", "previous": "submitted", "attempts": 1, ...}

Bounded: at most `[api] event_streams` (default 16) streams at once; past that a 429 whose
Retry-After is when the first open stream ends. Each stream ends after `max_events` events or
`timeout` seconds (EventSource reconnects by itself), with a comment line every KEEPALIVE seconds
so proxies and clients see the stream alive. A client that stops reading is disconnected once its
socket's buffers have been full for guard.WRITE_STALL seconds (services/common/guard.py): its
stream's writes would otherwise wait for it, past the stream's deadline, for ever.

Why no per-client cap: the API listens on 127.0.0.1, where every client has the same address and
a connection carries one stream, so "per client" cannot be told apart from "in all". What keeps
one client from holding every stream for ever is that each ends on its deadline, and a client
refused learns when the next slot frees.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, get_args

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from services.api.context import Context, Ctx
from services.api.errors import ApiError, errors
from services.api.schemas import Status

router = APIRouter(prefix="/v1", tags=["events"])

MAX_CLIENTS = 16  # the default of [api] event_streams (services.common.manifest.ApiSettings)
WINDOW = 200
POLL_INTERVAL = 0.25
KEEPALIVE = 15.0

Snapshot = dict[str, tuple[str, int]]


def snapshot(ctx: Context) -> tuple[Snapshot, dict[str, dict[str, Any]]]:
    _, rows = ctx.queue.list(limit=WINDOW)
    return {r["id"]: (r["status"], r.get("attempts") or 0) for r in rows}, {r["id"]: r for r in rows}


def changes(
    ctx: Context, before: Snapshot, after: Snapshot, rows: dict[str, dict[str, Any]], status: str | None
) -> list[dict[str, Any]]:
    out = []
    for mid, (st, attempts) in after.items():
        prev = before.get(mid)
        if prev == (st, attempts) or (status is not None and st != status):
            continue
        r = rows[mid]
        out.append(
            {
                "id": mid,
                "status": st,
                "previous": prev[0] if prev else None,
                "attempts": attempts,
                "source": ctx.names.get(r["src"], r["src"]),
                "destination": ctx.names.get(r["dst"], r["dst"]),
                "reason": r.get("revert_reason") or r.get("last_error"),
                "at": round(time.time(), 3),
            }
        )
    return out


def cap(ctx: Context) -> int:
    return ctx.manifest.api.event_streams


async def stream(ctx: Context, status: str | None, max_events: int, timeout: float) -> AsyncIterator[str]:
    # counted here, not in the route: a generator that never starts must not hold a slot; and
    # checked again, for streams opened together passed the route's check before any counted
    if ctx.events_clients >= cap(ctx):
        yield 'event: end\ndata: {"reason": "too many event streams"}\n\n'
        return
    deadline = time.monotonic() + timeout
    ctx.events_clients += 1
    ctx.events_ends.append(deadline)
    try:
        yield f"retry: 1000\n: streaming message status changes for {timeout:g}s\n\n"
        before, _ = await asyncio.to_thread(snapshot, ctx)
        sent, quiet_since = 0, time.monotonic()
        while sent < max_events and time.monotonic() < deadline:
            await asyncio.sleep(POLL_INTERVAL)
            after, rows = await asyncio.to_thread(snapshot, ctx)
            for event in changes(ctx, before, after, rows, status)[: max_events - sent]:
                sent += 1
                yield f"event: message\nid: {sent}\ndata: {json.dumps(event)}\n\n"
                quiet_since = time.monotonic()
            before = after
            if time.monotonic() - quiet_since > KEEPALIVE:
                yield ": keepalive\n\n"
                quiet_since = time.monotonic()
        yield "event: end\ndata: {}\n\n"
    finally:
        ctx.events_clients -= 1
        ctx.events_ends.remove(deadline)


def retry_after(ctx: Context) -> int:
    """Seconds until the first open stream ends (at least 1)."""
    return max(1, math.ceil(min(ctx.events_ends, default=0.0) - time.monotonic()))


# One event of the stream (OpenAPI before 3.2 has a text/event-stream `schema` describe each
# event): `message` events carry a status change, the last one is `end`.
CHANGE = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "status": {"enum": list(get_args(Status))},
        "previous": {"anyOf": [{"enum": list(get_args(Status))}, {"type": "null"}]},
        "attempts": {"type": "integer"},
        "source": {"type": ["string", "integer"]},
        "destination": {"type": ["string", "integer"]},
        "reason": {"type": ["string", "null"]},
        "at": {"type": "number"},
    },
}
EVENT = {
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "event": {"enum": ["message", "end"]},
        "id": {"type": "string"},
        "retry": {"type": "integer"},
        "data": {"type": "string", "contentMediaType": "application/json", "contentSchema": CHANGE},
    },
}


@router.get(
    "/events",
    responses={
        200: {"content": {"text/event-stream": {"schema": EVENT}}, "description": "the event stream, event by event"},
        **errors(429),
    },
    response_class=StreamingResponse,
)
async def events(
    ctx: Ctx,
    status: Annotated[Status | None, Query(description="only changes into this status")] = None,
    max_events: Annotated[int, Query(ge=1, le=10_000, description="end the stream after this many")] = 10_000,
    timeout: Annotated[float, Query(gt=0, le=3600, description="end the stream after this many seconds")] = 600,
) -> StreamingResponse:
    if ctx.events_clients >= cap(ctx):
        wait = retry_after(ctx)
        raise ApiError(
            429,
            f"{cap(ctx)} event streams are open already ([api] event_streams); the first ends in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    return StreamingResponse(
        stream(ctx, status, max_events, timeout),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
