"""GuardianStaking on the hub: stake, unbond, withdraw, rewards, slashing and removal everywhere."""

from __future__ import annotations

from eth_account import Account
from web3.logs import DISCARD

from orchestrator import keys
from orchestrator.deploy.deployer import DeployParams
from services.protocol import Attestation, sign_attestation
from tests.contracts.conftest import DEPLOYER, DEV

A, B, HUB = "rollup-a", "rollup-b", "hub"
P = DeployParams()


def _conflict(net, guardian: int = 0):
    key = keys.guardian_key(guardian).private_key
    a = net.attestation(A)
    b = Attestation(a.chain_id, a.block_number, a.block_hash, b"\x66" * 32)
    return a, sign_attestation(a, key, net.instance_id), b, sign_attestation(b, key, net.instance_id)


def _increase_time(net, seconds: int) -> None:
    w3 = net.w3[HUB]
    w3.provider.make_request("evm_increaseTime", [seconds])
    w3.provider.make_request("evm_mine", [])


def test_deployed_stakes_and_params(net, devnet_config):
    st = net.c(HUB, "GuardianStaking")
    for i in range(devnet_config.guardians.count):
        assert st.functions.stakeOf(keys.guardian_key(i).address).call() == [P.guardian_stake, 0, 0, False]
    assert st.functions.totalActive().call() == P.guardian_stake * devnet_config.guardians.count
    assert st.functions.minStake().call() == P.min_stake
    assert st.functions.slashBps().call() == P.slash_bps
    assert st.functions.rollups().call() == [c.chain_id for c in devnet_config.rollups]


def test_stake_unbond_withdraw(net):
    st = net.c(HUB, "GuardianStaking")
    era = net.c(HUB, "EraToken")
    me = DEV[4].address
    net.transact(HUB, era.functions.approve(st.address, 10**24), me)
    assert net.revert_error(HUB, st.functions.stake(P.min_stake - 1), me) == "BelowMinStake"
    assert net.revert_error(HUB, st.functions.stake(0), me) == "ZeroAmount"
    receipt = net.transact(HUB, st.functions.stake(2 * P.min_stake), me)
    assert st.events.Staked().process_receipt(receipt, errors=DISCARD)[0].args.amount == 2 * P.min_stake
    assert net.revert_error(HUB, st.functions.unbond(3 * P.min_stake), me) == "InsufficientStake"
    assert net.revert_error(HUB, st.functions.withdraw(me), me) == "NothingToWithdraw"
    net.transact(HUB, st.functions.unbond(P.min_stake), me)
    active, unbonding, end, slashed = st.functions.stakeOf(me).call()
    assert (active, unbonding, slashed) == (P.min_stake, P.min_stake, False)
    assert net.revert_error(HUB, st.functions.withdraw(me), me) == "StillUnbonding"
    _increase_time(net, P.unbonding_delay + 1)
    before = era.functions.balanceOf(me).call()
    net.transact(HUB, st.functions.withdraw(me), me)
    assert era.functions.balanceOf(me).call() == before + P.min_stake
    net.transact(HUB, st.functions.unbond(P.min_stake), me)  # unbonding everything is allowed
    assert st.functions.stakeOf(me).call()[:2] == [0, P.min_stake]


def test_rewards_from_fees_pro_rata(net):
    st = net.c(HUB, "GuardianStaking")
    era = net.c(HUB, "EraToken")
    # anything sent to the staking contract beyond what it owes is a reward
    net.transact(HUB, era.functions.transfer(st.address, 3 * 10**18), DEV[0].address)
    g = [keys.guardian_key(i).address for i in range(3)]
    assert all(abs(st.functions.pendingRewards(x).call() - 10**18) <= 1 for x in g)
    net.transact(HUB, st.functions.syncRewards(), DEV[0].address)
    receipt = net.transact(HUB, st.functions.claimRewards(DEV[6].address), g[1])
    amount = st.events.RewardsClaimed().process_receipt(receipt, errors=DISCARD)[0].args.amount
    assert abs(amount - 10**18) <= 1
    assert st.functions.pendingRewards(g[1]).call() == 0
    # claiming does not touch stakes
    assert st.functions.stakeOf(g[1]).call()[0] == P.guardian_stake


