"""Equivocation watcher: feeds are read, conflicts by one key go to the hub, others are ignored."""

from __future__ import annotations

from eth_account import Account

from services.protocol import Attestation, sign_attestation
from services.relayer.equivocation import EquivocationWatcher
from services.relayer.settlement import Settlement


def att_doc(att: Attestation, key: str, instance_id: str) -> dict:
    return {
        "chain_id": att.chain_id,
        "block_number": att.block_number,
        "block_hash": "0x" + att.block_hash.hex(),
        "state_root": "0x" + att.state_root.hex(),
        "signature": "0x" + sign_attestation(att, key, instance_id).hex(),
    }


def test_feeds_are_recorded_without_false_conflicts(stage_net, stages):
    stage_net.send("rollup-a", "rollup-b", b"signed")

    async def scenario(ctx):
        w = EquivocationWatcher(ctx, Settlement(ctx))
        for url in ctx.guardians.urls:
            await w.pull_feed(url)
        return [ctx.queue.feed_cursor(u) for u in ctx.guardians.urls], ctx.queue.slashes()

    cursors, slashes = stages(scenario)
    assert all(c > 0 for c in cursors) and slashes == []


def test_conflicting_signatures_of_a_non_guardian_are_rejected_on_chain(stage_net, stages):
    outsider = Account.create()
    key = outsider.key.hex()
    a = Attestation(stage_net.chain_id("rollup-a"), 3, b"\x01" * 32, b"\x02" * 32)
    b = Attestation(a.chain_id, 3, b"\x01" * 32, b"\x03" * 32)
    other = Account.create().key.hex()

    async def scenario(ctx):
        w = EquivocationWatcher(ctx, Settlement(ctx))
        await w.slash(att_doc(a, key, ctx.instance_id), att_doc(b, other, ctx.instance_id))  # two signers: no evidence
        none = ctx.queue.slash_record(outsider.address)
        await w.slash(att_doc(a, key, ctx.instance_id), att_doc(b, key, ctx.instance_id))
        return none, ctx.queue.slash_record(outsider.address)

    none, rec = stages(scenario)
    assert none is None
    assert rec["status"] == "rejected" and rec["tx"] and rec["error"] and not rec["error"].startswith("0x")
