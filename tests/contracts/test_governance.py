"""ERA governance on the hub: votes (locked ERA counts twice), quorum, and execution on every chain.

The lifecycle runs through services.governance.client (what the CLI wraps); blocks are mined
with `advance_time` and the rollup messages are relayed by hand.
"""

from __future__ import annotations

import pytest
from eth_account import Account
from web3.logs import DISCARD

from services.governance import client as gc
from services.governance.client import FOR, Action
from orchestrator.governance_deploy import DAPP_OPERATOR_ROLE, GovernanceParams
from tests.contracts.conftest import DEPLOYER, DEV
from tests.contracts.governance_fixture import ROLLUPS, gov_fixture  # noqa: F401  (fixture "gov")

HUB = "hub"
WEEK = 7 * 24 * 3600
PERIOD = 50


def _key(i: int) -> str:
    return DEV[i].private_key


def _open_vote(gov, actions, description, proposer=1):
    pid = gc.propose(gov.manifest, actions, description, _key(proposer))
    gc.advance_time(gov.manifest, blocks=2)
    assert gc.proposal_status(gov.manifest, pid)["state"] == "Active"
    return pid


def _close_vote(gov):
    gc.advance_time(gov.manifest, seconds=PERIOD * 12, blocks=PERIOD + 1)


def _execute(gov, pid, key_index=9):
    gc.execute(gov.manifest, pid, _key(key_index))
    w3 = gov.net.w3[HUB]
    tx = w3.eth.get_block("latest").transactions[0]
    return w3.eth.get_transaction_receipt(tx)


def _now(net) -> int:
    return int(net.w3[HUB].eth.get_block("latest").timestamp)


def _fee_config(gov, base_fee):
    cfg = list(gov.net.c(HUB, "MetalayerGateway").functions.feeConfig().call())
    cfg[0] = base_fee
    return tuple(cfg)


def test_locked_era_counts_twice(gov, net):
    holder, locker = DEV[1], DEV[2]
    era = net.c(HUB, "EraToken")
    amount = era.functions.balanceOf(holder.address).call()
    assert era.functions.balanceOf(locker.address).call() == amount
    gc.delegate(gov.manifest, holder.private_key)
    assert gc.lock(gov.manifest, amount, WEEK, locker.private_key)[0] == amount
    power = {a.address: gc.voting_power(gov.manifest, a.address) for a in (holder, locker)}
    assert power[holder.address] == {"era": amount, "locked": 0, "total": amount}
    assert power[locker.address] == {"era": 0, "locked": 2 * amount, "total": 2 * amount}

    pid = _open_vote(gov, [Action(HUB, "EraVoteLock", "setMinLockDuration(uint64)", [3600])], "2:1")
    weights = {a.address: gc.vote(gov.manifest, pid, FOR, a.private_key) for a in (holder, locker)}
    assert weights[locker.address] == 2 * weights[holder.address] == 2 * amount
    assert gc.proposal_status(gov.manifest, pid)["votes"]["for"] == 3 * amount


def test_lock_rules(gov, net):
    locker = DEV[3]
    lock = gov.c(HUB, "EraVoteLock")
    era = net.c(HUB, "EraToken")
    net.transact(HUB, era.functions.approve(lock.address, 10**24), locker.address)
    assert net.revert_error(HUB, lock.functions.lock(10**18, WEEK - 1), locker.address) == "LockTooShort"
    assert net.revert_error(HUB, lock.functions.lock(0, WEEK), locker.address) == "ZeroAmount"
    assert net.revert_error(HUB, lock.functions.delegate(locker.address), locker.address) == "DelegateOnEra"
    before = era.functions.balanceOf(locker.address).call()
    gc.advance_time(gov.manifest, seconds=2)  # the deployment's checkpoints strictly before the lock's second
    _, unlock_time = gc.lock(gov.manifest, 5 * 10**18, WEEK, locker.private_key)
    assert net.revert_error(HUB, lock.functions.unlock(locker.address), locker.address) == "StillLocked"
    # the second before the lock's block (not "now - 1": the lock may be in the newest second or not)
    supply_before = lock.functions.getPastTotalSupply(unlock_time - WEEK - 1).call()
    gc.advance_time(gov.manifest, seconds=WEEK)
    assert lock.functions.getPastTotalSupply(_now(net) - 1).call() == supply_before + 5 * 10**18
    net.transact(HUB, lock.functions.unlock(locker.address), locker.address)
    assert era.functions.balanceOf(locker.address).call() == before
    assert lock.functions.lockedVotes(locker.address).call() == 0
    assert net.revert_error(HUB, lock.functions.setMinLockDuration(1), DEPLOYER) == "OwnableUnauthorizedAccount"


