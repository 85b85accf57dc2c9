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


def test_a_guardian_whose_store_was_replaced_is_read_from_the_start(stage_net, stages, tmp_path):
    """Seen: a guardian restarted with its store deleted numbers its signatures from 1 again; the
    relayer kept its feed cursor and never read what the new store signed below it, so a second
    root the guardian then signed for a height went unseen (no slash)."""
    import sys

    import httpx

    from tests.conftest import free_config
    from tests.services.conftest import ServiceProc

    port = free_config(3850).guardians.base_port
    url = f"http://127.0.0.1:{port}"
    a = stage_net.chain_id("rollup-a")
    head = stage_net.w3["rollup-a"].eth.block_number

    def guardian(db: str) -> ServiceProc:
        argv = [sys.executable, "-m", "services.guardian", "--index", "0", "--manifest"]
        argv += [str(stage_net.devnet.manifest_path), "--port", str(port), "--db", str(tmp_path / db)]
        return ServiceProc([*argv, "--allow-equivocation-for-tests"], tmp_path / f"{db}.log", f"{url}/health")

    async def pull(ctx):
        w = EquivocationWatcher(ctx, Settlement(ctx))
        await w.pull_feed(url)
        return ctx.queue.feed_cursor(url), ctx.queue.slash_record(stage_net.manifest.guardians.members[0].address)

    snapshots = {name: w3.provider.make_request("evm_snapshot", [])["result"] for name, w3 in stage_net.w3.items()}
    first = guardian("first.sqlite").start()
    try:
        for block in range(1, head + 1):  # many signatures: the cursor ends far above 1
            assert httpx.get(f"{url}/v1/attestations/{a}/{block}?wait=2", timeout=5).status_code == 200
        cursor, _ = stages(pull)
        first.stop()
        second = guardian("second.sqlite").start()  # the store lost: seqs start again at 1
        try:
            r = httpx.post(f"{url}/v1/test/equivocate/{a}/1?wait=2", timeout=5)
            assert r.status_code == 200, r.text
            _, slash = stages(pull)
        finally:
            second.stop()
    finally:
        first.stop()
        for name, snap in snapshots.items():  # the slash leaves the shared stage net as it was
            stage_net.w3[name].provider.make_request("evm_revert", [snap])
    assert cursor >= head
    assert slash is not None and slash["block"] == 1 and slash["chain_id"] == a, dict(slash or {})
