"""Source rewinds (evm_revert): the scanner moves its cursor back to the common ancestor, orphans the
messages of the rewound blocks (never delivered), and ingests the messages sent afterwards even
though they reuse the rewound messages' nonces."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from services.relayer.delivery import Delivery
from services.relayer.model import Batch, QueuedMessage
from services.relayer.scanner import Scanner
from services.relayer.settlement import Settlement


@contextlib.asynccontextmanager
async def scanning(ctx, src: int) -> AsyncIterator[Scanner]:
    """The source's Scanner, woken by its heads, running for the block."""
    scanner = Scanner(ctx, src, lambda _d: None)
    ctx.links[src].on_head = lambda _n: scanner.wake.set()
    task = asyncio.create_task(scanner.run())
    try:
        yield scanner
    finally:
        task.cancel()


async def until(what: str, pred: Callable[[], bool]) -> None:
    for _ in range(300):
        if pred():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def test_an_evm_revert_orphans_rewound_messages_and_later_ones_are_delivered(stage_net, stages):
    w3 = stage_net.w3["rollup-a"]
    src, dst = stage_net.chain_id("rollup-a"), stage_net.chain_id("rollup-b")

    async def scenario(ctx):
        async with scanning(ctx, src):
            snapshot = await asyncio.to_thread(w3.provider.make_request, "evm_snapshot", [])
            rewound = await asyncio.to_thread(
                lambda: stage_net.send("rollup-a", "rollup-b", b"rewound away", account=5)
            )
            await until("the first message", lambda: ctx.queue.get(rewound.id) is not None)
            await asyncio.to_thread(w3.provider.make_request, "evm_revert", [snapshot["result"]])
            for _ in range(3):  # the chain moves past its old head before the next send
                await asyncio.to_thread(w3.provider.make_request, "evm_mine", [])
            after = await asyncio.to_thread(lambda: stage_net.send("rollup-a", "rollup-b", b"sent after", account=5))
            await until("the message sent after the rewind", lambda: ctx.queue.get(after.id) is not None)
        await Delivery(ctx, dst, Settlement(ctx), 10).deliver(
            Batch(src, dst, (QueuedMessage.from_row(ctx.queue.get(after.id)),))
        )
        ready = ctx.queue.ready(dst, 1e12, 100)
        return rewound, after, ctx.queue.get(rewound.id), ctx.queue.get(after.id), ready, ctx.counters

    rewound, after, old, new, ready, counters = stages(scenario)
    assert after.nonce == rewound.nonce and after.id != rewound.id  # the nonce was reused
    assert old["status"] == "orphaned" and "rewound" in old["last_error"]
    assert rewound.id not in {r["id"] for r in ready}  # never picked up for delivery
    assert new["status"] == "delivered" and counters.rewinds == 1
    gw = stage_net.contract("rollup-b", "MetalayerGateway")
    assert gw.functions.isDelivered(src, after.nonce).call()


def test_an_anvil_reorg_orphans_the_message_of_the_replaced_block(stage_net, stages):
    w3 = stage_net.w3["hub"]
    src = stage_net.chain_id("hub")

    async def scenario(ctx):
        async with scanning(ctx, src):
            sent = await asyncio.to_thread(lambda: stage_net.send("hub", "rollup-a", b"reorged", account=6))
            await until("the message", lambda: ctx.queue.get(sent.id) is not None)
            # replace the message's block (and one more) with empty blocks of a new branch
            await asyncio.to_thread(w3.provider.make_request, "anvil_reorg", [1, []])
            await asyncio.to_thread(w3.provider.make_request, "evm_mine", [])
            await until("the rewind", lambda: ctx.counters.rewinds >= 1)
            await until("the rescan", lambda: (ctx.queue.cursor(src) or 0) >= sent.block)
        return sent, ctx.queue.get(sent.id)

    sent, row = stages(scenario)
    assert row["status"] == "orphaned"
    # the reorg really took it away: the source gateway no longer holds its commitment
    assert not stage_net.contract("hub", "MetalayerGateway").functions.isCommitted(sent.id).call()