def test_an_expired_lock_counts_once(gov, net):
    """The lock's bonus holds only while unlockTime > the snapshot; expired and not withdrawn, it counts once."""
    locker, amount = DEV[4], 1000 * 10**18
    lock = gov.c(HUB, "EraVoteLock")
    assert (
        lock.functions.CLOCK_MODE().call() == net.c(HUB, "EraToken").functions.CLOCK_MODE().call() == "mode=timestamp"
    )
    assert gov.c(HUB, "MetalayerGovernor").functions.CLOCK_MODE().call() == "mode=timestamp"
    _, unlock_time = gc.lock(gov.manifest, amount, WEEK, locker.private_key)
    running = _open_vote(gov, [Action(HUB, "EraVoteLock", "setMinLockDuration(uint64)", [WEEK])], "lock runs")
    assert gc.vote(gov.manifest, running, FOR, locker.private_key) == 2 * amount
    gc.advance_time(gov.manifest, seconds=8 * 24 * 3600)
    assert _now(net) > unlock_time
    assert lock.functions.getPastVotes(locker.address, unlock_time - 1).call() == 2 * amount
    assert lock.functions.getPastVotes(locker.address, unlock_time).call() == amount
    assert gc.voting_power(gov.manifest, locker.address) == {"era": 0, "locked": amount, "total": amount}
    expired = _open_vote(gov, [Action(HUB, "EraVoteLock", "setMinLockDuration(uint64)", [WEEK])], "lock expired")
    assert gc.vote(gov.manifest, expired, FOR, locker.private_key) == amount
    net.transact(HUB, lock.functions.unlock(locker.address), locker.address)
    assert gc.voting_power(gov.manifest, locker.address)["total"] == 0


def test_one_proposal_sets_fees_and_staking_on_every_chain(gov, net):
    gc.delegate(gov.manifest, _key(1))
    new_fee = 123_456_789
    cfg = _fee_config(gov, new_fee)
    signature = "setFeeConfig((uint128,uint128,uint16,uint16,uint16,address,address))"
    actions = [
        *gc.every_chain(gov.manifest, "MetalayerGateway", signature, [cfg]),
        Action(HUB, "GuardianStaking", "setParams(uint256,uint64,uint16,uint16)", [7 * 10**18, 60, 5000, 500]),
        Action("rollup-a", "MetalayerGateway", "setFeeExempt(address,bool)", [DEV[8].address, True]),
    ]
    pid = _open_vote(gov, actions, "fees everywhere")
    gc.vote(gov.manifest, pid, FOR, _key(1))
    for chain in (HUB, *ROLLUPS):  # nothing changes before execution
        assert (
            net.c(chain, "MetalayerGateway")
            .functions.quoteFee(net.chain_id["rollup-b" if chain != "rollup-b" else HUB], 0)
            .call()
            != new_fee
        )
    _close_vote(gov)
    assert gc.proposal_status(gov.manifest, pid)["state"] == "Succeeded"
    receipt = _execute(gov, pid)
    status = gc.proposal_status(gov.manifest, pid)
    assert status["state"] == "Executed"
    assert {c["chain"]: c["executed"] for c in status["chains"]} == {HUB: True, "rollup-a": False, "rollup-b": False}
    assert net.c(HUB, "MetalayerGateway").functions.quoteFee(net.chain_id["rollup-a"], 0).call() == new_fee
    assert net.c(HUB, "GuardianStaking").functions.minStake().call() == 7 * 10**18
    deliveries = gov.deliver_all(receipt)
    assert set(deliveries) == set(ROLLUPS)
    for chain in ROLLUPS:
        gw = net.c(chain, "MetalayerGateway")
        assert (
            gov.c(chain, "GovernanceExecutor")
            .events.RemoteExecuted()
            .process_receipt(deliveries[chain], errors=DISCARD)
        )
        assert gw.functions.quoteFee(net.chain_id[HUB], 0).call() == new_fee
    assert net.c("rollup-a", "MetalayerGateway").functions.feeExempt(DEV[8].address).call()  # batch of two on rollup-a
    assert all(c["executed"] for c in gc.proposal_status(gov.manifest, pid)["chains"])


