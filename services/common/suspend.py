"""A service that the orchestrator can suspend and resume in place, between two tests.

    host = Suspendable(lambda: Relayer(manifest, db_path), token_file(run_dir, "relayer"))
    await http.serve(host, port)      # the instance's routes, plus:

    POST /admin/suspend   every task of the instance cancelled, its connections and SQLite closed
    POST /admin/resume    a fresh instance built by the factory and started, as at process start
    GET  /admin/state     {"state": "running" | "suspended", "generation": N}

Why: a test fixture's reset (orchestrator/snapshots/checkpoint.py) reverts the chains and
restores the services' databases; the services must then forget every head, cursor, nonce and
signature they hold in memory. Building a new instance forgets all of it by construction, at a
fraction of a process restart (no interpreter start, no imports).

The admin routes need `Authorization: Bearer <token>`, the token this process wrote at start to
`<run dir>/<service>.token` (mode 0600): only whoever can read this run's directory (the
orchestrator that started it) can suspend it. While suspended every other route answers 503.

Every task started by an instance is tracked (a task factory tags the tasks created while it
starts, and transitively the tasks those create), so a suspend also stops fire-and-forget work
such as delivery batches and RPC reconnects; HTTP requests in flight on the instance are
cancelled and answered 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hmac
import logging
import os
import secrets
import time
import weakref
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from services.common.error_body import error_body
from services.common.http import App, BackgroundService, HttpError, Request, send_json

log = logging.getLogger("suspend")

_GENERATION: contextvars.ContextVar[tuple[int, int] | None] = contextvars.ContextVar("instance", default=None)
_TASKS: dict[tuple[int, int], weakref.WeakSet[asyncio.Task[Any]]] = {}
CANCEL_WAIT = 5.0  # seconds a cancelled task may take to finish before the instance is closed anyway


def token_file(run_dir: Path, service: str) -> Path:
    return Path(run_dir) / f"{service}.token"


def write_token(path: Path) -> str:
    """A fresh random token in `path`, readable by its owner only, replaced atomically."""
    token = secrets.token_hex(16)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token)
    os.replace(tmp, path)
    return token


def _task_factory(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], context: Any = None) -> Any:
    task = asyncio.Task(coro, loop=loop, context=context)
    owner = context.get(_GENERATION) if context is not None else _GENERATION.get()
    if owner is not None:
        _TASKS.setdefault(owner, weakref.WeakSet()).add(task)
    return task


class Suspendable:
    """Runs one instance of a service at a time; the HTTP surface stays up across instances."""

    def __init__(self, factory: Callable[[], BackgroundService], token_path: Path):
        self.factory = factory
        self.token = write_token(token_path)
        self.instance: Any = factory()  # built now so that bad arguments fail before serving
        self._app: Any = None  # the running instance's ASGI app; None while suspended or starting
        self.generation = 0
        self._lock: asyncio.Lock | None = None
        self._requests: set[asyncio.Task[Any]] = set()  # the server's tasks answering the instance's routes
        self._suspended_requests: set[asyncio.Task[Any]] = set()  # of those, the ones a suspend cancelled
        self._admin = self._admin_app()

    # ------------------------------------------------------------ lifecycle (http.serve)

    def app(self) -> Any:
        return self

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        if loop.get_task_factory() is None:
            loop.set_task_factory(_task_factory)  # type: ignore[arg-type]
        async with self._guard():  # a suspend waits until the first start is done
            await self._start(self.instance)

    async def close(self) -> None:
        if self.instance is not None:
            await self._stop()

    @property
    def state(self) -> str:
        return "running" if self._app is not None else "suspended"

    async def suspend(self) -> None:
        async with self._guard():
            if self.instance is not None:
                began = time.perf_counter()
                await self._stop()
                log.info("suspended in %.1f ms", (time.perf_counter() - began) * 1000)

    async def resume(self) -> None:
        async with self._guard():
            if self.instance is not None:
                return
            began = time.perf_counter()
            try:
                instance = self.factory()
                built = time.perf_counter()
                await self._start(instance)
            except Exception as exc:
                log.exception("resume failed")
                if self.instance is not None:
                    await self._stop()
                raise HttpError(503, f"resume failed: {exc!r}") from None
            log.info(
                "resumed in %.1f ms (%.1f ms to build the instance)",
                (time.perf_counter() - began) * 1000,
                (built - began) * 1000,
            )

    def _guard(self) -> asyncio.Lock:
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    async def _start(self, instance: Any) -> None:
        self.generation += 1
        self.instance = instance
        mark = _GENERATION.set((id(self), self.generation))
        try:
            await instance.start()
        finally:
            _GENERATION.reset(mark)
        self._app = instance.app()

    async def _stop(self) -> None:
        """Stop taking requests, cancel the instance's requests and tasks, then close it."""
        instance, self.instance, self._app = self.instance, None, None
        for request in list(self._requests):
            self._suspended_requests.add(request)
            request.cancel()
        tasks = [t for t in _TASKS.pop((id(self), self.generation), ()) if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            _, stuck = await asyncio.wait(tasks, timeout=CANCEL_WAIT)
            if stuck:
                log.warning("%d task(s) did not stop on cancel: %s", len(stuck), [t.get_name() for t in stuck])
        try:
            await instance.close()
        except Exception:
            log.exception("closing the suspended instance failed")

    # ------------------------------------------------------------ HTTP

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            return
        if scope["type"] == "http" and scope["path"].startswith("/admin/"):
            await self._admin(scope, receive, send)
            return
        app = self._app
        if app is None and scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1013, "reason": "suspended by the orchestrator"})
            return
        if app is None:
            await send_json(
                send, 503, {"status": "suspended", **error_body(503, "suspended by the orchestrator (a reset)")}
            )
            return
        started = False

        async def tracked_send(message: dict[str, Any]) -> None:
            nonlocal started
            started = True
            await send(message)

        # The request runs in the server's own task (a task of its own per request cost ~20 us of
        # a guardian answer's ~150); a suspend cancels that task and marks it, and only a marked
        # cancellation is answered here, any other (the server shutting down) goes on up.
        task = asyncio.current_task()
        assert task is not None
        self._requests.add(task)
        try:
            await app(scope, receive, tracked_send)
        except asyncio.CancelledError:
            if task not in self._suspended_requests:
                raise
            task.uncancel()
            if scope["type"] == "websocket":
                with contextlib.suppress(Exception):  # the connection may be gone already
                    await send({"type": "websocket.close", "code": 1012, "reason": "suspended"})
            elif not started:
                await send_json(send, 503, {"status": "suspended", **error_body(503, "suspended while answering")})
        finally:
            self._requests.discard(task)
            self._suspended_requests.discard(task)

    def _admin_app(self) -> App:
        app = App()

        def authorize(req: Request) -> None:
            given = req.headers.get("authorization", "").removeprefix("Bearer ").strip()
            # as bytes: compare_digest refuses str with non-ASCII characters (a header is latin-1)
            if not given or not hmac.compare_digest(given.encode("latin-1", "replace"), self.token.encode()):
                raise HttpError(403, "admin routes need the token of this run (Authorization: Bearer ...)")

        @app.post("/admin/suspend")
        async def suspend(req: Request) -> tuple[int, Any]:
            authorize(req)
            await self.suspend()
            return 200, {"state": self.state, "generation": self.generation}

        @app.post("/admin/resume")
        async def resume(req: Request) -> tuple[int, Any]:
            authorize(req)
            await self.resume()
            return 200, {"state": self.state, "generation": self.generation}

        @app.get("/admin/state")
        async def state(req: Request) -> tuple[int, Any]:
            authorize(req)
            return 200, {"state": self.state, "generation": self.generation}

        return app
