"""StateRootRegistry.instanceBinder: who may re-bind a registry to a devnet instance.

The bootstrap key keeps this one right after governance owns the registry (docs/GOVERNANCE.md):
`devnet up` re-binds every registry, cached state included.
"""

from __future__ import annotations

from web3.logs import DISCARD

from tests.contracts.conftest import DEPLOYER, DEV

B = "rollup-b"
RUN = bytes.fromhex("42" * 32)


def test_the_deployer_is_the_binder_from_construction(net):
    reg = net.c(B, "StateRootRegistry")
    assert reg.functions.instanceBinder().call() == DEPLOYER
    fresh = net.deploy(B, "StateRootRegistry", DEV[1].address)
    assert fresh.functions.instanceBinder().call() == DEV[1].address


def test_binder_binds_after_ownership_left_it(net):
    reg = net.c(B, "StateRootRegistry")
    governance = DEV[7].address
    net.transact(B, reg.functions.transferOwnership(governance), DEPLOYER)
    # the bootstrap key is no owner any more, yet binds; it cannot change anything else
    receipt = net.transact(B, reg.functions.setInstance(RUN), DEPLOYER)
    assert reg.events.InstanceSet().process_receipt(receipt, errors=DISCARD)[0].args.instanceId == RUN
    assert reg.functions.instanceId().call() == RUN
    assert (
        net.revert_error(B, reg.functions.setGuardians([DEV[0].address], 1), DEPLOYER) == "UnauthorizedGuardianChange"
    )
    assert (
        net.revert_error(B, reg.functions.setInstanceBinder(DEV[0].address), DEPLOYER) == "OwnableUnauthorizedAccount"
    )
    # the new owner binds too
    net.transact(B, reg.functions.setInstance(bytes.fromhex("43" * 32)), governance)
    assert reg.functions.instanceId().call() == bytes.fromhex("43" * 32)


def test_only_binder_or_owner_binds_and_the_owner_moves_the_right(net):
    reg = net.c(B, "StateRootRegistry")
    stranger = DEV[2].address
    assert net.revert_error(B, reg.functions.setInstance(RUN), stranger) == "UnauthorizedInstanceBinder"
    assert net.revert_error(B, reg.functions.setInstanceBinder(stranger), stranger) == "OwnableUnauthorizedAccount"
    receipt = net.transact(B, reg.functions.setInstanceBinder(stranger), DEPLOYER)
    ev = reg.events.InstanceBinderSet().process_receipt(receipt, errors=DISCARD)[0].args
    assert (ev.previousBinder, ev.newBinder) == (DEPLOYER, stranger)
    net.transact(B, reg.functions.setInstance(RUN), stranger)
    assert reg.functions.instanceId().call() == RUN
    # the zero binder leaves only the owner
    net.transact(B, reg.functions.setInstanceBinder("0x" + "00" * 20), DEPLOYER)
    assert net.revert_error(B, reg.functions.setInstance(RUN), stranger) == "UnauthorizedInstanceBinder"
    net.transact(B, reg.functions.setInstance(RUN), DEPLOYER)