def test_missed_quorum_executes_nothing(gov, net):
    small = Account.create()
    era = net.c(HUB, "EraToken")
    net.transact(HUB, era.functions.transfer(small.address, 10**18), DEV[3].address)
    net.w3[HUB].provider.make_request("anvil_setBalance", [small.address, hex(10**20)])
    gc.delegate(gov.manifest, small.key.hex() if small.key.hex().startswith("0x") else "0x" + small.key.hex())
    cfg = _fee_config(gov, 1)
    actions = gc.every_chain(
        gov.manifest, "MetalayerGateway", "setFeeConfig((uint128,uint128,uint16,uint16,uint16,address,address))", [cfg]
    )
    pid = _open_vote(gov, actions, "too few votes")
    assert gc.vote(gov.manifest, pid, FOR, "0x" + small.key.hex().removeprefix("0x")) == 10**18
    _close_vote(gov)
    status = gc.proposal_status(gov.manifest, pid)
    assert status["state"] == "Defeated" and status["quorum"] > 10**18
    try:
        gc.execute(gov.manifest, pid, _key(9))
        raise AssertionError("a defeated proposal executed")
    except gc.GovernanceError as exc:
        assert "GovernorUnexpectedProposalState" in str(exc)
    chains = gc.proposal_status(gov.manifest, pid)["chains"]
    hub = {"chain": HUB, "chain_id": net.chain_id[HUB], "executed": False, "state": "not executed"}
    assert chains == [hub]  # no message sent
    for chain in (HUB, *ROLLUPS):
        assert net.c(chain, "MetalayerGateway").functions.feeConfig().call()[0] != 1


def test_client_rejects_bad_input(gov):
    for bad in (
        lambda: gc.role_id("NOPE"),
        lambda: gc.role_id(str(2**64)),
        lambda: gc.role_id(-1),
        lambda: gc.propose(gov.manifest, [], "x", _key(1)),
        lambda: gc.encode_call("f(uint256)", ["x"]),
        lambda: gc.parse_duration("soon"),
        lambda: gc.proposal_status(gov.manifest, 12345),
        lambda: gc.advance_time(gov.manifest, -1),
        lambda: gc.proposal_operations(gov.manifest, [Action("mars", "EraToken", "f()", [])]),
    ):
        try:
            bad()
            raise AssertionError("accepted bad input")
        except gc.GovernanceError:
            pass
    assert gc.parse_duration("2h") == 7200 and gc.role_id("dapp_operator") == 1


def test_a_proposal_grants_a_role_on_every_rollup(gov, net):
    operator = DEV[7].address
    gc.delegate(gov.manifest, _key(1))
    grant = Action(
        HUB, "CrosschainAccessManager", "grantRole(uint64,address,uint32)", [DAPP_OPERATOR_ROLE, operator, 0]
    )
    pid = _open_vote(gov, [grant], "operator everywhere")
    gc.vote(gov.manifest, pid, FOR, _key(1))
    _close_vote(gov)
    receipt = _execute(gov, pid)
    assert set(gov.deliver_all(receipt)) == set(ROLLUPS)  # the hub manager mirrored the governor's grant
    for chain in (HUB, *ROLLUPS):
        net.transact(chain, gov.c(chain, "RestrictedCounter").functions.increment(), operator)


