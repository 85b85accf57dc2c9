"""Delivery: quorum + proof + one transaction; retried batches skip what is already delivered."""

from __future__ import annotations

import time

from services.relayer.delivery import Delivery
from services.relayer.model import Batch, QueuedMessage
from services.relayer.scanner import Scanner
from services.relayer.settlement import Settlement


async def ingest(ctx, src: int) -> None:
    await Scanner(ctx, src, lambda _dst: None).scan_range(0, ctx.links[src].head)


def test_a_batch_is_delivered_in_one_transaction_and_settled(stage_net, stages):
    sent = [stage_net.send("rollup-a", "hub", b"batch %d" % i, account=i) for i in range(3)]
    src, dst = stage_net.chain_id("rollup-a"), stage_net.chain_id("hub")

    async def scenario(ctx):
        await ingest(ctx, src)
        delivery = Delivery(ctx, dst, Settlement(ctx), max_batch=10)
        batch = Batch(src, dst, tuple(QueuedMessage.from_row(ctx.queue.get(s.id)) for s in sent))
        await delivery.deliver(batch)
        return [ctx.queue.get(s.id) for s in sent], ctx.counters.batches

    rows, batches = stages(scenario)
    assert batches == 1
    assert {r["status"] for r in rows} == {"delivered"}
    assert len({r["delivery_tx"] for r in rows}) == 1 and all(r["attempts"] == 1 and r["batch_size"] == 3 for r in rows)
    assert all(r["attest_block"] == max(s.block for s in sent) for r in rows)
    assert all(stage_net.is_delivered_on("hub", "rollup-a", s.nonce) for s in sent)


def test_a_retried_batch_settles_delivered_messages_without_sending(stage_net, stages):
    sent = stage_net.send("rollup-b", "rollup-a", b"twice?")
    src, dst = stage_net.chain_id("rollup-b"), stage_net.chain_id("rollup-a")

    async def scenario(ctx):
        await ingest(ctx, src)
        delivery = Delivery(ctx, dst, Settlement(ctx), max_batch=10)
        msg = QueuedMessage.from_row(ctx.queue.get(sent.id))
        await delivery.deliver(Batch(src, dst, (msg,)))
        first_tx = ctx.queue.get(sent.id)["delivery_tx"]
        # the queue forgets the outcome (as after a crash between receipt and commit)
        ctx.queue.mark_stage([sent.id], status="pending")
        retried = QueuedMessage.from_row(ctx.queue.get(sent.id))
        assert retried.attempts == 1
        await delivery.deliver(Batch(src, dst, (retried,)))
        return first_tx, ctx.queue.get(sent.id), ctx.counters.batches

    first_tx, row, batches = stages(scenario)
    assert batches == 1  # nothing sent the second time
    assert row["status"] == "delivered" and row["delivery_tx"] == first_tx


def test_the_proof_asked_for_at_scan_time_serves_the_delivery(stage_net, stages):
    """The scanner asks for the newest block's proof as it reads its messages; the delivery of
    that block's batch uses it (one eth_getProof in all), and a batch it does not cover asks anew."""
    sent = stage_net.send("hub", "rollup-b", b"prefetched")
    src, dst = stage_net.chain_id("hub"), stage_net.chain_id("rollup-b")

    async def scenario(ctx):
        link = ctx.links[src]
        proofs: list[list[str]] = []
        real_call = link.rpc.call

        async def counted(method, params=(), timeout=None):
            if method == "eth_getProof":
                proofs.append(params[1])
            return await real_call(method, params, timeout)

        link.rpc.call = counted
        await ingest(ctx, src)
        extra = b"\x01" * 32  # a slot the prefetched proof does not hold
        uncovered = ctx.prefetch.take(src, sent.block, [extra])
        delivery = Delivery(ctx, dst, Settlement(ctx), max_batch=10)
        await delivery.deliver(Batch(src, dst, (QueuedMessage.from_row(ctx.queue.get(sent.id)),)))
        return proofs, uncovered, ctx.queue.get(sent.id)

    proofs, uncovered, row = stages(scenario)
    assert row["status"] == "delivered" and stage_net.is_delivered_on("rollup-b", "hub", sent.nonce)
    assert len(proofs) == 1  # asked for once, at scan time
    assert uncovered is None


def test_a_message_seen_late_and_already_delivered_is_settled_without_a_transaction(stage_net, stages):
    """A relayer whose queue was lost (deleted, corrupted and moved aside) reads its sources
    from block 0 again: every message it ever delivered comes back as new. They are checked on
    chain before a first send (they were seen long after their block), so nothing is replayed:
    before, each batch of them went out unsimulated and reverted AlreadyDelivered on chain (128
    reverted transactions for 2,500 old messages, and a new message waited 6.5 s behind them)."""
    sent = stage_net.send("rollup-a", "rollup-b", b"delivered, queue lost")  # < 32 bytes: counts 1
    src, dst = stage_net.chain_id("rollup-a"), stage_net.chain_id("rollup-b")
    stage_net.relay(sent)

    async def scenario(ctx):
        await Scanner(ctx, src, lambda _dst: None).scan_range(sent.block, ctx.links[src].head)
        ctx.queue.mark_stage([sent.id], sent_time=time.time() - 3600)  # its block is an hour old
        msg = QueuedMessage.from_row(ctx.queue.get(sent.id))
        await Delivery(ctx, dst, Settlement(ctx), max_batch=10).deliver(Batch(src, dst, (msg,)))
        return ctx.queue.get(sent.id), ctx.counters

    row, counters = stages(scenario)
    assert row["status"] == "delivered"
    assert counters.batches == 0 and counters.reverted_txs == 0
