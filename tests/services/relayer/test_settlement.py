"""Settlement: receipts -> statuses (delivered / recipient failed), and crash recovery."""

from __future__ import annotations

import time

from web3 import Web3

from services.relayer.backoff import RetryCap
from services.relayer.delivery import Delivery
from services.relayer.model import Batch, QueuedMessage
from services.relayer.scanner import Scanner
from services.relayer.scheduling import make_batches
from services.relayer.settlement import Settlement


def test_a_reverting_recipient_is_left_out_by_simulation_and_the_rest_delivered(stage_net, stages):
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
        return before, ctx.queue.get(sent.id), ctx.queue.get(good.id), ctx.counters, ctx.queue.attempts(sent.id)

    before, bad, ok, counters, attempts = stages(scenario)
    assert ok["status"] == "delivered" and ok["batch_size"] == 1
    assert bad["status"] == "retrying" and bad["revert_reason"] == "Refused(42)" and bad["quarantined"] == 1
    assert "Refused(42)" in bad["last_error"] and bad["next_attempt"] >= before + 0.5
    assert [(a["outcome"], a["reason"], a["tx"]) for a in attempts] == [("rejected", "Refused(42)", None)]
    assert counters.failed_deliveries == 1 and counters.delivered == 1 and counters.batches == 1
    assert toggle.functions.received().call() == 0


def test_a_failure_event_on_chain_is_recorded_against_the_attempt(stage_net, stages):
    toggle = stage_net.deploy("rollup-a", "ToggleRecipient", stage_net.manifest.address("MetalayerGateway"))
    stage_net.transact("rollup-a", toggle.functions.setFailing(True))
    sent = stage_net.send("hub", "rollup-a", b"refused on chain", recipient=toggle.address)
    src, dst = stage_net.chain_id("hub"), stage_net.chain_id("rollup-a")
    # someone else delivers it (and it fails on chain): the relayer settles from that receipt
    tx = Web3.to_hex(stage_net.relay(sent)["transactionHash"])
    receipt = stage_net.w3["rollup-a"].provider.make_request("eth_getTransactionReceipt", [tx])["result"]

    async def scenario(ctx):
        await Scanner(ctx, src, lambda _d: None).scan_range(0, ctx.links[src].head)
        msg = QueuedMessage.from_row(ctx.queue.get(sent.id))
        ctx.queue.mark_submitted([msg.id], tx, sent.block, 1.0, 1.1, 1.2, started_at=0.9, gas_limit=1)
        await Settlement(ctx).settle(Batch(src, dst, (msg,)), receipt)
        return ctx.queue.get(sent.id), ctx.queue.attempts(sent.id)

    row, attempts = stages(scenario)
    assert row["status"] == "retrying" and row["revert_reason"] == "Refused(42)" and row["delivery_tx"] == tx
    assert [(a["outcome"], a["reason"], a["tx"]) for a in attempts] == [("failed", "Refused(42)", tx)]


def test_the_retry_cap_ends_in_failed_and_nothing_more_is_sent(stage_net, stages):
    """Simulation alone never makes a failure final: the last attempt is made on chain, whose
    MessageFailed is the verdict; nothing is sent after it."""
    toggle = stage_net.deploy("rollup-b", "ToggleRecipient", stage_net.manifest.address("MetalayerGateway"))
    stage_net.transact("rollup-b", toggle.functions.setFailing(True))
    sent = stage_net.send("hub", "rollup-b", b"poison", recipient=toggle.address)
    src, dst = stage_net.chain_id("hub"), stage_net.chain_id("rollup-b")

    async def scenario(ctx):
        ctx.retry_cap = RetryCap(max_attempts=2, max_age=0)
        await Scanner(ctx, src, lambda _d: None).scan_range(0, ctx.links[src].head)
        delivery = Delivery(ctx, dst, Settlement(ctx), 10)
        statuses = []
        for _ in range(2):
            await delivery.deliver(Batch(src, dst, (QueuedMessage.from_row(ctx.queue.get(sent.id)),)))
            statuses.append(ctx.queue.get(sent.id)["status"])
        ready = ctx.queue.ready(dst, time.time() + 3600, 100)
        return statuses, ready, ctx.queue.get(sent.id), ctx.counters, ctx.queue.attempts(sent.id)

    statuses, ready, row, counters, attempts = stages(scenario)
    assert statuses == ["retrying", "failed"]
    assert sent.id not in {r["id"] for r in ready}
    assert row["revert_reason"] == "Refused(42)" and row["failures"] == 2
    assert [(a["outcome"], a["reason"], bool(a["tx"])) for a in attempts] == [
        ("rejected", "Refused(42)", False),
        ("failed", "Refused(42)", True),  # the final verdict comes from the chain
    ]
    assert counters.batches == 1 and counters.finally_failed == 1


