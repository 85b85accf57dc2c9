"""Optimistic delivery: fresh batches go out without a batch simulation, with a gas limit from a
model that must cover them; one that reverts on chain anyway falls back to simulation."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from web3.logs import DISCARD

from services.protocol.erc7930 import encode_evm
from services.protocol.messages import request_relay
from services.relayer import optimistic
from services.relayer.backoff import RetryCap
from services.relayer.delivery import Delivery
from services.relayer.model import Batch, QueuedMessage
from services.relayer.scanner import Scanner
from services.relayer.settlement import Settlement


async def ingest(ctx, src: int) -> None:
    await Scanner(ctx, src, lambda _d: None).scan_range(0, ctx.links[src].head)


def row_batch(ctx, src: int, dst: int, ids: list[str]) -> Batch:
    return Batch(src, dst, tuple(QueuedMessage.from_row(ctx.queue.get(i)) for i in ids))


def send(net, src: str, dst: str, recipient: str, payload: bytes, attributes=(), account: int = 0) -> str:
    """sendMessage with attributes (stage_net.send has none); returns the message id."""
    gw = net.contract(src, "MetalayerGateway")
    fn = gw.functions.sendMessage(encode_evm(net.chain_id(dst), recipient), payload, list(attributes))
    tx = fn.transact({"from": net.manifest.accounts[account].address, "gas": 15_000_000})
    receipt = net.w3[src].eth.wait_for_transaction_receipt(tx, timeout=30)
    assert receipt.status == 1
    return (
        "0x" + bytes(gw.events.MessageCommitted().process_receipt(receipt, errors=DISCARD)[0]["args"]["sendId"]).hex()
    )


def deliveries(net, dst: str, message_id: str) -> int:
    """MessageDelivered events of `message_id` on `dst`: exactly-once is 1."""
    gw = net.contract(dst, "MetalayerGateway")
    return len(gw.events.MessageDelivered().get_logs(from_block=0, argument_filters={"messageId": message_id}))


def message(payload: bytes = b"", quarantined: bool = False, attempts: int = 0) -> QueuedMessage:
    return QueuedMessage(
        "0x" + "ab" * 32, 1, 2, 3, "0x" + "11" * 20, "0x" + "22" * 20, payload, 1, attempts, quarantined=quarantined
    )


def test_only_fresh_batches_whose_recipients_all_passed_go_out_unsimulated():
    fresh = Batch(1, 2, (message(),))
    assert optimistic.eligible(fresh, {})
    assert not optimistic.eligible(fresh, {"0x" + "cd" * 32: "Refused(42)"})  # a neighbour was rejected
    assert not optimistic.eligible(Batch(1, 2, (message(attempts=1),)), {})  # a retry (e.g. it reverted)
    assert not optimistic.eligible(Batch(1, 2, (message(quarantined=True),)), {})


def test_the_model_counts_signatures_proofs_payloads_and_recipients():
    proof = [b"\x01" * 500, b"\x02" * 300]
    base = optimistic.batch_gas(b"\x01" * 1000, 2, proof, [100_000])
    assert optimistic.batch_gas(b"\x01" * 1000, 3, proof, [100_000]) == base + optimistic.PER_SIGNATURE
    assert optimistic.batch_gas(b"\x01" * 2000, 2, proof, [100_000]) > base  # calldata
    assert optimistic.batch_gas(b"\x01" * 1000, 2, proof, [3_000_000]) > base  # the 1/64 kept back
    # a simulated gasUsed is net of refunds (at most a fifth): 5/4 of it, grossed up for 63/64
    assert optimistic.recipient_reserve(message(), 80_000) >= 100_000 * 64 // 63
    assert optimistic.recipient_reserve(dataclasses.replace(message(), gas_limit=2_000_000), 0) > 2_000_000
    one = optimistic.message_gas(message(), 50_000, proof)
    assert one >= 50_000 + optimistic.PER_MESSAGE + optimistic.PER_PROOF_BYTE * 800
    big = optimistic.message_gas(message(b"\xff" * 256 * 1024), 50_000, proof)
    assert big - one > 2 * (8192**2 // 512)  # the payload's memory in both of the gateway's frames


def test_fresh_batches_go_out_unsimulated_and_the_model_covers_their_gas(stage_net, stages):
    net = stage_net
    gateway = net.manifest.address("MetalayerGateway")
    counter = net.manifest.address("CrossChainCounter")
    heavy = net.deploy("rollup-a", "HeavyRecipient", gateway, 1_500_000)
    asker = net.deploy("rollup-a", "BehaviourRecipient")
    net.transact("rollup-a", asker.functions.setMode(4, 1_500_000))
    big = (1).to_bytes(32, "big") + b"\xff" * (64 * 1024 - 32)
    batches = [
        [send(net, "rollup-b", "rollup-a", counter, b"%d" % i, account=i % 9) for i in range(20)],
        [send(net, "rollup-b", "rollup-a", heavy.address, b"heavy", account=i) for i in range(2)]
        + [send(net, "rollup-b", "rollup-a", asker.address, b"2M", (request_relay(2_000_000),))],
        [send(net, "rollup-b", "rollup-a", counter, big, account=i) for i in range(2)],
    ]
    src, dst = net.chain_id("rollup-b"), net.chain_id("rollup-a")

    async def scenario(ctx):
        await ingest(ctx, src)
        delivery = Delivery(ctx, dst, Settlement(ctx), 20)
        for ids in batches:
            await delivery.deliver(row_batch(ctx, src, dst, ids))
        ids = [i for b in batches for i in b]
        return [ctx.queue.get(i) for i in ids], [ctx.queue.attempts(i) for i in ids], ctx.counters

    rows, attempts, counters = stages(scenario)
    assert all(r["status"] == "delivered" and r["attempts"] == 1 for r in rows)
    assert counters.batches == counters.optimistic_batches == 3 and counters.optimistic_reverts == 0
    assert all(a[0]["gas_limit"] > a[0]["gas_used"] for a in attempts)
    assert heavy.functions.received().call() == 2 and asker.functions.lastGas().call() >= 2_000_000 - 1_000


def test_an_optimistic_batch_that_reverts_on_chain_falls_back_to_simulation(stage_net, stages):
    net = stage_net
    shifty = net.deploy("hub", "BehaviourRecipient")  # accepts now; burns all its gas once simulated
    counter = net.manifest.address("CrossChainCounter")
    good = [net.send("rollup-a", "hub", b"good %d" % i, account=1 + i) for i in range(3)]
    bad = send(net, "rollup-a", "hub", shifty.address, b"shifty", account=5)
    ids = [good[0].id, bad] + [g.id for g in good[1:]]
    src, dst = net.chain_id("rollup-a"), net.chain_id("hub")
    assert all(g.recipient.lower() == counter.lower() for g in good)

    async def scenario(ctx):
        await ingest(ctx, src)
        ctx.retry_cap = RetryCap(max_attempts=2, max_age=0)
        delivery = Delivery(ctx, dst, Settlement(ctx), 10)
        simulate = delivery.simulator.recipients

        async def then_change(msgs: list[QueuedMessage]) -> Any:
            result = await simulate(msgs)
            if shifty.functions.mode().call() == 0:  # between simulation and execution
                net.transact("hub", shifty.functions.setMode(3, 0))
            return result

        delivery.simulator.recipients = then_change
        await delivery.deliver(row_batch(ctx, src, dst, ids))
        reverted = {i: ctx.queue.get(i) for i in ids}
        counted = ctx.counters.optimistic_reverts
        await delivery.deliver(row_batch(ctx, src, dst, [g.id for g in good]))  # the others, again at once
        await delivery.deliver(row_batch(ctx, src, dst, [bad]))  # alone (quarantined, starved)
        return reverted, counted, {i: ctx.queue.get(i) for i in ids}, ctx.queue.attempts(good[0].id)

    reverted, counted, rows, attempts = stages(scenario)
    # the optimistic transaction reverted with InsufficientGas naming the shifty message: its own
    # failure (quarantined, a whole block's gas next); the others are nobody's failure, retried at once
    assert counted == 1
    named = reverted.pop(bad)
    assert named["status"] == "retrying" and named["failures"] == 1 and named["starved"] == 1
    assert "InsufficientGas" in named["revert_reason"]
    assert all(r["status"] == "pending" and r["failures"] == 0 and r["attempts"] == 1 for r in reverted.values())
    assert all(r["next_attempt"] <= time.time() for r in reverted.values())
    # the retry of the others: delivered once; alone, the shifty one's last attempt (cap of 2) goes
    # on chain with a whole block's gas, where it burns it all: MessageFailed, empty reason
    assert all(rows[g.id]["status"] == "delivered" and rows[g.id]["failures"] == 0 for g in good)
    assert [a["outcome"] for a in attempts] == ["reverted", "delivered"]
    assert rows[bad]["status"] == "failed" and rows[bad]["failures"] == 2
    assert rows[bad]["revert_reason"] == "reverted without a reason" and rows[bad]["delivery_tx"]
    assert all(deliveries(net, "hub", g.id) == 1 for g in good) and deliveries(net, "hub", bad) == 0
    assert shifty.functions.calls().call() == 0
