"""No source holds back another's messages to the same destination: a source chain that stops
answering (SIGSTOP: its eth_getProof hangs until the RPC timeout) keeps its own batches waiting,
never the delivery slots of the destination, and a backlog of one source does not queue the
messages of another behind it."""

from __future__ import annotations

import asyncio
import time

import pytest

from services.relayer.delivery import Delivery
from services.relayer.scanner import Scanner
from services.relayer.scheduling import HEAVY_PAYLOAD
from services.relayer.settlement import Settlement

BOUND = 5.0  # s: the other source's message, while every slot could be held by the stuck source


@pytest.mark.parametrize("payload", [b"not stuck", bytes(HEAVY_PAYLOAD)], ids=["light", "heavy"])
def test_a_source_that_stops_answering_holds_back_only_its_own_messages(stage_net, stages, payload):
    """A heavy message (delivered alone, when no transaction of the relayer's is pending there)
    waited for the stuck source's batches too, which were still asking for their proofs: 30 s."""
    stuck = [stage_net.send("rollup-a", "hub", b"stuck %d" % i, account=i) for i in range(6)]
    other = stage_net.send("rollup-b", "hub", payload, account=8)  # zeros: the counter adds 0
    a, b, hub = stage_net.chain_id("rollup-a"), stage_net.chain_id("rollup-b"), stage_net.chain_id("hub")

    async def until_delivered(ctx, ids: list[str], within: float) -> float:
        started = time.monotonic()
        while any(ctx.queue.get(i)["status"] != "delivered" for i in ids):
            if time.monotonic() - started > within:
                return -1.0
            await asyncio.sleep(0.05)
        return time.monotonic() - started

    async def scenario(ctx):
        # this test's messages only; every batch of rollup-a then asks rollup-a for its proof
        await Scanner(ctx, a, lambda _dst: None).scan_range(stuck[0].block, ctx.links[a].head)
        ctx.prefetch.forget(a, max(s.block for s in stuck))
        # one message per batch: more batches of the stuck source than a destination has slots
        worker = Delivery(ctx, hub, Settlement(ctx), max_batch=1)
        stage_net.chaos("pause", "rollup-a")
        task = asyncio.create_task(worker.run())
        try:
            while not worker.inflight:  # the stuck source's batches wait for rollup-a's answers
                await asyncio.sleep(0.01)
            await Scanner(ctx, b, lambda _dst: None).scan_range(other.block, ctx.links[b].head)
            ctx.prefetch.forget(b, other.block)
            worker.wake.set()
            took = await until_delivered(ctx, [other.id], BOUND)
            stage_net.heal("rollup-a")
            rest = await until_delivered(ctx, [s.id for s in stuck], 60)
            return took, rest
        finally:
            stage_net.heal("rollup-a")
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    took, rest = stages(scenario)
    assert took >= 0, "rollup-b's message waited for the stuck rollup-a"
    assert rest >= 0, "the stuck source's messages once it answers again"
    assert stage_net.is_delivered_on("hub", "rollup-b", other.nonce)
    assert all(stage_net.is_delivered_on("hub", "rollup-a", s.nonce) for s in stuck)


def test_a_backlog_of_one_source_does_not_queue_another_behind_it(tmp_path):
    from services.relayer.model import QueuedMessage
    from services.relayer.queue import Queue
    from services.relayer.scheduling import Slots, interleave, make_batches
    from tests.services.relayer.test_queue import msg

    q = Queue(tmp_path / "q.sqlite")
    q.ingest(900, 10, [msg(i, src=900) for i in range(1, 101)])  # the hub's backlog (lowest source id)
    q.ingest(901, 10, [msg(1000, src=901)])
    rows = q.ready(902, time.time(), 20)
    assert sum(r["src"] == 900 for r in rows) == 20 and [r["id"] for r in rows if r["src"] == 901] == [msg(1000)["id"]]
    batches = interleave(make_batches([QueuedMessage.from_row(r) for r in rows], 5))
    assert [b.src for b in batches[:3]] == [900, 901, 900]  # the other source's batch is second, not last
    slots = Slots(2)
    slots.take(900), slots.take(900)
    assert not slots.free(900) and slots.free(901)
    slots.release(900)
    assert slots.free(900)
