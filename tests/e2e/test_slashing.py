"""A guardian forced to equivocate is slashed on the hub and removed from every chain's set."""

from __future__ import annotations

import httpx
from web3.logs import DISCARD


def test_equivocating_guardian_is_slashed_and_removed_everywhere(fresh_net):
    net = fresh_net
    bad = net.manifest.guardians.members[2]
    staking = net.contract("hub", "GuardianStaking")
    registries = {c.name: net.contract(c.name, "StateRootRegistry") for c in net.manifest.chains}
    assert all(r.functions.isGuardian(bad.address).call() for r in registries.values())
    stake_before = staking.functions.stakeOf(bad.address).call()
    assert stake_before[0] > 0 and not stake_before[3]

    # make some signed history, then force guardian 2 to sign a second root for a block
    msg = net.send("rollup-a", "rollup-b")
    net.wait_delivered(msg, timeout=20)
    chain_id = net.manifest.chain("rollup-a").chain_id
    r = httpx.post(f"{bad.url}/v1/test/equivocate/{chain_id}/{msg.block}", timeout=10)
    assert r.status_code == 200
    assert r.json()["honest"]["state_root"] != r.json()["conflicting"]["state_root"]

    net.wait_for("the guardian to be slashed on the hub", lambda: staking.functions.stakeOf(bad.address).call()[3],
                 timeout=30)
    assert not registries["hub"].functions.isGuardian(bad.address).call()
    # removal travels to the rollups as hub messages, delivered by the relayer
    for name in ("rollup-a", "rollup-b"):
        net.wait_for(f"removal on {name}", lambda r=registries[name]: not r.functions.isGuardian(bad.address).call(),
                     timeout=30)
    # the relayer records the slash once it has read the receipt (it may lag the chain by a moment)
    net.wait_for("the relayer to record the slash", lambda: any(
        s["guardian"] == bad.address and s["status"] == "slashed"
        for s in httpx.get(f"{net.relayer_url}/health").json()["slashes"]), timeout=10)

    # the two honest guardians still carry the network
    after = net.send("rollup-b", "rollup-a")
    net.wait_delivered(after, timeout=20)


def _slash_and_wait(net, index: int) -> None:
    """Force guardian `index` to equivocate; wait until the relayer slashed it and it is gone everywhere."""
    bad = net.manifest.guardians.members[index]
    staking = net.contract("hub", "GuardianStaking")
    msg = net.send("rollup-a", "rollup-b")
    net.wait_delivered(msg, timeout=20)
    chain_id = net.manifest.chain("rollup-a").chain_id
    assert httpx.post(f"{bad.url}/v1/test/equivocate/{chain_id}/{msg.block}", timeout=10).status_code == 200
    net.wait_for(f"guardian {index} slashed", lambda: staking.functions.stakeOf(bad.address).call()[3], timeout=30)
    for c in net.manifest.chains:
        reg = net.contract(c.name, "StateRootRegistry")
        net.wait_for(f"removal of guardian {index} on {c.name}",
                     lambda r=reg: not r.functions.isGuardian(bad.address).call(), timeout=30)


def test_two_slashes_clamp_the_threshold_and_the_last_guardian_still_delivers(fresh_net):
    """3 guardians, threshold 2: after two slashes one guardian is left and the network stays live."""
    net = fresh_net
    assert net.manifest.guardians.threshold == 2 and len(net.manifest.guardians.members) == 3
    _slash_and_wait(net, 2)
    _slash_and_wait(net, 1)
    last = net.manifest.guardians.members[0].address
    for c in net.manifest.chains:
        reg = net.contract(c.name, "StateRootRegistry")
        assert reg.functions.getGuardians().call() == [last] and reg.functions.threshold().call() == 1
    for src, dst in (("rollup-b", "rollup-a"), ("hub", "rollup-b"), ("rollup-a", "hub")):
        net.wait_delivered(net.send(src, dst, b"after two slashes"), timeout=30)


def test_a_guardian_unbonding_below_the_minimum_leaves_every_chain(fresh_net):
    """Issue 10: a guardian that withdrew its whole stake stayed a guardian everywhere; now it exits."""
    net = fresh_net
    leaving = net.manifest.guardians.members[1]
    hub = net.w3["hub"]
    hub.provider.make_request("anvil_setBalance", [leaving.address, hex(10**20)])
    hub.provider.make_request("anvil_impersonateAccount", [leaving.address])
    staking = net.contract("hub", "GuardianStaking")
    active = staking.functions.stakeOf(leaving.address).call()[0]
    tx = staking.functions.unbond(active).transact({"from": leaving.address})
    receipt = hub.eth.wait_for_transaction_receipt(tx, timeout=30)
    assert receipt.status == 1 and staking.events.GuardianExited().process_receipt(receipt, errors=DISCARD)
    for c in net.manifest.chains:
        reg = net.contract(c.name, "StateRootRegistry")
        net.wait_for(f"exit on {c.name}", lambda r=reg: not r.functions.isGuardian(leaving.address).call(), timeout=30)
        assert len(reg.functions.getGuardians().call()) == 2 and reg.functions.threshold().call() == 2
    net.wait_delivered(net.send("rollup-a", "rollup-b", b"after an exit"), timeout=30)
