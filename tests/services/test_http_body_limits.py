"""Request bodies against the HTTP servers' guard (services/common/guard.py): a body over the cap is
refused before it is read, and clients that send a head and then trickle their body cannot take
every connection of a server (each is closed for a newcomer, like an idle socket)."""

from __future__ import annotations

import socket
import sys
import textwrap
import time

import httpx

from services.common import guard
from tests.services.conftest import ServiceProc, services_config

FD_LIMIT = 256  # the server keeps max(32, 256 // 4) = 64 connections

SERVER = textwrap.dedent(
    """
    import sys
    import uvicorn
    from fastapi import FastAPI
    from pydantic import BaseModel
    from services.common import guard

    app = FastAPI()

    class Body(BaseModel):  # a body read as the API's routes read theirs
        data: str

    @app.get("/health")
    async def health():
        return {"ok": True}

    @app.post("/echo")
    async def echo(body: Body):
        return {"bytes": len(body.data)}

    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", **guard.options())
    """
)


def _server(tmp_path) -> tuple[ServiceProc, int]:
    port = services_config(tmp_path).api.port  # a free port, in this run's range
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    cmd = f"ulimit -n {FD_LIMIT} && exec {sys.executable} {script} {port}"
    return ServiceProc(["sh", "-c", cmd], tmp_path / "server.log", f"http://127.0.0.1:{port}/health"), port


def _slow_body(port: int) -> socket.socket:
    """A head announcing 1000 bytes of body, and one byte of it."""
    s = socket.create_connection(("127.0.0.1", port), timeout=2)
    s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
    return s


def test_big_bodies_are_refused_and_slow_bodies_cannot_fill_the_server(tmp_path):
    svc, port = _server(tmp_path)
    url = f"http://127.0.0.1:{port}"
    svc.start()
    slow: list[socket.socket] = []
    try:
        assert httpx.post(f"{url}/echo", json={"data": "x" * 1000}).json() == {"bytes": 1000}

        # over the cap: 413 at once, from the head alone (no byte of the body sent)
        big = socket.create_connection(("127.0.0.1", port), timeout=2)
        big.sendall(f"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {guard.MAX_BODY_BYTES + 1}\r\n\r\n".encode())
        assert big.recv(4096).startswith(b"HTTP/1.1 413 Content Too Large\r\n")
        big.close()

        # more trickling bodies than the server keeps connections: a request still gets through
        # (before the fix the server kept every one of them, and closed each newcomer)
        for _ in range(FD_LIMIT // 4 + 16):
            slow.append(_slow_body(port))
            time.sleep(0.005)
        started = time.monotonic()
        assert httpx.post(f"{url}/echo", json={"data": "y" * 10}, timeout=5).json() == {"bytes": 10}
        assert time.monotonic() - started < 1.5
        assert "Traceback" not in svc.log.read_text()
    finally:
        for s in slow:
            s.close()
        svc.stop()
