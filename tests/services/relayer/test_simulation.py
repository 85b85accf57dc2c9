"""Gas from simulation, offenders left out (simulation and bisection), heavy recipients delivered."""

from __future__ import annotations

import dataclasses

from services.relayer.delivery import Delivery
from services.relayer.model import Batch, QueuedMessage
from services.relayer.scanner import Scanner
from services.relayer.settlement import Settlement
from services.relayer.simulation import Simulator, WouldRevert, isolate, recipient_gas


async def ingest(ctx, src: int) -> None:
    await Scanner(ctx, src, lambda _d: None).scan_range(0, ctx.links[src].head)


def row_batch(ctx, src: int, dst: int, ids: list[str]) -> Batch:
    return Batch(src, dst, tuple(QueuedMessage.from_row(ctx.queue.get(i)) for i in ids))


def test_a_recipient_needing_1_5m_gas_is_delivered_with_what_it_needs(stage_net, stages):
    gateway = stage_net.manifest.address("MetalayerGateway")
    heavy = stage_net.deploy("rollup-b", "HeavyRecipient", gateway, 1_500_000)
    sent = stage_net.send("rollup-a", "rollup-b", b"heavy", recipient=heavy.address)
    light = stage_net.send("rollup-a", "rollup-b", b"light", account=2)
    src, dst = stage_net.chain_id("rollup-a"), stage_net.chain_id("rollup-b")

    async def scenario(ctx):
        await ingest(ctx, src)
        sims = await Simulator(ctx).recipients([QueuedMessage.from_row(ctx.queue.get(sent.id))])
        sim = sims[sent.id]
        await Delivery(ctx, dst, Settlement(ctx), 10).deliver(row_batch(ctx, src, dst, [sent.id, light.id]))
        return sim, ctx.queue.get(sent.id), ctx.queue.get(light.id), ctx.queue.attempts(sent.id)

    sim, row, other, attempts = stages(scenario)
    assert sim.ok and sim.gas > 1_500_000
    assert (
        row["status"] == "delivered" and other["status"] == "delivered" and row["delivery_tx"] == other["delivery_tx"]
    )
    assert heavy.functions.received().call() == 1 and heavy.functions.lastGasGiven().call() >= 1_500_000
    assert attempts[0]["gas_limit"] > 1_500_000 and attempts[0]["outcome"] == "delivered"


def test_a_gas_burner_in_a_batch_never_holds_back_the_others(stage_net, stages):
    burner = stage_net.deploy("hub", "GasBurnerRecipient", stage_net.manifest.address("MetalayerGateway"))
    poison = stage_net.send("rollup-a", "hub", b"burn", recipient=burner.address)
    good = [stage_net.send("rollup-a", "hub", b"good %d" % i, account=1 + i % 5) for i in range(6)]
    src, dst = stage_net.chain_id("rollup-a"), stage_net.chain_id("hub")

    async def scenario(ctx):
        await ingest(ctx, src)
        ids = [good[0].id, good[1].id, poison.id] + [g.id for g in good[2:]]
        await Delivery(ctx, dst, Settlement(ctx), 20).deliver(row_batch(ctx, src, dst, ids))
        return {g.id: ctx.queue.get(g.id) for g in good}, ctx.queue.get(poison.id), ctx.counters

    goods, bad, counters = stages(scenario)
    assert {r["status"] for r in goods.values()} == {"delivered"}
    assert len({r["delivery_tx"] for r in goods.values()}) == 1 and counters.batches == 1
    assert bad["status"] == "retrying" and bad["quarantined"] == 1 and bad["revert_reason"]
    assert "oog" in bad["revert_reason"].lower() or "gas" in bad["revert_reason"].lower()  # out of gas
    assert burner.functions.received().call() == 0