def test_slash_100_percent_removes_everywhere(net):
    st = net.c(HUB, "GuardianStaking")
    era = net.c(HUB, "EraToken")
    g0 = keys.guardian_key(0).address
    a, sa, b, sb = _conflict(net)
    reporter = DEV[6].address
    before = era.functions.balanceOf(reporter).call()
    receipt = net.transact(HUB, st.functions.slash(a.as_tuple(), sa, b.as_tuple(), sb), reporter)
    ev = st.events.Slashed().process_receipt(receipt, errors=DISCARD)[0].args
    assert ev.guardian == g0 and ev.amount == P.guardian_stake  # 100%
    assert ev.reporterReward == P.guardian_stake * P.reporter_bps // 10_000
    assert era.functions.balanceOf(reporter).call() == before + ev.reporterReward
    assert st.functions.stakeOf(g0).call() == [0, 0, 0, True]
    # removed on the hub at once
    assert not net.c(HUB, "StateRootRegistry").functions.isGuardian(g0).call()
    # and on every rollup through hub messages, delivered here by hand
    msgs = net.messages_in(HUB, receipt)
    sent = st.events.GuardianRemovalSent().process_receipt(receipt, errors=DISCARD)
    assert sorted(m.destination_chain_id for m in msgs) == sorted([net.chain_id[A], net.chain_id[B]])
    assert {e.args.sendId for e in sent} == {m.id for m in msgs}
    for m in msgs:
        dst = A if m.destination_chain_id == net.chain_id[A] else B
        assert net.c(dst, "StateRootRegistry").functions.isGuardian(g0).call()
        net.deliver(HUB, dst, m)
        reg = net.c(dst, "StateRootRegistry")
        assert not reg.functions.isGuardian(g0).call()
        assert reg.functions.getGuardians().call() == [keys.guardian_key(2).address, keys.guardian_key(1).address]
    # the slashed guardian's signature no longer counts anywhere
    att = net.attestation(A)
    reg_b = net.c(B, "StateRootRegistry")
    assert net.revert_error(B, reg_b.functions.submitAttestation(att.as_tuple(), net.signatures(att, (0, 1)))) == "NotGuardian"
    net.transact(B, reg_b.functions.submitAttestation(att.as_tuple(), net.signatures(att, (1, 2))), DEV[3].address)
    # slashing twice is refused; the remaining 90% became rewards of the other stakers
    assert net.revert_error(HUB, st.functions.slash(a.as_tuple(), sa, b.as_tuple(), sb), reporter) == "AlreadySlashed"
    g1 = keys.guardian_key(1).address
    expected = (P.guardian_stake - ev.reporterReward) // 2
    assert abs(st.functions.pendingRewards(g1).call() - expected) <= 1


