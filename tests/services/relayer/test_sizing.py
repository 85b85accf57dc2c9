"""Batches sized by calldata and gas against the destination block (EIP-7623 floor included)."""

from __future__ import annotations

import os

from services.common.rpc import hexint
from services.relayer.delivery import Delivery
from services.relayer.model import Batch, QueuedMessage
from services.relayer.scanner import Scanner
from services.relayer.settlement import Settlement
from services.relayer.sizing import CalldataGas, fit_block, fit_calldata


def qm(i: int, size: int = 10) -> QueuedMessage:
    return QueuedMessage(f"0x{i:064x}", 1, 2, i, "0x" + "11" * 20, "0x" + "22" * 20, b"\x01" * size, 1)


def test_calldata_gas_counts_tokens():
    assert CalldataGas.of(b"") == CalldataGas(21_000, 21_000)
    gas = CalldataGas.of(b"\x00" * 10 + b"\x01" * 10)  # 10 + 40 tokens
    assert gas == CalldataGas(21_000 + 4 * 50, 21_000 + 10 * 50)


def test_fit_calldata_halves_until_the_floor_fits():
    msgs = [qm(i, 100_000) for i in range(8)]

    def encode(ms):
        return b"".join(m.payload for m in ms)

    need = {m.id: 50_000 for m in msgs}
    keep, cut = fit_calldata(msgs, encode, need, 30_000_000)
    # 8 x 100 KB non-zero = 32M gas at the floor: more than a block; 4 x = 16M fits
    assert [m.nonce for m in keep] == [0, 1, 2, 3] and [m.nonce for m in cut] == [4, 5, 6, 7]
    assert fit_calldata(msgs[:1], encode, need, 1_000_000) == (msgs[:1], [])  # one message is never cut


def test_fit_block_adds_recipient_needs_within_the_block():
    msgs = [qm(i) for i in range(3)]
    need = {msgs[0].id: 1_000_000, msgs[1].id: 2_000_000, msgs[2].id: 9_000_000}
    keep, gas, cut = fit_block(msgs, 500_000, need, 30_000, 10_000_000)
    assert [m.nonce for m in keep] == [0, 1] and [m.nonce for m in cut] == [2] and gas == 3_500_000
    _, gas, _ = fit_block(msgs[:1], 10_000, {msgs[0].id: 0}, 90_000, 10_000_000)
    assert gas == 90_000  # never below the calldata floor


def test_big_payloads_are_split_across_transactions_and_all_delivered(stage_net, stages):
    sink = stage_net.deploy("rollup-a", "HeavyRecipient", stage_net.manifest.address("MetalayerGateway"), 0)
    big = [
        stage_net.send("rollup-b", "rollup-a", os.urandom(100_000), recipient=sink.address, account=i) for i in range(7)
    ]
    small = [stage_net.send("rollup-b", "rollup-a", b"small %d" % i, account=7 + i % 3) for i in range(4)]
    src, dst = stage_net.chain_id("rollup-b"), stage_net.chain_id("rollup-a")

    async def scenario(ctx):
        await Scanner(ctx, src, lambda _d: None).scan_range(0, ctx.links[src].head)
        delivery = Delivery(ctx, dst, Settlement(ctx), 20)
        ids = [s.id for s in big + small]
        rounds = 0
        while rounds < 5:
            pending = [i for i in ids if ctx.queue.get(i)["status"] != "delivered"]
            if not pending:
                break
            await delivery.deliver(Batch(src, dst, tuple(QueuedMessage.from_row(ctx.queue.get(i)) for i in pending)))
            rounds += 1
        return rounds, [ctx.queue.get(i) for i in ids], ctx.counters

    rounds, rows, counters = stages(scenario)
    assert {r["status"] for r in rows} == {"delivered"}
    assert rounds >= 2 and counters.deferred >= 1  # 700 KB of payload cannot go in one block
    w3 = stage_net.w3["rollup-a"]
    limit = w3.eth.get_block("latest").gasLimit
    for tx in {r["delivery_tx"] for r in rows}:
        t = w3.eth.get_transaction(tx)
        assert CalldataGas.of(bytes(t["input"])).floor <= t["gas"] <= limit
        assert hexint(hex(w3.eth.get_transaction_receipt(tx).status)) == 1