def test_a_recipient_that_fails_only_in_simulation_is_delivered_by_its_last_attempt(stage_net, stages):
    """A recipient that accepts only calls whose transaction did not start at its caller
    (tx.origin != msg.sender): in the recipients' simulation, sent from the gateway's address,
    it reverts; on chain (tx.origin is the relayer) it accepts. Rejected by simulation at every
    attempt, it ended failed without a transaction ever being sent, a deliverable message lost."""
    from eth_utils import keccak

    selector = keccak(text="receiveMessage(bytes32,bytes,bytes)")[:4]
    # ORIGIN CALLER EQ PUSH1 0x16 JUMPI PUSH4 selector PUSH1 0xe0 SHL PUSH1 0 MSTORE PUSH1 0x20 PUSH1 0 RETURN
    # JUMPDEST PUSH1 0 PUSH1 0 REVERT
    runtime = bytes.fromhex("3233146016576" + "3") + selector + bytes.fromhex("60e01b60005260206000f35b60006000fd")
    init = bytes([0x60, len(runtime), 0x80, 0x60, 0x0B, 0x60, 0x00, 0x39, 0x60, 0x00, 0xF3]) + runtime
    w3 = stage_net.w3["rollup-b"]
    deploy = w3.eth.send_transaction({"from": stage_net.manifest.accounts[9].address, "data": init, "gas": 200_000})
    gated = w3.eth.wait_for_transaction_receipt(deploy, timeout=30).contractAddress
    sent = stage_net.send("hub", "rollup-b", b"on chain only", recipient=gated, account=2)
    src, dst = stage_net.chain_id("hub"), stage_net.chain_id("rollup-b")

    async def scenario(ctx):
        ctx.retry_cap = RetryCap(max_attempts=2, max_age=0)
        await Scanner(ctx, src, lambda _d: None).scan_range(sent.block, ctx.links[src].head)
        delivery = Delivery(ctx, dst, Settlement(ctx), 10)
        for _ in range(2):
            await delivery.deliver(Batch(src, dst, (QueuedMessage.from_row(ctx.queue.get(sent.id)),)))
        return ctx.queue.get(sent.id), ctx.queue.attempts(sent.id)

    row, attempts = stages(scenario)
    assert [a["outcome"] for a in attempts] == ["rejected", "delivered"]
    assert row["status"] == "delivered" and stage_net.is_delivered_on("rollup-b", "hub", sent.nonce)


def test_recovery_resolves_submitted_messages_from_the_chain(stage_net, stages):
    mined = stage_net.send("hub", "rollup-b", b"mined before the crash")
    lost = stage_net.send("hub", "rollup-b", b"never broadcast", account=1)
    src, dst = stage_net.chain_id("hub"), stage_net.chain_id("rollup-b")

    async def scenario(ctx):
        await Scanner(ctx, src, lambda _d: None).scan_range(0, ctx.links[src].head)
        settlement = Settlement(ctx)
        await Delivery(ctx, dst, settlement, 10).deliver(
            Batch(src, dst, (QueuedMessage.from_row(ctx.queue.get(mined.id)),))
        )
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
        data = ctx.gw_abi.encode(
            "attestAndDeliverBatch",
            (src, msg.sent_block, b"\x01" * 32, b"\x02" * 32),
            [],
            [],
            [msg.gateway_tuple()],
            [[]],
        )
        tx = await link.send(ctx.gateway, data, 2_000_000)
        receipt = await link.receipt(tx)
        await Settlement(ctx).settle(Batch(src, dst, (msg,)), receipt)
        return ctx.queue.get(sent.id), ctx.counters.reverted_txs

    row, reverted = stages(scenario)
    assert reverted == 1
    assert row["status"] == "pending" and row["last_error"].startswith("delivery transaction reverted: ")
    assert "0x" not in row["last_error"].split(": ", 1)[1][:2]  # a decoded error name, not raw hex


def test_a_recipient_starved_on_chain_is_named_then_delivered_alone_with_the_block_s_gas(stage_net, stages):
    """A recipient that needs 20M gas left passes its simulation (a whole block's gas) but makes
    the sized delivery revert as a whole with InsufficientGas naming it: that is its own failure,
    the others go again at once, and alone with the block's gas it is delivered, once."""
    gated = stage_net.deploy("rollup-b", "GasGatedRecipient", 20_000_000)
    good = [stage_net.send("hub", "rollup-b", b"fine", account=1 + i) for i in range(2)]
    starved = stage_net.send("hub", "rollup-b", b"needs 20M", recipient=gated.address)
    src, dst = stage_net.chain_id("hub"), stage_net.chain_id("rollup-b")
    ids = [good[0].id, starved.id, good[1].id]

    async def scenario(ctx):
        await Scanner(ctx, src, lambda _d: None).scan_range(0, ctx.links[src].head)
        delivery = Delivery(ctx, dst, Settlement(ctx), 10)
        await delivery.deliver(Batch(src, dst, tuple(QueuedMessage.from_row(ctx.queue.get(i)) for i in ids)))
        after_revert = {i: dict(ctx.queue.get(i)) for i in ids}
        ready = [QueuedMessage.from_row(r) for r in ctx.queue.ready(dst, time.time() + 3600, 100)]
        for batch in make_batches(ready, 10):
            await delivery.deliver(batch)
        return after_revert, {i: ctx.queue.get(i) for i in ids}, ctx.queue.attempts(starved.id), ctx.counters

    after_revert, rows, attempts, counters = stages(scenario)
    named = after_revert[starved.id]
    assert named["status"] == "retrying" and named["starved"] == 1 and named["quarantined"] == 1
    assert named["failures"] == 1 and named["revert_reason"].startswith("InsufficientGas(")
    for g in good:  # not their failure: back in line at once, still batched with others
        r = after_revert[g.id]
        assert r["status"] == "pending" and r["failures"] == 0 and r["quarantined"] == 0
        assert r["next_attempt"] <= time.time()
    assert all(r["status"] == "delivered" for r in rows.values())
    assert [a["outcome"] for a in attempts] == ["failed", "delivered"]
    assert attempts[1]["gas_limit"] >= 20_000_000 and attempts[1]["batch_size"] == 1
    assert counters.reverted_txs == 1 and gated.functions.received().call() == 1
