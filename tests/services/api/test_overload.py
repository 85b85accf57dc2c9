"""The API process under load it did not ask for: slow reads do not hold the other routes, one read
too many is told when to come back (services/api/limits.py), and an event stream nobody reads does
not hold its slot (services/common/guard.py)."""

from __future__ import annotations

import socket
import sqlite3
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from orchestrator.manifest import write_manifest
from services.api.routers import events
from services.common import guard
from tests.conftest import free_config
from tests.services.api.conftest import row, wait_for
from tests.services.api.test_routes import assert_error
from tests.services.conftest import ServiceProc

READS = 48  # past the 40 threads of the pool every route's dependency used to need


def test_reads_of_a_paused_chain_leave_other_routes_answering_and_the_excess_gets_429(api_net):
    reads = api_net.manifest.api.reads
    params = {"chain": "rollup-a", "address": api_net.manifest.contracts["MetalayerGateway"].address, "slot": "0"}
    api_net.chaos("pause", "rollup-a", duration=30)
    client = httpx.Client(timeout=60, limits=httpx.Limits(max_connections=READS + 8))
    try:
        with ThreadPoolExecutor(READS) as pool:
            calls = [pool.submit(client.get, f"{api_net.api}/v1/read", params=params) for _ in range(READS)]
            deadline = time.monotonic() + 3  # the excess is refused at once; the rest wait on the chain
            while sum(c.done() for c in calls) < READS - reads and time.monotonic() < deadline:
                time.sleep(0.05)
            started = time.monotonic()
            contracts = client.get(f"{api_net.api}/v1/contracts", timeout=30)
            took = time.monotonic() - started
            assert contracts.status_code == 200 and took < 2.0, took  # was ~7 s: queued behind the reads
            refused = [c.result() for c in calls if c.done()]
            api_net.heal("rollup-a")
            answered = [c.result() for c in calls]
    finally:
        api_net.heal()
        client.close()
    assert len(refused) >= READS - reads
    for r in refused:
        assert_error(r, 429, "too_many_requests", f"{reads} proven reads are in progress")
        assert r.headers["retry-after"] == "1"
    assert all(r.status_code < 500 for r in answered), [r.text[:200] for r in answered if r.status_code >= 500]
    assert httpx.get(f"{api_net.api}/v1/read", params=params, timeout=60).status_code < 500  # threads freed


def test_a_client_that_stops_reading_its_event_stream_is_disconnected(api_net, queue, tmp_path):
    """Its stream's writes waited for it for ever (past the stream's deadline): its slot was never
    freed. Now the server gives up after guard.WRITE_STALL s of full buffers."""
    api = api_net.manifest.api.model_copy(update={"event_streams": 1})  # the stalled stream holds them all
    write_manifest(tmp_path / "manifest.json", api_net.manifest.model_copy(update={"api": api}))
    port = free_config(4400).api.port
    argv = [sys.executable, "-m", "services.api", "--manifest", str(tmp_path / "manifest.json")]
    url = f"http://127.0.0.1:{port}"
    svc = ServiceProc([*argv, "--port", str(port), "--queue", str(queue.path)], tmp_path / "api.log", f"{url}/health")
    svc.start()
    try:
        with httpx.Client(timeout=5) as client:  # HEAD through uvicorn: headers, no body, connection reusable
            head = client.head(f"{url}/v1/events")
            assert head.status_code == 200 and head.headers["content-type"].startswith("text/event-stream")
            assert head.content == b"" and client.get(f"{url}/v1/chains").status_code == 200
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # full after a few events
        stalled.connect(("127.0.0.1", port))
        stalled.sendall(b"GET /v1/events?timeout=600 HTTP/1.1\r\nHost: x\r\n\r\n")
        wait_for("the stalled stream open", lambda: _events(url).status_code == 429, timeout=10)
        hub, a = api_net.chain("hub").chain_id, api_net.chain("rollup-a").chain_id
        queue.ingest(hub, 70, [row(100 + n, hub, a, 100 + n, time.time()) for n in range(events.WINDOW)])
        db = sqlite3.connect(queue.path)
        for _ in range(3):  # WINDOW events of 32 KB per change: more than the kernel buffers (~4 MB)
            db.execute("UPDATE messages SET attempts = attempts + 1, last_error = ?", ("x" * 32_000,))
            db.commit()
            time.sleep(0.5)
        db.close()
        flooded = time.monotonic()
        wait_for("the stalled stream's slot back", lambda: _events(url).status_code == 200, guard.WRITE_STALL + 10)
        assert time.monotonic() - flooded < guard.WRITE_STALL + 5
        stalled.settimeout(5)  # what the kernel still held for it, then the end of a 600 s stream
        received = b""
        while chunk := stalled.recv(1 << 20):
            received += chunk
        stalled.close()
        assert received.startswith(b"HTTP/1.1 200") and b"event: end" not in received
    finally:
        svc.stop()
    assert "Traceback" not in svc.log.read_text()


def _events(url: str) -> httpx.Response:
    return httpx.get(f"{url}/v1/events", params={"timeout": 0.1}, timeout=5)