def test_partial_slash_keeps_rest_unbonding(net):
    st = net.c(HUB, "GuardianStaking")
    net.transact(HUB, st.functions.setParams(P.min_stake, P.unbonding_delay, 2_500, 0), DEPLOYER)
    a, sa, b, sb = _conflict(net, guardian=2)
    receipt = net.transact(HUB, st.functions.slash(b.as_tuple(), sb, a.as_tuple(), sa), DEV[6].address)
    ev = st.events.Slashed().process_receipt(receipt, errors=DISCARD)[0].args
    assert ev.amount == P.guardian_stake // 4 and ev.reporterReward == 0
    active, unbonding, _end, slashed = st.functions.stakeOf(keys.guardian_key(2).address).call()
    assert (active, unbonding, slashed) == (0, P.guardian_stake * 3 // 4, True)
    assert net.revert_error(HUB, st.functions.setParams(0, 0, 10_001, 0), DEPLOYER) == "InvalidShare"
    assert net.revert_error(HUB, st.functions.setParams(0, 0, 0, 0), DEV[0].address) == "OwnableUnauthorizedAccount"


def test_slash_rejects_bad_evidence(net):
    st = net.c(HUB, "GuardianStaking")
    k0, k1 = keys.guardian_key(0).private_key, keys.guardian_key(1).private_key

    def sign(att, key):
        return sign_attestation(att, key, net.instance_id)

    a = net.attestation(A)
    same = sign(a, k0)
    # identical attestations are not conflicting
    assert net.revert_error(HUB, st.functions.slash(a.as_tuple(), same, a.as_tuple(), same)) == "NotConflicting"
    # different blocks are not conflicting
    other_block = net.attestation(A, a.block_number - 1)
    fn = st.functions.slash(a.as_tuple(), same, other_block.as_tuple(), sign(other_block, k0))
    assert net.revert_error(HUB, fn) == "NotConflicting"
    # different chains are not conflicting
    other_chain = Attestation(net.chain_id[B], a.block_number, a.block_hash, b"\x05" * 32)
    fn = st.functions.slash(a.as_tuple(), same, other_chain.as_tuple(), sign(other_chain, k0))
    assert net.revert_error(HUB, fn) == "NotConflicting"
    # forged second signature: signed by someone else
    b = Attestation(a.chain_id, a.block_number, a.block_hash, b"\x66" * 32)
    fn = st.functions.slash(a.as_tuple(), same, b.as_tuple(), sign(b, k1))
    assert net.revert_error(HUB, fn) == "SignerMismatch"
    fn = st.functions.slash(a.as_tuple(), same, b.as_tuple(), sign(b, Account.create().key))
    assert net.revert_error(HUB, fn) == "SignerMismatch"
    # the first signature replayed for the second attestation recovers to another address
    fn = st.functions.slash(a.as_tuple(), same, b.as_tuple(), same)
    assert net.revert_error(HUB, fn) == "SignerMismatch"
    # a stranger equivocating is not slashable (no stake, not a guardian)
    stranger = Account.create().key
    fn = st.functions.slash(a.as_tuple(), sign(a, stranger), b.as_tuple(), sign(b, stranger))
    assert net.revert_error(HUB, fn) == "NothingToSlash"


def _deliver_removals(net, receipt) -> None:
    """Play the relayer for the hub's removal messages in `receipt`."""
    for m in net.messages_in(HUB, receipt):
        net.deliver(HUB, A if m.destination_chain_id == net.chain_id[A] else B, m)


def test_a_whale_outside_the_guardian_set_earns_nothing(net):
    """The adversarial scenario of issue 10: 900,000 ERA staked just before a slash took 8,804 of 9,000."""
    st = net.c(HUB, "GuardianStaking")
    era = net.c(HUB, "EraToken")
    whale = DEV[4].address
    net.transact(HUB, era.functions.approve(st.address, 10**24), whale)
    net.transact(HUB, st.functions.stake(900_000 * 10**18), whale)
    a, sa, b, sb = _conflict(net, guardian=0)
    receipt = net.transact(HUB, st.functions.slash(a.as_tuple(), sa, b.as_tuple(), sb), DEV[6].address)
    ev = st.events.Slashed().process_receipt(receipt, errors=DISCARD)[0].args
    distributed = ev.amount - ev.reporterReward
    assert distributed == 9_000 * 10**18
    g1, g2 = keys.guardian_key(1).address, keys.guardian_key(2).address
    assert st.functions.pendingRewards(whale).call() == 0
    assert st.functions.pendingRewards(g1).call() == st.functions.pendingRewards(g2).call() == distributed // 2
    # fees arriving later go to the guardians by stake, still nothing to the whale
    net.transact(HUB, era.functions.approve(st.address, 10**24), DEV[5].address)
    net.transact(HUB, st.functions.stakeFor(g2, P.guardian_stake), DEV[5].address)  # g2 now has 2x g1's stake
    net.transact(HUB, era.functions.transfer(st.address, 300 * 10**18), DEV[0].address)
    net.transact(HUB, st.functions.syncRewards(), DEV[0].address)
    assert st.functions.pendingRewards(g1).call() == distributed // 2 + 100 * 10**18
    assert st.functions.pendingRewards(g2).call() == distributed // 2 + 200 * 10**18
    receipt = net.transact(HUB, st.functions.claimRewards(whale), whale)
    assert not st.events.RewardsClaimed().process_receipt(receipt, errors=DISCARD)
    owed = sum(getattr(st.functions, f)().call() for f in ("totalActive", "totalUnbonding", "totalRewardsOwed"))
    assert era.functions.balanceOf(st.address).call() >= owed


def test_unbonding_below_the_minimum_removes_the_guardian_everywhere(net):
    st = net.c(HUB, "GuardianStaking")
    g1 = keys.guardian_key(1).address
    # staying at or above the minimum keeps the seat
    net.transact(HUB, st.functions.unbond(P.guardian_stake - P.min_stake), g1)
    assert net.c(HUB, "StateRootRegistry").functions.isGuardian(g1).call()
    receipt = net.transact(HUB, st.functions.unbond(1), g1)
    exited = st.events.GuardianExited().process_receipt(receipt, errors=DISCARD)
    assert len(exited) == 1 and exited[0].args.guardian == g1 and exited[0].args.remainingActive == P.min_stake - 1
    assert not net.c(HUB, "StateRootRegistry").functions.isGuardian(g1).call()
    # the same removal messages as a slash reach every rollup
    sent = st.events.GuardianRemovalSent().process_receipt(receipt, errors=DISCARD)
    assert sorted(e.args.chainId for e in sent) == sorted([net.chain_id[A], net.chain_id[B]])
    for name in (A, B):
        assert net.c(name, "StateRootRegistry").functions.isGuardian(g1).call()
    _deliver_removals(net, receipt)
    for name in (A, B, HUB):
        reg = net.c(name, "StateRootRegistry")
        assert not reg.functions.isGuardian(g1).call() and len(reg.functions.getGuardians().call()) == 2
    # an ex-guardian's stake earns nothing; it cannot be removed twice (no new messages)
    net.transact(HUB, net.c(HUB, "EraToken").functions.transfer(st.address, 10**18), DEV[0].address)
    assert st.functions.pendingRewards(g1).call() == 0
    receipt = net.transact(HUB, st.functions.unbond(1), g1)
    assert not st.events.GuardianExited().process_receipt(receipt, errors=DISCARD)
    assert not st.events.GuardianRemovalSent().process_receipt(receipt, errors=DISCARD)


def test_threshold_is_clamped_to_the_remaining_set_after_two_slashes(net):
    st = net.c(HUB, "GuardianStaking")
    for bad in (2, 1):
        a, sa, b, sb = _conflict(net, guardian=bad)
        receipt = net.transact(HUB, st.functions.slash(a.as_tuple(), sa, b.as_tuple(), sb), DEV[6].address)
        _deliver_removals(net, receipt)
    g0 = keys.guardian_key(0).address
    for name in (A, B, HUB):
        reg = net.c(name, "StateRootRegistry")
        assert reg.functions.getGuardians().call() == [g0] and reg.functions.threshold().call() == 1
    hub_reg = net.c(HUB, "StateRootRegistry")
    clamped = hub_reg.events.ThresholdClamped().get_logs(from_block=0)
    assert [(e.args.previous, e.args.clamped) for e in clamped] == [(2, 1)]
    # the last guardian alone carries the network
    att = net.attestation(A)
    reg_b = net.c(B, "StateRootRegistry")
    net.transact(B, reg_b.functions.submitAttestation(att.as_tuple(), net.signatures(att, (0,))), DEV[3].address)


def test_evidence_signed_under_another_instance_is_refused(net):
    """Honest signatures of one (chain, block) from two runs of the devnet are no equivocation."""
    st = net.c(HUB, "GuardianStaking")
    key = keys.guardian_key(0).private_key
    a = net.attestation(A)
    b = Attestation(a.chain_id, a.block_number, a.block_hash, b"\x66" * 32)
    previous_run = "0x" + "77" * 32
    for sig_a, sig_b in ((sign_attestation(a, key, net.instance_id), sign_attestation(b, key, previous_run)),
                         (sign_attestation(a, key, previous_run), sign_attestation(b, key, previous_run))):
        fn = st.functions.slash(a.as_tuple(), sig_a, b.as_tuple(), sig_b)
        assert net.revert_error(HUB, fn) == "SignerMismatch"
    assert st.functions.stakeOf(keys.guardian_key(0).address).call()[3] is False
