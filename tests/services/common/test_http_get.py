"""JsonGetter (the relayer's guardian asks): kept-alive connections, a server that closes one,
garbage and silence from a server, all over real sockets."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from services.common.http import App, Request, server
from services.common.http_get import JsonGetter
from tests.conftest import free_config


def _port() -> int:
    return free_config(start=2700).api.port


async def _served(port: int) -> tuple[Any, asyncio.Task[None]]:
    app = App()

    @app.get("/v1/echo/{n:int}")
    async def echo(req: Request) -> tuple[int, Any]:
        if req.params["n"] == 404:
            return 404, {"missing": True}
        return 200, {"n": req.params["n"], "wait": req.query.get("wait")}

    http = server(app, port)
    task = asyncio.create_task(http.serve())
    while not http.started:
        await asyncio.sleep(0.01)
    return http, task


def test_answers_come_back_in_order_over_reused_connections() -> None:
    port = _port()

    async def scenario() -> None:
        http, task = await _served(port)
        getter = JsonGetter()
        try:
            for n in range(30):
                assert await getter.get(f"http://127.0.0.1:{port}/v1/echo/{n}?wait=0.5", 5) == (
                    200,
                    {"n": n, "wait": "0.5"},
                )
            assert len(getter._idle[("127.0.0.1", port)]) == 1  # one connection did all 30
            many = await asyncio.gather(*(getter.get(f"http://127.0.0.1:{port}/v1/echo/{n}", 5) for n in range(5)))
            assert [doc["n"] for _, doc in many] == list(range(5))
            assert len(getter._idle[("127.0.0.1", port)]) == 5  # concurrent asks: one connection each
            assert await getter.get(f"http://127.0.0.1:{port}/v1/echo/404", 5) == (404, {"missing": True})
        finally:
            await getter.close()
            http.should_exit = True
            await task

    asyncio.run(scenario())


async def _raw_server(port: int, answer: bytes | None, close_after: bool) -> asyncio.Server:
    """Answers every request with `answer` (None: never answers), closing after it if asked."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):  # cancelled: the test is over
            while await reader.readuntil(b"\r\n\r\n"):
                if answer is None:
                    await asyncio.sleep(3600)
                writer.write(answer or b"")
                await writer.drain()
                if close_after:
                    break
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", port)


OK = b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 8\r\n\r\n{"n": 1}'


def test_a_server_closing_kept_alive_connections_costs_no_answer() -> None:
    port = _port()

    async def scenario() -> None:
        srv = await _raw_server(port, OK, close_after=True)  # keep-alive announced, then closed
        getter = JsonGetter()
        try:
            for _ in range(10):
                assert await getter.get(f"http://127.0.0.1:{port}/x", 5) == (200, {"n": 1})
        finally:
            await getter.close()
            srv.close()

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (b"SMTP ready\r\n\r\n", ConnectionError),  # not HTTP
        (b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello", ValueError),  # not JSON
        (None, TimeoutError),  # silence
    ],
)
def test_a_bad_or_silent_server_is_an_error_not_a_hang(answer: bytes | None, error: type[Exception]) -> None:
    port = _port()

    async def scenario() -> None:
        srv = await _raw_server(port, answer, close_after=False)
        getter = JsonGetter()
        try:
            with pytest.raises(error):
                await getter.get(f"http://127.0.0.1:{port}/x", 0.5)
            if error is not ValueError:  # a whole HTTP answer with a bad body leaves a sound connection
                assert not getter._idle.get(("127.0.0.1", port))  # a broken one is never reused
        finally:
            await getter.close()
            srv.close()

    asyncio.run(scenario())
