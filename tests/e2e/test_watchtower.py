"""Issue 10: a quorum-forged root is flagged within 1 s; with conflicting evidence its signers are
slashed and removed everywhere automatically, and the honest message still goes through."""

from __future__ import annotations

import time
from typing import Any

import httpx
from eth_utils import keccak

from services.protocol import Attestation, sign_attestation


def store_forged_root(net: Any, registry_chain: str, att: Attestation, keys: tuple[int, ...] = (0, 1)) -> float:
    """A quorum of guardian keys (from the manifest) stores `att`; returns when its receipt arrived."""
    members = net.manifest.guardians.members
    sigs = [sign_attestation(att, members[i].private_key, net.manifest.instance_id) for i in keys]
    net.transact(registry_chain, net.contract(registry_chain, "StateRootRegistry").functions.submitAttestation(
        att.as_tuple(), sigs))
    return time.monotonic()


def relayer_flag(net: Any, block: int) -> dict[str, Any] | None:
    watch = net.relayer_health().get("watchtower") or {}
    return next((f for f in watch.get("flags", []) if f["block"] == block), None)


def test_a_root_forged_far_ahead_of_the_source_is_flagged_within_a_second(fresh_net):
    net = fresh_net
    src = net.manifest.chain("rollup-a").chain_id
    forged = Attestation(src, 10**12, keccak(text="made-up hash"), keccak(text="made-up root"))
    assert relayer_flag(net, 10**12) is None
    mined = store_forged_root(net, "rollup-b", forged)
    flag = net.wait_for("the flag on the relayer's /health", lambda: relayer_flag(net, 10**12), timeout=10,
                        interval=0.01)
    seen_after = time.monotonic() - mined
    print(f"\nforged root flagged {flag['delay']:.3f}s after its block reached the relayer; "
          f"seen on /health {seen_after:.3f}s after the receipt")
    assert flag["delay"] is not None and flag["delay"] <= 1.0  # the relayer's own measure (issue 10)
    assert seen_after < 3.0  # tolerant: includes this test's polling and HTTP
    members = net.manifest.guardians.members
    assert flag["kind"] == "ahead" and flag["chain_id"] == src and flag["real_hash"] is None
    assert flag["signers"] == [members[0].address, members[1].address]
    health = net.relayer_health()
    assert health["status"] == "degraded" and health["watchtower"]["status"] == "alert"
    assert set(health["watchtower"]["distrusted"]) == {members[0].address.lower(), members[1].address.lower()}

    api = httpx.get(f"{net.api}/v1/watchtower", timeout=5).json()
    assert api["status"] == "alert" and [f["block"] for f in api["flags"]] == [10**12]
    assert api["flags"][0]["registry_chain"] == "rollup-b" and api["flags"][0]["chain"] == "rollup-a"
    assert 'id="forged"' in httpx.get(f"{net.api}/", timeout=5).text
    log = (net.devnet.log_dir / "relayer.log").read_text()
    lines = [ln for ln in log.splitlines() if "WATCHTOWER: AHEAD" in ln]
    assert len(lines) == 1 and "ERROR" in lines[0] and str(10**12) in lines[0] and members[0].address in lines[0]

    # no evidence (no real block to sign): nobody slashed, and the network still delivers, the
    # distrusted guardians' signatures counting only for blocks the relayer read from the source
    net.wait_delivered(net.send("rollup-a", "rollup-b", b"after the forgery"), timeout=30)
    assert net.relayer_health()["slashes"] == []


def test_a_prestored_fake_root_gets_its_signers_slashed_everywhere_and_the_message_delivered(fresh_net):
    net = fresh_net
    members = net.manifest.guardians.members
    forgers = {members[0].address, members[1].address}
    src = net.manifest.chain("rollup-a").chain_id
    nxt = net.w3["rollup-a"].eth.block_number + 1
    fake = Attestation(src, nxt, keccak(text="fake hash"), keccak(text="fake root"))
    store_forged_root(net, "rollup-b", fake)
    net.wait_for("the fake root flagged ahead", lambda: relayer_flag(net, nxt), timeout=10, interval=0.02)

    msg = net.send("rollup-a", "rollup-b", b"honest message in the pre-forged block")
    assert msg.block == nxt
    # the honest guardian processes of the forging keys sign the real block: evidence -> slash on the hub
    staking = net.contract("hub", "GuardianStaking")
    for g in forgers:
        net.wait_for(f"{g} slashed", lambda g=g: staking.functions.stakeOf(g).call()[3], timeout=30)
    for c in net.manifest.chains:
        reg = net.contract(c.name, "StateRootRegistry")
        net.wait_for(f"the forgers removed on {c.name}",
                     lambda r=reg: r.functions.getGuardians().call() == [members[2].address], timeout=30)
    flag = relayer_flag(net, nxt)
    assert flag is not None and flag["kind"] == "forged" and flag["real_hash"]
    # the relayer records each slash once its receipt is in (the chain may show it first)
    net.wait_for("both slashes recorded by the relayer", lambda: {
        s["guardian"] for s in net.relayer_health().get("slashes", []) if s["status"] == "slashed"} == forgers,
        timeout=10)

    net.wait_delivered(msg, timeout=30)
    trace = net.trace(msg.id)
    assert trace is not None and trace["attested"]["block"] > nxt  # through a later block
