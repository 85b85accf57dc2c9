"""A source block whose trie never matches its attested root (an anvil fault seen, rarely, around
state dumps) must not strand its messages: the relayer proves them at a later block, making one
when the source mines nothing by itself (instant mining)."""

from __future__ import annotations

import pytest

from services.relayer import delivery as delivery_mod
from services.relayer.delivery import Delivery
from services.relayer.model import Batch, QueuedMessage
from services.relayer.proving import ProofMismatch
from services.relayer.settlement import Settlement
from tests.services.relayer.test_optimistic import deliveries, ingest


def test_messages_of_a_block_that_cannot_be_proven_are_proven_at_a_later_block(stage_net, stages, monkeypatch):
    net = stage_net
    sent = net.send("rollup-b", "rollup-a", b"unprovable block", account=4)
    src, dst = net.chain_id("rollup-b"), net.chain_id("rollup-a")
    head_before = net.w3["rollup-b"].eth.block_number
    real = delivery_mod.consistent_proof
    asked: list[int] = []

    async def faulty_at_the_send_block(link, gateway, slots, block, state_root):
        asked.append(block)
        if block == sent.block:  # the fault: this block's proofs never match its root
            raise ProofMismatch(f"{link.name}: eth_getProof at block {block} keeps disagreeing")
        return await real(link, gateway, slots, block, state_root)

    monkeypatch.setattr(delivery_mod, "consistent_proof", faulty_at_the_send_block)
    monkeypatch.setattr(delivery_mod, "proof_matches", lambda proof, root: False)  # take the checked path

    async def scenario(ctx):
        await ingest(ctx, src)
        batch = Batch(src, dst, (QueuedMessage.from_row(ctx.queue.get(sent.id)),))
        await Delivery(ctx, dst, Settlement(ctx), 10).deliver(batch)
        return ctx.queue.get(sent.id), ctx.queue.attempts(sent.id)

    row, attempts = stages(scenario)
    assert asked[0] == sent.block and asked[-1] > sent.block  # proven at a later block
    assert net.w3["rollup-b"].eth.block_number > head_before  # which the relayer had to make
    assert row["status"] == "delivered" and row["attempts"] == 1 and len(attempts) == 1
    assert deliveries(net, "rollup-a", sent.id) == 1


def test_a_block_that_cannot_be_proven_and_no_later_one_either_is_an_error_not_a_delivery(
    stage_net, stages, monkeypatch
):
    net = stage_net
    sent = net.send("rollup-b", "rollup-a", b"never provable", account=4)
    src, dst = net.chain_id("rollup-b"), net.chain_id("rollup-a")

    async def always_faulty(link, gateway, slots, block, state_root):
        raise ProofMismatch(f"{link.name}: eth_getProof at block {block} keeps disagreeing")

    monkeypatch.setattr(delivery_mod, "consistent_proof", always_faulty)
    monkeypatch.setattr(delivery_mod, "proof_matches", lambda proof, root: False)

    async def scenario(ctx):
        await ingest(ctx, src)
        batch = Batch(src, dst, (QueuedMessage.from_row(ctx.queue.get(sent.id)),))
        with pytest.raises(ProofMismatch):
            await Delivery(ctx, dst, Settlement(ctx), 10).deliver(batch)
        return ctx.queue.get(sent.id)

    row = stages(scenario)
    assert row["status"] == "pending"  # left for the retry policy, nothing submitted
    assert deliveries(net, "rollup-a", sent.id) == 0
