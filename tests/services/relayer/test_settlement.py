"""Settlement: receipts -> statuses (delivered / recipient failed), and crash recovery."""

from __future__ import annotations

import time

from services.relayer.delivery import Delivery
from services.relayer.model import Batch, QueuedMessage
from services.relayer.scanner import Scanner
from services.relayer.settlement import Settlement


def test_a_reverting_recipient_is_failed_with_its_decoded_reason(stage_net, stages):
    toggle = stage_net.deploy("hub", "ToggleRecipient", stage_net.manifest.address("MetalayerGateway"))
    stage_net.transact("hub", toggle.functions.setFailing(True))
    sent = stage_net.send("rollup-b", "hub", b"refuse", recipient=toggle.address)
    good = stage_net.send("rollup-b", "hub", b"fine", account=1)
    src, dst = stage_net.chain_id("rollup-b"), stage_net.chain_id("hub")

    async def scenario(ctx):
        await Scanner(ctx, src, lambda _d: None).scan_range(0, ctx.links[src].head)
        batch = Batch(src, dst, tuple(QueuedMessage.from_row(ctx.queue.get(i)) for i in (sent.id, good.id)))
        before = time.time()
        await Delivery(ctx, dst, Settlement(ctx), 10).deliver(batch)
        return before, ctx.queue.get(sent.id), ctx.queue.get(good.id), ctx.counters

    before, bad, ok, counters = stages(scenario)
    assert ok["status"] == "delivered"
    assert bad["status"] == "failed" and bad["revert_reason"] == "Refused(42)"
    assert "Refused(42)" in bad["last_error"] and bad["next_attempt"] >= before + 0.5
    assert counters.failed_deliveries == 1 and counters.delivered == 1
    assert toggle.functions.received().call() == 0


def test_recovery_resolves_submitted_messages_from_the_chain(stage_net, stages):
    mined = stage_net.send("hub", "rollup-b", b"mined before the crash")
    lost = stage_net.send("hub", "rollup-b", b"never broadcast", account=1)
    src, dst = stage_net.chain_id("hub"), stage_net.chain_id("rollup-b")

    async def scenario(ctx):
        await Scanner(ctx, src, lambda _d: None).scan_range(0, ctx.links[src].head)
        settlement = Settlement(ctx)
        await Delivery(ctx, dst, settlement, 10).deliver(Batch(src, dst, (QueuedMessage.from_row(ctx.queue.get(mined.id)),)))
        tx = ctx.queue.get(mined.id)["delivery_tx"]
        # state as a kill -9 leaves it: both submitted, one tx mined, one never reached the node
        ctx.queue.mark_submitted([mined.id], tx, mined.block, 1.0, 1.0, 1.0)
        ctx.queue.mark_stage([mined.id], status="submitted")
        ctx.queue.mark_submitted([lost.id], "0x" + "ee" * 32, lost.block, 1.0, 1.0, 1.0)
        await settlement.recover_submitted()
        return ctx.queue.get(mined.id), ctx.queue.get(lost.id), tx

    m, lost_row, tx = stages(scenario)
    assert m["status"] == "delivered" and m["delivery_tx"] == tx
    assert lost_row["status"] == "pending" and "restarted" in lost_row["last_error"]
    assert not stage_net.is_delivered_on("rollup-b", "hub", lost.nonce)


def test_revert_reason_decodes_a_reverted_transaction(stage_net, stages):
    """A delivery transaction that reverts as a whole is put back with the decoded reason."""
    sent = stage_net.send("rollup-a", "rollup-b", b"bad proof")
    src, dst = stage_net.chain_id("rollup-a"), stage_net.chain_id("rollup-b")

    async def scenario(ctx):
        await Scanner(ctx, src, lambda _d: None).scan_range(0, ctx.links[src].head)
        msg = QueuedMessage.from_row(ctx.queue.get(sent.id))
        link = ctx.links[dst]
        # an attestation nobody signed: the registry refuses it
        data = ctx.gw_abi.encode("attestAndDeliverBatch", (src, msg.sent_block, b"\x01" * 32, b"\x02" * 32), [],
                                 [], [msg.gateway_tuple()], [[]])
        tx = await link.send(ctx.gateway, data, 2_000_000)
        receipt = await link.receipt(tx)
        await Settlement(ctx).settle(Batch(src, dst, (msg,)), receipt)
        return ctx.queue.get(sent.id), ctx.counters.reverted_txs

    row, reverted = stages(scenario)
    assert reverted == 1
    assert row["status"] == "pending" and row["last_error"].startswith("delivery transaction reverted: ")
    assert "0x" not in row["last_error"].split(": ", 1)[1][:2]  # a decoded error name, not raw hex
