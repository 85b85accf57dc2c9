"""Watchtower stage: stored roots checked against the source; flags, distrust, evidence for the slash."""

from __future__ import annotations

from typing import Any

import pytest

from services.protocol import Attestation, sign_attestation
from services.protocol.evidence import StoredRoot
from services.relayer.equivocation import EquivocationWatcher
from services.relayer.guardians import NoQuorum
from services.relayer.settlement import Settlement
from services.relayer.watchtower import Watchtower


class RecordingSlasher(EquivocationWatcher):
    """The equivocation stage with its hub submission replaced by a record (the e2e test slashes for real)."""

    def __init__(self, ctx: Any):
        super().__init__(ctx, Settlement(ctx))
        self.calls: list[tuple[dict[str, Any], dict[str, Any]]] = []

    async def slash(self, a: dict[str, Any], b: dict[str, Any], retry: bool = False) -> None:
        self.calls.append((a, b))


def store_root(net: Any, registry_chain: str, att: Attestation, keys: tuple[int, ...] = (0, 1)) -> None:
    members = net.manifest.guardians.members
    sigs = [sign_attestation(att, members[i].private_key, net.manifest.instance_id) for i in keys]
    reg = net.contract(registry_chain, "StateRootRegistry")
    net.transact(registry_chain, reg.functions.submitAttestation(att.as_tuple(), sigs))


def test_a_root_ahead_of_the_source_is_flagged_and_its_signers_distrusted(stage_net, stages):
    src = stage_net.chain_id("rollup-a")
    honest, sigs = stage_net.attest("rollup-a", stage_net.w3["rollup-a"].eth.block_number)
    reg = stage_net.contract("hub", "StateRootRegistry")
    stage_net.transact("hub", reg.functions.submitAttestation(honest.as_tuple(), sigs))
    forged = Attestation(src, 10**12 + 7, b"\x11" * 32, b"\x22" * 32)
    store_root(stage_net, "hub", forged)
    members = stage_net.manifest.guardians.members
    forgers = {members[0].address.lower(), members[1].address.lower()}

    async def scenario(ctx):
        tower = Watchtower(ctx, RecordingSlasher(ctx))
        await tower.scan(stage_net.chain_id("hub"))
        gset = ctx.sets[stage_net.chain_id("rollup-b")]
        with pytest.raises(NoQuorum):  # the honest third guardian alone is below the threshold
            await ctx.guardians.quorum(src, honest.block_number, gset.members, gset.threshold, wait=0.5)
        # a block the relayer read from the source itself: the distrusted signatures count again
        ctx.guardians.vouch(src, honest.block_number, honest.block_hash, honest.state_root)
        q = await ctx.guardians.quorum(src, honest.block_number, gset.members, gset.threshold, wait=0.5)
        return tower.status(), set(ctx.guardians.distrusted), set(ctx.suspect_blocks), q

    status, distrusted, suspect, quorum = stages(scenario)
    flags = [f for f in status["flags"] if f["block"] == forged.block_number]
    assert [f["kind"] for f in flags] == ["ahead"] and status["status"] == "alert"
    assert {s.lower() for s in flags[0]["signers"]} == forgers
    assert not [f for f in status["flags"] if f["block"] == honest.block_number]
    assert status["checked"] >= 2
    assert distrusted == forgers and (src, forged.block_number) in suspect
    assert quorum.attestation == honest


def test_a_forged_root_of_an_existing_block_yields_slash_evidence_against_each_signer(stage_net, stages):
    src = stage_net.chain_id("rollup-a")
    real = stage_net.w3["rollup-a"].eth.get_block(2)
    forged = Attestation(src, 2, bytes(real["hash"]), b"\x33" * 32)
    store_root(stage_net, "rollup-b", forged)
    members = stage_net.manifest.guardians.members

    async def scenario(ctx):
        slasher = RecordingSlasher(ctx)
        tower = Watchtower(ctx, slasher)
        await tower.scan(stage_net.chain_id("rollup-b"))
        flag = next(f for f in tower.open.values() if f.root.attestation == forged)
        await tower.find_evidence(flag)  # asks the guardians: their honest processes sign the real block
        return flag.kind, flag.real_hash, slasher.calls

    kind, real_hash, calls = stages(scenario)
    assert kind == "forged" and real_hash == "0x" + bytes(real["hash"]).hex()
    accused = {a["signer"].lower() for a, _ in calls}
    assert accused == {members[0].address.lower(), members[1].address.lower()}
    for a, b in calls:
        assert a["state_root"] == "0x" + "33" * 32
        assert b["state_root"] == "0x" + bytes(real["stateRoot"]).hex() and b["block_number"] == 2


def test_a_root_of_a_block_seen_before_a_rewind_is_not_a_forgery(stage_net, stages):
    """After evm_revert / anvil_reorg an honest root names a block the chain no longer has."""
    src = stage_net.chain_id("rollup-a")
    real = stage_net.w3["rollup-a"].eth.get_block(3)
    gone = Attestation(src, 3, b"\x44" * 32, b"\x55" * 32)  # the block 3 a rewind removed
    root = StoredRoot(gone, (), ())

    async def scenario(ctx):
        tower = Watchtower(ctx, RecordingSlasher(ctx))
        before = await tower.verdict(root)
        tower.seen[src]["0x" + "44" * 32] = 3  # its header reached the relayer before the rewind
        return before, await tower.verdict(root)

    before, after = stages(scenario)
    assert before == ("forged", "0x" + bytes(real["hash"]).hex())
    assert after[0] == "rewound"


def test_a_root_of_a_block_the_relayer_saw_is_judged_from_its_header(stage_net, stages):
    """A block the source announced (newHeads) is judged from that header: its honest root is ok
    without a request to the source; its hash with another state root is still forged."""
    src = stage_net.chain_id("rollup-a")

    async def scenario(ctx):
        link = ctx.links[src]
        receipt = await link.transact(link.signer.address, b"", 21_000)  # a block whose head the link sees
        number = int(receipt["blockNumber"], 16)
        while link.head < number:
            await link.wait_head(1.0)
        header = await link.rpc.call("eth_getBlockByNumber", [hex(number), False])
        block_hash = bytes.fromhex(header["hash"][2:])
        honest = StoredRoot(Attestation(src, number, block_hash, bytes.fromhex(header["stateRoot"][2:])), (), ())
        forged = StoredRoot(Attestation(src, number, block_hash, b"\x66" * 32), (), ())
        tower = Watchtower(ctx, RecordingSlasher(ctx))
        calls: list[str] = []
        real_call = link.rpc.call

        async def counted(method: str, params: Any = (), timeout: float | None = None) -> Any:
            calls.append(method)
            return await real_call(method, params, timeout)

        link.rpc.call = counted  # type: ignore[method-assign]
        ok = await tower.verdict(honest)
        asked_for_ok = list(calls)
        return ok, asked_for_ok, await tower.verdict(forged), header["hash"]

    ok, asked_for_ok, bad, block_hash = stages(scenario)
    assert ok == ("ok", block_hash) and asked_for_ok == []
    assert bad == ("forged", block_hash)
