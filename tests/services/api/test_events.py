"""GET /v1/events: Server-Sent Events of message status changes, bounded per client."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from types import SimpleNamespace

from fastapi.testclient import TestClient

from services.api.app import create_app
from services.api.routers import events
from tests.services.api.conftest import mid, row, wait_for
from tests.services.api.test_routes import assert_error


def parse(text: str) -> list[tuple[str, dict]]:
    out = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":"))
        if "event" in fields:
            out.append((fields["event"], json.loads(fields["data"])))
    return out


def test_status_changes_stream_as_events(queue_client, queue, api_net):
    hub, a = api_net.chain("hub").chain_id, api_net.chain("rollup-a").chain_id

    def change() -> None:
        time.sleep(0.8)  # after the stream took its first snapshot
        queue.mark_submitted([mid(1)], "0x" + "88" * 32, 20, time.time(), time.time(), time.time())
        queue.ingest(hub, 60, [row(7, hub, a, 9, time.time() + 10)])

    worker = threading.Thread(target=change)
    worker.start()
    try:
        r = queue_client.get("/v1/events", params={"max_events": 2, "timeout": 20})
    finally:
        worker.join()
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    got = parse(r.text)
    assert got[-1][0] == "end"
    changed = {e["id"]: e for kind, e in got if kind == "message"}
    assert changed[mid(1)]["status"] == "submitted" and changed[mid(1)]["previous"] == "pending"
    assert changed[mid(7)]["previous"] is None and changed[mid(7)]["source"] == "hub"
    assert len(changed) == 2


def test_a_status_filter_and_the_timeout_end_a_quiet_stream(queue_client):
    started = time.monotonic()
    r = queue_client.get("/v1/events", params={"status": "delivered", "timeout": 0.6})
    assert r.status_code == 200 and [k for k, _ in parse(r.text)] == ["end"]
    assert time.monotonic() - started < 10


def test_bounds(queue_client):
    for params in (
        {"timeout": 0},
        {"timeout": 3601},
        {"timeout": "1e400"},
        {"timeout": "nan"},
        {"timeout": "-inf"},
        {"max_events": 0},
        {"max_events": 2**64},
        {"status": "gone"},
    ):
        assert_error(queue_client.get("/v1/events", params=params), 422, "invalid_request")
    ctx = queue_client.app.state.context
    ctx.events_clients = events.MAX_CLIENTS
    try:
        assert_error(queue_client.get("/v1/events", params={"timeout": 1}), 429, "too_many_requests", "event streams")
    finally:
        ctx.events_clients = 0


def test_streams_opened_together_past_the_cap_end_at_once():
    """Streams opened together all pass the route's check before any is counted: the ones over
    the cap end at their first step instead of holding a poller each."""

    class Ctx:
        events_clients = events.MAX_CLIENTS
        manifest = SimpleNamespace(api=SimpleNamespace(event_streams=events.MAX_CLIENTS))

    async def first_events() -> list[str]:
        return [chunk async for chunk in events.stream(Ctx(), None, 10, 5.0)]  # type: ignore[arg-type]

    chunks = asyncio.run(first_events())
    assert chunks == ['event: end\ndata: {"reason": "too many event streams"}\n\n']
    assert Ctx.events_clients == events.MAX_CLIENTS  # nothing counted, nothing leaked


def test_the_cap_is_configured_and_a_refused_client_learns_when_a_stream_ends(api_net, queue):
    manifest = api_net.manifest.model_copy(update={"api": api_net.manifest.api.model_copy(update={"event_streams": 1})})
    app = create_app(manifest, queue.path)
    with TestClient(app, raise_server_exceptions=False) as client:
        ctx = app.state.context
        opened = threading.Thread(target=client.get, args=("/v1/events",), kwargs={"params": {"timeout": 4}})
        opened.start()
        try:
            wait_for("the first stream", lambda: ctx.events_clients == 1, timeout=10)
            refused = client.get("/v1/events", params={"timeout": 1})
            assert_error(refused, 429, "too_many_requests", "1 event streams are open already")
            assert 1 <= int(refused.headers["retry-after"]) <= 4  # when the open one ends
        finally:
            opened.join()
        assert ctx.events_clients == 0 and ctx.events_ends == []
        assert client.get("/v1/events", params={"timeout": 0.3}).status_code == 200  # the slot is free again


def test_head_answers_the_streams_headers_at_once(queue_client):
    ctx = queue_client.app.state.context
    started = time.monotonic()
    head = queue_client.head("/v1/events")  # a 405 before; a GET would stream for 600 s
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"].startswith("text/event-stream") and head.headers["cache-control"] == "no-cache"
    assert time.monotonic() - started < 3
    wait_for("the stream's slot back", lambda: ctx.events_clients == 0, timeout=5)
    bad = queue_client.head("/v1/events", params={"timeout": 0})
    assert bad.status_code == 422 and bad.content == b""
