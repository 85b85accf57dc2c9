"""What one kind of API request may hold of the API process.

A proven read (GET /v1/read) is blocking code (services.protocol.reads) of several RPCs, each up to
10 s on a chain that does not answer. It ran on the thread pool that every route's sync dependency
ran on too: a few dozen reads of a paused chain made GET /v1/chains and /health wait ~9 s (found by
an attacker run). Reads now run on threads of their own, at most `[api] reads` at once; one more is
answered 429 with Retry-After at once rather than queued behind them, and the other routes take no
thread at all (services.api.context.get_context is async).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from services.api.errors import ApiError

T = TypeVar("T")


class BoundedCalls:
    """Blocking calls of one kind on their own `size` threads; past `size` in progress, a 429."""

    def __init__(self, size: int, what: str, retry_after: int = 1):
        self.size, self.what, self.retry_after = size, what, retry_after
        self.pool = ThreadPoolExecutor(size, thread_name_prefix=what.replace(" ", "-"))
        self.busy = 0
        self.lock = threading.Lock()  # busy is released on the pool's threads

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        with self.lock:
            if self.busy >= self.size:
                raise ApiError(
                    429,
                    f"{self.size} {self.what} are in progress already (each may wait up to 10 s on a chain "
                    f"that does not answer); try again in {self.retry_after} s",
                    headers={"Retry-After": str(self.retry_after)},
                )
            self.busy += 1
        # counted until the thread ends, not until the request does: a client that gave up does not
        # free a thread that still waits on its chain
        done = self.pool.submit(fn, *args)
        done.add_done_callback(lambda _: self._release())
        return await asyncio.wrap_future(done)

    def _release(self) -> None:
        with self.lock:
            self.busy -= 1

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