def test_params_from_devnet_toml_table():
    params = GovernanceParams.from_table({"voting_period": 10, "quorum_percent": 10, "keep_bootstrap_admin": False})
    assert (params.voting_period, params.quorum_percent, params.keep_bootstrap_admin) == (10, 10, False)
    for bad in (
        {"quorum": 4},
        {"voting_period": 0},
        {"quorum_percent": 101},
        {"voting_delay": "1"},
        {"min_lock_duration": -1},
        {"keep_bootstrap_admin": 1},
    ):
        with pytest.raises(ValueError):
            GovernanceParams.from_table(bad)


def test_a_rollup_call_to_an_address_without_code_fails_there(gov, net):
    """EraVoteLock exists on the hub only: the executor refuses the call (TargetHasNoCode), nothing runs."""
    gc.delegate(gov.manifest, _key(1))
    exempt = DEV[6].address
    actions = [
        Action("rollup-a", "MetalayerGateway", "setFeeExempt(address,bool)", [exempt, True]),
        Action("rollup-a", "EraVoteLock", "setMinLockDuration(uint64)", [1]),  # batch of two: all or nothing
        Action("rollup-b", "EraVoteLock", "setMinLockDuration(uint64)", [1]),  # single call
    ]
    with pytest.raises(gc.GovernanceError, match="hub only"):  # the client refuses it at propose time
        gc.propose(gov.manifest, actions, "refused", _key(1))
    governor = gov.c(HUB, "MetalayerGovernor")  # past the client, the executor refuses it
    targets, values, calldatas = gc.proposal_operations(gov.manifest, actions)
    net.transact(HUB, governor.functions.propose(targets, values, calldatas, "code-less"), DEV[1].address)
    pid = governor.functions.hashProposal(targets, values, calldatas, gc.keccak(text="code-less")).call()
    gc.advance_time(gov.manifest, blocks=2)
    gc.vote(gov.manifest, pid, FOR, _key(1))
    _close_vote(gov)
    deliveries = gov.deliver_all(_execute(gov, pid))
    for chain in ROLLUPS:
        failed = (
            net.c(chain, "MetalayerGateway").events.MessageFailed().process_receipt(deliveries[chain], errors=DISCARD)
        )
        assert failed and bytes(failed[0].args.reason)[:4] == _selector("TargetHasNoCode(address)"), chain
    assert not net.c("rollup-a", "MetalayerGateway").functions.feeExempt(exempt).call()
    status = gc.proposal_status(gov.manifest, pid)
    assert status["state"] == "Executed"
    assert [(c["chain"], c["executed"], c["state"]) for c in status["chains"]] == [
        ("rollup-a", False, "failed"),
        ("rollup-b", False, "failed"),
    ]


def test_client_refuses_code_less_targets(gov):
    nowhere = "0x000000000000000000000000000000000000dEaD"
    for action, reason in (
        (Action("rollup-b", "MetalayerGovernor", "setVotingPeriod(uint32)", [50]), "hub only"),
        (Action("rollup-a", nowhere, "f()", []), "no contract at"),
        (Action(HUB, nowhere, "f()", []), "no contract at"),
    ):
        with pytest.raises(gc.GovernanceError, match=reason):
            gc.propose(gov.manifest, [action], "refused", _key(1))


def test_status_lists_the_hub_for_a_governor_only_proposal(gov, net):
    gc.delegate(gov.manifest, _key(1))
    period = gov.c(HUB, "MetalayerGovernor").functions.votingPeriod().call()
    pid = _open_vote(gov, [Action(HUB, "MetalayerGovernor", "setVotingPeriod(uint32)", [period])], "governor only")
    gc.vote(gov.manifest, pid, FOR, _key(1))
    _close_vote(gov)
    hub = {"chain": HUB, "chain_id": net.chain_id[HUB]}
    assert gc.proposal_status(gov.manifest, pid)["chains"] == [{**hub, "executed": False, "state": "not executed"}]
    _execute(gov, pid)
    assert gc.proposal_status(gov.manifest, pid)["chains"] == [{**hub, "executed": True, "state": "executed"}]


def _selector(signature: str) -> bytes:
    return gc.keccak(text=signature)[:4]
