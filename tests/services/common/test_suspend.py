"""Suspendable: admin routes behind the run's token, every task of an instance stopped, a fresh one on resume."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path
from typing import Any

import httpx

from services.common.http import App, Request
from services.common.suspend import Suspendable, token_file


class Ticker:
    """A service shaped like the relayer: a loop that spawns fire-and-forget children."""

    def __init__(self) -> None:
        self.ticks = 0
        self.spawned: list[asyncio.Task[Any]] = []
        self.closed = False

    async def start(self) -> None:
        self.spawned.append(asyncio.create_task(self._loop()))

    async def _loop(self) -> None:
        while True:
            self.spawned.append(asyncio.create_task(asyncio.sleep(3600)))  # e.g. a delivery batch
            self.ticks += 1
            await asyncio.sleep(0.01)

    async def close(self) -> None:
        self.closed = True

    def app(self) -> App:
        app = App()

        @app.get("/v1/ticks")
        async def ticks(req: Request) -> tuple[int, Any]:
            return 200, {"ticks": self.ticks}

        @app.get("/v1/slow")
        async def slow(req: Request) -> tuple[int, Any]:
            await asyncio.sleep(3600)
            return 200, {}

        return app


def test_suspend_resume_behind_the_token(tmp_path: Path) -> None:
    built: list[Ticker] = []

    def factory() -> Ticker:
        built.append(Ticker())
        return built[-1]

    path = token_file(tmp_path, "ticker")

    async def scenario() -> None:
        host = Suspendable(factory, path)
        token = path.read_text()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        auth = {"Authorization": f"Bearer {token}"}
        await host.start()
        transport = httpx.ASGITransport(app=host.app())
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as c:
            await asyncio.sleep(0.05)
            assert (await c.get("/v1/ticks")).json()["ticks"] > 0
            assert (await c.post("/admin/suspend")).status_code == 403
            assert (await c.post("/admin/suspend", headers={"Authorization": "Bearer nope"})).status_code == 403
            # a non-ASCII token (headers are latin-1) is refused, not a 500 from compare_digest
            for odd in (b"Bearer \xe9\xe9", b"Bearer caf\xc3\xa9", b"Bearer \xff"):
                assert (await c.post("/admin/suspend", headers={"Authorization": odd})).status_code == 403
            assert (await c.get("/admin/state")).status_code == 403
            assert built[0].ticks > 0 and not built[0].closed  # refused: still running

            slow = asyncio.create_task(c.get("/v1/slow"))
            await asyncio.sleep(0.05)
            r = await c.post("/admin/suspend", headers=auth)
            assert r.status_code == 200 and r.json()["state"] == "suspended"
            assert (await slow).status_code == 503  # the request in flight was cancelled, not a 500
            first = built[0]
            assert first.closed and all(t.done() for t in first.spawned)  # fire-and-forget tasks too
            ticks = first.ticks
            await asyncio.sleep(0.05)
            assert first.ticks == ticks
            assert (await c.get("/v1/ticks")).status_code == 503
            assert (await c.post("/admin/suspend", headers=auth)).json()["state"] == "suspended"  # idempotent

            r = await c.post("/admin/resume", headers=auth)
            assert r.json() == {"state": "running", "generation": 2}
            assert len(built) == 2 and host.instance is built[1]  # a fresh instance: nothing kept
            await asyncio.sleep(0.05)
            assert 0 < (await c.get("/v1/ticks")).json()["ticks"] == built[1].ticks
            assert first.ticks == ticks
            assert (await c.post("/admin/resume", headers=auth)).json()["generation"] == 2  # idempotent
        await host.close()
        assert built[1].closed and all(t.done() for t in built[1].spawned)

    asyncio.run(scenario())
    first = path.read_text()
    Suspendable(Ticker, path)
    assert path.read_text() != first  # a fresh token at every process start


def test_failed_resume_stays_suspended(tmp_path: Path) -> None:
    class Broken(Ticker):
        async def start(self) -> None:
            await super().start()
            raise ConnectionError("chain down")

    instances: list[Ticker] = []

    def factory() -> Ticker:
        if len(instances) == 2:
            raise OSError("database is locked")  # the instance cannot even be built
        instances.append(Ticker() if not instances else Broken())
        return instances[-1]

    path = token_file(tmp_path, "svc")

    async def scenario() -> None:
        host = Suspendable(factory, path)
        auth = {"Authorization": f"Bearer {path.read_text()}"}
        await host.start()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=host), base_url="http://svc") as c:
            await c.post("/admin/suspend", headers=auth)
            r = await c.post("/admin/resume", headers=auth)
            assert r.status_code == 503 and "chain down" in r.json()["error"]["message"]
            assert host.state == "suspended" and instances[1].closed
            assert all(t.done() for t in instances[1].spawned)  # what the failed start began is stopped
            r = await c.post("/admin/resume", headers=auth)
            assert r.status_code == 503 and "database is locked" in r.json()["error"]["message"]
            assert host.state == "suspended" and (await c.get("/v1/ticks")).status_code == 503
        await host.close()

    asyncio.run(scenario())


def test_a_request_cancelled_by_anyone_but_a_suspend_stays_cancelled(tmp_path: Path) -> None:
    """Requests run in the server's own task: a suspend's cancel is answered 503, any other cancel
    (the server shutting down, the client gone) goes on up as a cancellation."""

    async def scenario() -> None:
        host = Suspendable(Ticker, token_file(tmp_path, "svc"))
        await host.start()
        transport = httpx.ASGITransport(app=host.app())
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as c:
            slow = asyncio.create_task(c.get("/v1/slow"))
            await asyncio.sleep(0.05)
            slow.cancel()
            try:
                await slow
                raise AssertionError("the cancelled request was answered")
            except asyncio.CancelledError:
                pass
            assert host.state == "running" and (await c.get("/v1/ticks")).status_code == 200
            assert not host._requests and not host._suspended_requests  # nothing left behind
        await host.close()

    asyncio.run(scenario())
