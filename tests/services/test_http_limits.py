"""A guardian's HTTP server against a hostile local client (services/common/guard.py): idle and
slow-header sockets are closed, a huge head is refused, a flood of connections leaves room for a
client that sends its request, and the log says so in a line or two."""

from __future__ import annotations

import select
import socket
import sys
import time

import httpx

from services.common import guard
from tests.services.conftest import ServiceProc

FD_LIMIT = 256  # the guardian's descriptor limit here: it keeps max(32, 256 // 4) = 64 connections
FLOOD = 300  # idle sockets: more than the guardian has descriptors


def _guardian(tmp_path, config, manifest_path) -> tuple[ServiceProc, str]:
    port = config.guardians.base_port
    cmd = f"ulimit -n {FD_LIMIT} && exec {sys.executable} -m services.guardian --index 0 --manifest {manifest_path}"
    svc = ServiceProc(["sh", "-c", cmd], tmp_path / "guardian-0.log", f"http://127.0.0.1:{port}/health")
    return svc, f"http://127.0.0.1:{port}"


def _closed_by_server(sock: socket.socket, wait: float = 0.0) -> bool:
    """True once the server closed `sock` (EOF or reset); False while it is still open."""
    if not select.select([sock], [], [], wait)[0]:
        return False
    try:
        return sock.recv(4096) == b""
    except ConnectionError:
        return True


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=2)


def _connect_many(port: int, n: int) -> list[socket.socket]:
    """`n` idle connections, 16 at a time: a client faster than the server's accept loop fills the
    small accept queue (guard.options: 16 with FD_LIMIT), whose connections then wait for the
    kernel's retries (1 s, 2 s, ...), which is not what this test measures."""
    socks: list[socket.socket] = []
    while len(socks) < n:
        socks += [_connect(port) for _ in range(min(16, n - len(socks)))]
        time.sleep(0.03)
    return socks


def test_idle_and_slow_sockets_are_closed_and_a_flood_leaves_room_for_requests(chains_only, tmp_path):
    config, manifest_path = chains_only
    svc, url = _guardian(tmp_path, config, manifest_path)
    port = config.guardians.base_port
    svc.start()
    flood: list[socket.socket] = []
    try:
        flood = _connect_many(port, FLOOD)
        # before the fix: every descriptor held by idle sockets, this request waited for ever
        started = time.monotonic()
        assert httpx.get(f"{url}/health", timeout=5).status_code == 200
        assert time.monotonic() - started < 1.5

        # a head larger than the cap: 431 and closed, not buffered (a little over the cap, so that
        # the server has read all of it when it closes and the kernel does not reset the answer away)
        big = _connect(port)
        big.sendall(b"GET /health HTTP/1.1\r\nX-Big: " + b"a" * (guard.MAX_HEAD_BYTES + 4096))
        assert big.recv(4096).startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
        assert _closed_by_server(big, wait=1.0)

        # a slow head (one header line a second) and idle sockets are closed by the deadline
        slow = _connect(port)
        slow.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        opened = time.monotonic()
        deadline = opened + guard.HEAD_DEADLINE + 2
        while time.monotonic() < deadline and not _closed_by_server(slow):
            try:
                slow.send(b"X-Drip: 1\r\n")
            except ConnectionError:
                break
            time.sleep(1.0)
        assert _closed_by_server(slow), "a slow head outlived the head deadline"
        assert time.monotonic() - opened > guard.HEAD_DEADLINE - 1.5  # by the deadline, not evicted
        time.sleep(0.5)
        open_ones = [s for s in flood if not _closed_by_server(s)]
        assert not open_ones, f"{len(open_ones)} of {FLOOD} idle sockets still open"
        assert httpx.get(f"{url}/health", timeout=2).status_code == 200
    finally:
        for s in flood:
            s.close()
        svc.stop()
    log = svc.log.read_text()
    assert log.count("the oldest idle one was closed") == 1, log[-2000:]  # once per interval, with a count
    assert "out of system resource" not in log and "Too many open files" not in log
