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
async def scanning(ctx, src: int, wake: Callable[[int], None] = lambda _d: None) -> AsyncIterator[Scanner]:
    """The source's Scanner, woken by its heads, running for the block."""
    scanner = Scanner(ctx, src, wake)
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


def test_a_destination_rewind_sends_the_deliveries_of_its_lost_blocks_again_once(stage_net, stages):
    """evm_revert of the destination after a delivery: the chain's scanner finds the rewind, the
    delivery is pending again (its block is gone) and its worker woken; delivered again, once."""
    w3 = stage_net.w3["rollup-b"]
    sent = stage_net.send("rollup-a", "rollup-b", b"delivered, then its block rewound", account=4)
    src, dst = stage_net.chain_id("rollup-a"), stage_net.chain_id("rollup-b")
    gw = stage_net.contract("rollup-b", "MetalayerGateway")

    async def scenario(ctx):
        await Scanner(ctx, src, lambda _d: None).scan_range(0, ctx.links[src].head)
        woken: list[int] = []
        delivery = Delivery(ctx, dst, Settlement(ctx), 10)
        async with scanning(ctx, dst, woken.append):
            snapshot = await asyncio.to_thread(w3.provider.make_request, "evm_snapshot", [])
            await delivery.deliver(Batch(src, dst, (QueuedMessage.from_row(ctx.queue.get(sent.id)),)))
            first = dict(ctx.queue.get(sent.id))
            await until("the delivery block scanned", lambda: (ctx.queue.cursor(dst) or 0) >= first["delivered_block"])
            await asyncio.to_thread(w3.provider.make_request, "evm_revert", [snapshot["result"]])
            for _ in range(3):  # the chain moves past the lost block with other blocks
                await asyncio.to_thread(w3.provider.make_request, "evm_mine", [])
            await until("the redelivery", lambda: ctx.queue.get(sent.id)["status"] == "pending")
            lost = await asyncio.to_thread(gw.functions.isMessageDelivered(src, sent.nonce, sent.id).call)
        await delivery.deliver(Batch(src, dst, (QueuedMessage.from_row(ctx.queue.get(sent.id)),)))
        return first, lost, woken, ctx.queue.get(sent.id)

    first, lost, woken, row = stages(scenario)
    assert first["status"] == "delivered" and not lost  # the revert took the delivery away
    assert dst in woken and row["status"] == "delivered" and row["delivered_block"] is not None
    assert gw.functions.isMessageDelivered(src, sent.nonce, sent.id).call()
    logs = gw.events.MessageDelivered().get_logs(from_block=0, argument_filters={"messageId": sent.id})
    assert len(logs) == 1  # on the chain as it is now: exactly once


def test_a_source_rewound_below_a_long_signed_range_still_delivers_a_new_message(stage_net, stages):
    """The guardians signed 80 heights of rollup-a that an evm_revert then took away; a message
    sent afterwards sits at one of those heights (they never sign a second root for a height), so
    it is proven at the first later height they have not signed: found in a few doubling steps."""
    w3 = stage_net.w3["rollup-a"]
    src, dst = stage_net.chain_id("rollup-a"), stage_net.chain_id("rollup-b")

    async def scenario(ctx):
        gset = ctx.sets[dst]
        snapshot = await asyncio.to_thread(w3.provider.make_request, "evm_snapshot", [])
        start = ctx.links[src].head
        await asyncio.to_thread(w3.provider.make_request, "anvil_mine", [hex(80)])
        for h in range(start + 1, start + 81):  # signed on demand, each with its root of then
            await ctx.guardians.quorum(src, h, gset.members, gset.threshold, wait=5)
        await asyncio.to_thread(w3.provider.make_request, "evm_revert", [snapshot["result"]])
        sent = await asyncio.to_thread(lambda: stage_net.send("rollup-a", "rollup-b", b"after", account=6))
        await Scanner(ctx, src, lambda _d: None).scan_range(0, sent.block)
        await Delivery(ctx, dst, Settlement(ctx), 10).deliver(
            Batch(src, dst, (QueuedMessage.from_row(ctx.queue.get(sent.id)),))
        )
        return start, sent, ctx.queue.get(sent.id)

    start, sent, row = stages(scenario)
    assert start < sent.block <= start + 80  # at a height the guardians had signed before the revert
    assert row["status"] == "delivered" and row["attest_block"] > start + 80
    gw = stage_net.contract("rollup-b", "MetalayerGateway")
    assert gw.functions.isMessageDelivered(src, sent.nonce, sent.id).call()


def test_a_message_whose_send_the_source_no_longer_holds_is_orphaned_not_failed(stage_net, stages):
    """The queue holds a message the source gateway has no commitment of (its block was lost
    unseen: in the field, a chain restarted from an older dump while the relayer was busy). Its
    proof shows no commitment, the source confirms it holds none: orphaned, not a failure."""
    src, dst = stage_net.chain_id("hub"), stage_net.chain_id("rollup-a")
    counter = stage_net.manifest.address("CrossChainCounter")

    async def scenario(ctx):
        head = ctx.links[src].head
        lost = {
            "id": "0x" + "5a" * 32,
            "src": src,
            "dst": dst,
            "nonce": 10**6,
            "sender": "0x" + "11" * 20,
            "recipient": counter.lower(),
            "payload": b"never committed",
            "sent_block": head,
            "sent_block_hash": ctx.links[src].head_hashes.get(head),
            "sent_tx": "0x" + "44" * 32,
            "sent_time": 1.0,
            "seen_at": 2.0,
        }
        ctx.queue.ingest_early([lost])
        delivery = Delivery(ctx, dst, Settlement(ctx), 10)
        for _ in range(2):  # the first goes out unsimulated and reverts as a whole; the retry simulates
            row = ctx.queue.get(lost["id"])
            if row["status"] == "orphaned":
                break
            await delivery.deliver(Batch(src, dst, (QueuedMessage.from_row(row),)))
        return ctx.queue.get(lost["id"]), ctx.counters

    row, counters = stages(scenario)
    assert row["status"] == "orphaned" and "no longer on the source" in row["last_error"]
    assert row["failures"] == 0 and counters.failed_deliveries == 0
