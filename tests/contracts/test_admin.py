"""Owner-only configuration and the remaining external functions (success and authority)."""

from __future__ import annotations

from web3.logs import DISCARD

from orchestrator import keys
from services.protocol import encode_evm
from tests.contracts.conftest import DEPLOYER, DEV

A, B, HUB = "rollup-a", "rollup-b", "hub"


def test_gateway_owner_functions(net):
    gw = net.c(A, "MetalayerGateway")
    cfg = list(gw.functions.feeConfig().call())
    stranger = DEV[0].address
    assert net.revert_error(A, gw.functions.setFeeConfig(tuple(cfg)), stranger) == "OwnableUnauthorizedAccount"
    assert net.revert_error(A, gw.functions.setFeeExempt(stranger, True), stranger) == "OwnableUnauthorizedAccount"
    assert net.revert_error(A, gw.functions.configure(stranger, stranger, 1, stranger), stranger) == "OwnableUnauthorizedAccount"
    bad = (cfg[0], cfg[1], 5000, 5000, 1, cfg[5], cfg[6])
    assert net.revert_error(A, gw.functions.setFeeConfig(bad), DEPLOYER) == "InvalidShares"
    new = (7, 0, 10_000, 0, 0, cfg[5], cfg[6])
    receipt = net.transact(A, gw.functions.setFeeConfig(new), DEPLOYER)
    assert gw.events.FeeConfigSet().process_receipt(receipt, errors=DISCARD)
    assert gw.functions.quoteFee(net.chain_id[B], 1000).call() == 7
    net.transact(A, gw.functions.setFeeExempt(stranger, True), DEPLOYER)
    receipt = net.transact(A, gw.functions.sendMessage(encode_evm(net.chain_id[B], stranger), b"free", []), stranger)
    assert not gw.events.FeeCharged().process_receipt(receipt, errors=DISCARD)
    assert gw.functions.feeExempt(stranger).call()


def test_gateway_batched_deposit(net):
    gw = net.c(A, "MetalayerGateway")
    era = net.c(A, "EraToken")
    payer = DEV[3].address
    net.transact(A, era.functions.approve(gw.address, 30), payer)
    who = [DEV[7].address, DEV[8].address]
    before = [gw.functions.feeBalance(x).call() for x in who]
    receipt = net.transact(A, gw.functions.depositFees(who, [10, 20]), payer)
    assert len(gw.events.FeeDeposited().process_receipt(receipt, errors=DISCARD)) == 2
    assert [gw.functions.feeBalance(x).call() for x in who] == [before[0] + 10, before[1] + 20]
    assert net.revert_error(A, gw.functions.depositFees(who, [1]), payer) == "LengthMismatch"


def test_registry_and_staking_owner_functions(net):
    reg = net.c(B, "StateRootRegistry")
    assert net.revert_error(B, reg.functions.configureHub(DEV[0].address, 1, DEV[0].address), DEV[0].address) == "OwnableUnauthorizedAccount"
    receipt = net.transact(B, reg.functions.configureHub(net.addr["MetalayerGateway"], 4242, DEV[1].address), DEPLOYER)
    assert reg.events.HubConfigured().process_receipt(receipt, errors=DISCARD)
    assert reg.functions.hubChainId().call() == 4242
    st = net.c(HUB, "GuardianStaking")
    assert net.revert_error(HUB, st.functions.configure(DEV[0].address, DEV[0].address, DEV[0].address, []), DEV[0].address) == "OwnableUnauthorizedAccount"


def test_stake_for_another_guardian(net):
    st = net.c(HUB, "GuardianStaking")
    era = net.c(HUB, "EraToken")
    g1 = keys.guardian_key(1).address
    before = st.functions.stakeOf(g1).call()[0]
    net.transact(HUB, era.functions.approve(st.address, 5 * 10**18), DEV[2].address)
    receipt = net.transact(HUB, st.functions.stakeFor(g1, 5 * 10**18), DEV[2].address)
    ev = st.events.Staked().process_receipt(receipt, errors=DISCARD)[0].args
    assert ev.guardian == g1 and ev.payer == DEV[2].address
    assert st.functions.stakeOf(g1).call()[0] == before + 5 * 10**18


def test_era_crosschain_transfer_from(net):
    era = net.c(HUB, "EraToken")
    owner, operator, to = DEV[1].address, DEV[2].address, DEV[3].address
    total = net.era_supply()
    net.transact(HUB, era.functions.approve(operator, 50), owner)
    receipt = net.transact(HUB, era.functions.crosschainTransferFrom(owner, encode_evm(net.chain_id[B], to), 50), operator)
    assert era.functions.allowance(owner, operator).call() == 0
    (msg,) = net.messages_in(HUB, receipt)
    before = net.c(B, "EraToken").functions.balanceOf(to).call()
    net.deliver(HUB, B, msg)
    assert net.c(B, "EraToken").functions.balanceOf(to).call() == before + 50
    assert net.era_supply() == total
    fn = era.functions.crosschainTransferFrom(owner, encode_evm(net.chain_id[B], to), 1)
    assert net.revert_error(HUB, fn, operator) == "ERC20InsufficientAllowance"