def test_a_wrong_return_value_has_no_side_effect_and_is_delivered_once_after_the_fix(stage_net, stages):
    wrong = stage_net.deploy("rollup-a", "WrongReturnRecipient")
    sent = stage_net.send("rollup-b", "rollup-a", b"returns garbage", recipient=wrong.address)
    src, dst = stage_net.chain_id("rollup-b"), stage_net.chain_id("rollup-a")

    async def first(ctx):
        await ingest(ctx, src)
        await Delivery(ctx, dst, Settlement(ctx), 10).deliver(row_batch(ctx, src, dst, [sent.id]))
        return ctx.queue.get(sent.id)

    row = stages(first)
    assert row["status"] == "retrying" and row["revert_reason"] == "InvalidRecipientReturn()"
    assert wrong.functions.sideEffects().call() == 0
    stage_net.transact("rollup-a", wrong.functions.setFixed(True))

    async def after_fix(ctx):
        await ingest(ctx, src)
        ctx.queue.mark_failed(
            {sent.id: "InvalidRecipientReturn()"}, {sent.id: 0}, None, None, final={sent.id}, outcome="rejected"
        )
        status = ctx.queue.requeue(sent.id)
        await Delivery(ctx, dst, Settlement(ctx), 10).deliver(row_batch(ctx, src, dst, [sent.id]))
        return status, ctx.queue.get(sent.id)

    status, row = stages(after_fix)
    assert status == "pending" and row["status"] == "delivered"
    assert wrong.functions.sideEffects().call() == 1
    assert stage_net.is_delivered_on("rollup-a", "rollup-b", sent.nonce)


def test_bisection_finds_a_message_the_batch_transaction_cannot_deliver(stage_net, stages):
    sent = [stage_net.send("hub", "rollup-a", b"m%d" % i, account=i) for i in range(5)]
    src, dst = stage_net.chain_id("hub"), stage_net.chain_id("rollup-a")

    def tampered(ctx) -> list[QueuedMessage]:
        # a tampered copy of message 3: its id's commitment exists, but not for this content
        msgs = list(row_batch(ctx, src, dst, [s.id for s in sent]).messages)
        msgs[3] = dataclasses.replace(msgs[3], payload=b"tampered")
        return msgs

    async def scenario(ctx):
        await ingest(ctx, src)
        msgs = tampered(ctx)
        calls: list[int] = []

        async def simulate(ms):
            calls.append(len(ms))
            if any(m.payload == b"tampered" for m in ms):
                raise WouldRevert("execution reverted")
            return 100_000 * len(ms)

        iso = await isolate(msgs, simulate)
        delivery = Delivery(ctx, dst, Settlement(ctx), 10)
        # a fresh batch whose recipients all pass goes out unsimulated: the gateway's proof check
        # reverts it on chain, and nobody is blamed for that
        await delivery.deliver(Batch(src, dst, tuple(msgs)))
        after_revert = [ctx.queue.get(s.id) for s in sent]
        await delivery.deliver(Batch(src, dst, tuple(tampered(ctx))))  # the retry: simulated, bisected
        return iso, calls, after_revert, [ctx.queue.get(s.id) for s in sent], ctx.counters

    iso, calls, after_revert, rows, counters = stages(scenario)
    assert [m.id for m in iso.deliverable] == [s.id for i, s in enumerate(sent) if i != 3]
    assert iso.offenders == {sent[3].id: "execution reverted"} and iso.gas == 400_000 and not iso.deferred
    assert calls[0] == 5 and len(calls) <= 2 * 5  # bisection, not one estimate per subset
    assert counters.optimistic_batches == 1 and counters.optimistic_reverts == 1 and counters.reverted_txs == 1
    assert all(r["status"] == "pending" and r["attempts"] == 1 and r["failures"] == 0 for r in after_revert)
    # the real delivery: the tampered message is refused by the gateway's proof check, the rest delivered
    assert [r["status"] for i, r in enumerate(rows) if i != 3] == ["delivered"] * 4
    assert rows[3]["status"] == "retrying" and "InvalidStorageProof" in rows[3]["revert_reason"]
    assert rows[3]["failures"] == 1 and rows[3]["quarantined"] == 1
    assert all(stage_net.is_delivered_on("rollup-a", "hub", s.nonce) == (i != 3) for i, s in enumerate(sent))


def test_recipient_gas_covers_the_senders_request_and_the_63_64_rule():
    m = QueuedMessage("0x" + "00" * 32, 1, 2, 3, "0x" + "11" * 20, "0x" + "22" * 20, b"", 1, gas_limit=2_000_000)
    assert recipient_gas(m, 50_000) >= 2_000_000 * 64 // 63
    assert recipient_gas(dataclasses.replace(m, gas_limit=0), 630_000) >= 640_000
