"""ChainLink: a transaction the node drops (below the calldata gas floor) is detected at once and
the nonce is taken from the chain again, so later transactions are not stuck behind the gap."""

from __future__ import annotations

import pytest

from services.common.chain import TxLost
from services.common.rpc import hexint


def test_a_dropped_transaction_is_detected_and_the_next_one_mines(stage_net, stages):
    target = "0x" + "22" * 20

    async def scenario(ctx):
        link = ctx.links[stage_net.chain_id("rollup-a")]
        # 100 KB of non-zero calldata costs ~4M gas at the EIP-7623 floor: 1M is answered with a
        # hash, then dropped
        dropped = await link.send(target, b"\x01" * 100_000, 1_000_000)
        # anvil drops it, or (depending on its pool's timing) keeps it queued: lost either way
        with pytest.raises(TxLost, match="dropped|never be mined"):
            await link.receipt(dropped, timeout=5)
        ok = await link.send(target, b"", 30_000)
        receipt = await link.receipt(ok, timeout=5)
        return dropped, receipt

    dropped, receipt = stages(scenario)
    assert receipt is not None and hexint(receipt["status"]) == 1
    assert stage_net.w3["rollup-a"].eth.get_transaction_receipt(receipt["transactionHash"]).status == 1


def test_a_transaction_behind_a_nonce_gap_is_detected(stage_net, stages):
    target = "0x" + "33" * 20

    async def scenario(ctx):
        link = ctx.links[stage_net.chain_id("hub")]
        await link.send(target, b"\x01" * 100_000, 1_000_000)  # dropped: leaves a gap
        stuck = await link.send(target, b"", 30_000)  # the local nonce moved on: queued forever
        # anvil keeps it queued behind the gap (usually) or evicts it: lost either way
        with pytest.raises(TxLost, match="dropped|never be mined"):
            await link.receipt(stuck, timeout=5)
        filler = await link.send(target, b"", 30_000)  # takes the gap's nonce from the chain
        return await link.receipt(filler, timeout=5)

    receipt = stages(scenario)
    assert receipt is not None and hexint(receipt["status"]) == 1


def test_a_receipt_is_looked_up_once_its_block_has_arrived(stage_net, stages):
    """With instant mining the first look waits for the next head: one eth_getTransactionReceipt a
    transaction, and no liveness probes (eth_getTransactionByHash) for one that is simply mining."""
    target = "0x" + "44" * 20

    async def scenario(ctx):
        link = ctx.links[stage_net.chain_id("rollup-b")]
        calls: list[str] = []
        real_call = link.rpc.call

        async def counted(method, params=(), timeout=None):
            calls.append(method)
            return await real_call(method, params, timeout)

        link.rpc.call = counted
        receipts = []
        for _ in range(10):
            receipts.append(await link.receipt(await link.send(target, b"", 30_000), timeout=5))
        return receipts, calls

    receipts, calls = stages(scenario)
    assert all(r is not None and hexint(r["status"]) == 1 for r in receipts)
    assert calls.count("eth_getTransactionReceipt") <= 11, calls  # one each (a head may lag once)
    assert "eth_getTransactionByHash" not in calls, calls


def test_an_account_out_of_gas_money_is_named_with_its_chain_until_funded(stage_net, stages):
    """Seen: a relayer without ETH on a destination recorded "Insufficient funds for gas * price +
    value" in the trace, naming neither its account nor the chain, and its /health said "ok"."""
    from services.common.chain import OutOfFunds

    target = "0x" + "44" * 20
    w3 = stage_net.w3["rollup-b"]
    relayer = stage_net.manifest.keys.relayer.address

    async def scenario(ctx):
        link = ctx.links[stage_net.chain_id("rollup-b")]
        balance = w3.eth.get_balance(relayer)
        w3.provider.make_request("anvil_setBalance", [relayer, "0x0"])
        try:
            with pytest.raises(OutOfFunds) as refused:
                await link.send(target, b"", 30_000)
            remembered = link.out_of_funds
        finally:
            w3.provider.make_request("anvil_setBalance", [relayer, hex(balance)])
        ok = await link.receipt(await link.send(target, b"", 30_000), timeout=5)
        return str(refused.value), remembered, link.out_of_funds, ok

    message, remembered, after, receipt = stages(scenario)
    assert relayer in message and "rollup-b" in message and "balance 0 wei" in message, message
    assert remembered and relayer in remembered
    assert after is None and receipt is not None and hexint(receipt["status"]) == 1
