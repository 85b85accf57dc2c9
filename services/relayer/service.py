"""The relayer: gateway logs in, proven deliveries out, nothing lost or doubled.

This module only wires the stages and runs their lifecycle:

    scanner (per source chain)   logs -> queue                      scanner.py
    delivery (per destination)   queue -> batch -> quorum + proof -> tx   delivery.py
    settlement                   receipt -> message statuses        settlement.py
    equivocation watcher         guardian feeds -> slash on the hub equivocation.py
    watchtower                   stored roots vs source blocks -> flag, slash  watchtower.py
    root poster (optional)       interval root posting              roots.py
    HTTP                         /health, /v1/messages/{id}         health.py

Stages share a `Context` (chains, queue, ABIs, guardian sets, counters) and never import
this module. A core loop that dies ends the process, so the supervisor restarts it and
it resumes from its durable queue.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from pathlib import Path
from typing import Any

from services.common.http import App
from services.common.manifest import Manifest
from services.common.rpc import RpcError
from services.relayer.context import Context
from services.relayer.delivery import Delivery
from services.relayer.equivocation import EquivocationWatcher
from services.relayer.health import build_app
from services.relayer.queue import Queue
from services.relayer.roots import RootPoster
from services.relayer.scanner import Scanner
from services.relayer.settlement import Settlement
from services.relayer.watchtower import Watchtower

log = logging.getLogger("relayer")

CHAIN_WAIT = 10.0  # s: the start waits this long for every chain, then relays among those up


def _crash_if_failed(task: asyncio.Task[Any]) -> None:
    """A core loop that died would silently stop relaying: exit instead, so the supervisor
    restarts the process, which resumes from its durable queue."""
    if task.cancelled() or task.exception() is None:
        return
    log.critical("%s died: %r; exiting so the supervisor restarts the relayer", task.get_name(), task.exception())
    os._exit(70)


class Relayer:
    def __init__(
        self,
        manifest: Manifest,
        db_path: Path,
        max_batch: int | None = None,
        root_post_interval: float | None = None,
        watch_interval: float = 0.5,
    ):
        self.ctx = Context.build(manifest, Queue(db_path))
        ctx = self.ctx
        self.settlement = Settlement(ctx)
        batch = max_batch or manifest.relayer.max_batch
        self.deliveries = {cid: Delivery(ctx, cid, self.settlement, batch) for cid in ctx.links}
        self.scanners = {cid: Scanner(ctx, cid, self._wake_delivery) for cid in ctx.links}
        self.equivocation = EquivocationWatcher(ctx, self.settlement, watch_interval)
        self.watchtower = Watchtower(ctx, self.equivocation)
        interval = manifest.relayer.root_post_interval if root_post_interval is None else root_post_interval
        self.roots = RootPoster(ctx, interval) if interval > 0 else None
        self._tasks: list[asyncio.Task[Any]] = []
        self.started_at = time.time()
        self.ready = False

    def _on_head(self, chain_id: int, number: int) -> None:
        self.scanners[chain_id].wake.set()
        self.watchtower.saw_head(chain_id, number)

    def _regressed(self, dst: int, head: int) -> None:
        ids = self.ctx.queue.redeliver_after(dst, head)
        if ids:
            log.warning(
                "%s restarted at block %d: %d delivery(ies) after it are gone; delivering again",
                self.ctx.links[dst].name,
                head,
                len(ids),
            )
            self._wake_delivery(dst)

    def _wake_delivery(self, dst: int) -> None:
        self.deliveries[dst].wake.set()

    async def start(self) -> None:
        """Bring every chain up, each on its own: one that does not answer (stopped, partitioned)
        keeps only its own messages waiting, while the others relay (a start that waited for
        every chain relayed nothing at all, and exited to be restarted, for as long as one
        chain was paused). Ready once every chain is up."""
        ctx = self.ctx
        ups = [asyncio.create_task(self._chain_up(cid), name=f"up-{cid}") for cid in ctx.links]
        self._tasks += ups
        for task in ups:
            task.add_done_callback(_crash_if_failed)
        await asyncio.wait(ups, timeout=CHAIN_WAIT)
        ctx.guardians.listen()
        loops = [(self.equivocation.run(), "equivocation")]
        loops += [(self.watchtower.run(), "watchtower"), (self.watchtower.run_evidence(), "watchtower-evidence")]
        if self.roots is not None:
            loops.append((self.roots.run(), "roots"))
        self._spawn(loops)
        self.ready = True
        log.info(
            "relayer %s on %s; guardians %s",
            ctx.signer.address,
            ", ".join(f"{link.name}({cid})" for cid, link in ctx.links.items()),
            ", ".join(ctx.guardians.urls),
        )

    async def _chain_up(self, cid: int) -> None:
        """Connect to one chain (retrying while it does not answer), settle the deliveries to it
        that were in flight at the last stop, then start its scanner and delivery worker."""
        ctx, link = self.ctx, self.ctx.links[cid]
        delay = 0.5
        while True:
            try:
                await link.start(connect_timeout=CHAIN_WAIT)
                await ctx.load_set(cid)
                break
            except (RpcError, ConnectionError, TimeoutError, OSError) as exc:
                log.error("%s does not answer (%s): its messages wait, the others relay; retrying", link.name, exc)
                await link.reopen()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        link.on_head = functools.partial(self._on_head, cid)
        link.on_regress = functools.partial(self._regressed, cid)
        await self.settlement.recover_submitted(dst=cid)
        await self.scanners[cid].subscribe()
        self._spawn([(self.scanners[cid].run(), f"scan-{cid}"), (self.deliveries[cid].run(), f"deliver-{cid}")])

    def _spawn(self, loops: list[tuple[Any, str]]) -> None:
        for coro, name in loops:
            task = asyncio.create_task(coro, name=name)
            task.add_done_callback(_crash_if_failed)
            self._tasks.append(task)

    async def close(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.ctx.guardians.close()
        await asyncio.gather(*(link.rpc.close() for link in self.ctx.links.values()), return_exceptions=True)
        self.ctx.queue.close()

    def app(self) -> App:
        return build_app(self.ctx, self.deliveries, lambda: self.ready, self.started_at, self.watchtower.status)
