"""Cross-chain roles: the hub's CrosschainAccessManager is the source of truth for every rollup.

Deliveries are played by hand here (no relayer); tests/e2e/test_governance.py runs the same
flow through the relayer.
"""

from __future__ import annotations

from web3.logs import DISCARD

from orchestrator.governance_deploy import ADMIN_ROLE, DAPP_OPERATOR_ROLE, deploy_governance
from services.protocol import encode_evm
from tests.contracts.conftest import DEPLOYER, DEV
from tests.contracts.governance_fixture import ROLLUPS, gov_fixture  # noqa: F401  (fixture "gov")

HUB = "hub"
OPERATOR = DEV[4].address


def _grant(gov, role, account):
    manager = gov.c(HUB, "CrosschainAccessManager")
    return gov.net.transact(HUB, manager.functions.grantRole(role, account, 0), DEPLOYER)


def _has(gov, chain, role, account):
    return gov.c(chain, "CrosschainAccessManager").functions.hasRole(role, account).call()[0]


def test_deployment_layout_and_handover(gov, net):
    hub_id = net.chain_id[HUB]
    for chain in (HUB, *ROLLUPS):
        manager = gov.c(chain, "CrosschainAccessManager")
        assert net.w3[chain].eth.get_code(gov.addr["CrosschainAccessManager"]), chain
        assert manager.functions.hubChainId().call() == hub_id
        assert gov.c(chain, "RestrictedCounter").functions.authority().call() == manager.address
    for chain in ROLLUPS:
        assert _has(gov, chain, ADMIN_ROLE, gov.addr["RoleExecutor"])
        assert not _has(gov, chain, ADMIN_ROLE, DEPLOYER)
        assert gov.c(chain, "RoleExecutor").functions.controller().call() == encode_evm(
            hub_id, gov.addr["CrosschainAccessManager"]
        )
        assert gov.c(chain, "GovernanceExecutor").functions.controller().call() == encode_evm(
            hub_id, gov.addr["MetalayerGovernor"]
        )
        for name in ("MetalayerGateway", "StateRootRegistry"):
            assert net.c(chain, name).functions.owner().call() == gov.addr["GovernanceExecutor"], (chain, name)
        assert not net.w3[chain].eth.get_code(gov.addr["MetalayerGovernor"])
    for name in ("MetalayerGateway", "StateRootRegistry", "GuardianStaking"):
        assert net.c(HUB, name).functions.owner().call() == gov.addr["MetalayerGovernor"], name
    assert _has(gov, HUB, ADMIN_ROLE, gov.addr["MetalayerGovernor"]) and _has(gov, HUB, ADMIN_ROLE, DEPLOYER)
    gw = net.c("rollup-a", "MetalayerGateway")
    cfg = tuple(gw.functions.feeConfig().call())
    assert net.revert_error("rollup-a", gw.functions.setFeeConfig(cfg), DEPLOYER) == "OwnableUnauthorizedAccount"


def test_redeploy_sends_nothing(gov, artifacts):
    again = deploy_governance(gov.manifest, artifacts=artifacts)
    assert again.contracts == gov.addr
    assert sum(again.transactions.values()) == 0


def test_grant_on_hub_reaches_every_rollup_and_revoke_removes_it(gov, net):
    counter = {c: gov.c(c, "RestrictedCounter") for c in (HUB, *ROLLUPS)}
    for chain in ROLLUPS:
        assert net.revert_error(chain, counter[chain].functions.increment(), OPERATOR) == "AccessManagedUnauthorized"
    receipt = _grant(gov, DAPP_OPERATOR_ROLE, OPERATOR)
    mirrored = (
        gov.c(HUB, "CrosschainAccessManager").events.RoleChangeMirrored().process_receipt(receipt, errors=DISCARD)
    )
    assert sorted(e.args.destinationChainId for e in mirrored) == sorted(net.chain_id[c] for c in ROLLUPS)
    net.transact(HUB, counter[HUB].functions.increment(), OPERATOR)  # the hub grant is immediate
    assert not _has(gov, "rollup-a", DAPP_OPERATOR_ROLE, OPERATOR)  # not before delivery
    deliveries = gov.deliver_all(receipt)
    for chain in ROLLUPS:
        executor = gov.c(chain, "RoleExecutor")
        assert executor.events.RemoteExecuted().process_receipt(deliveries[chain], errors=DISCARD)
        assert _has(gov, chain, DAPP_OPERATOR_ROLE, OPERATOR)
        net.transact(chain, counter[chain].functions.increment(), OPERATOR)
        assert counter[chain].functions.count().call() == 1
    manager = gov.c(HUB, "CrosschainAccessManager")
    gov.deliver_all(net.transact(HUB, manager.functions.revokeRole(DAPP_OPERATOR_ROLE, OPERATOR), DEPLOYER))
    for chain in (HUB, *ROLLUPS):
        assert not _has(gov, chain, DAPP_OPERATOR_ROLE, OPERATOR)
        assert net.revert_error(chain, counter[chain].functions.increment(), OPERATOR) == "AccessManagedUnauthorized"


def test_renounce_on_hub_revokes_everywhere(gov, net):
    gov.deliver_all(_grant(gov, DAPP_OPERATOR_ROLE, OPERATOR))
    manager = gov.c(HUB, "CrosschainAccessManager")
    gov.deliver_all(net.transact(HUB, manager.functions.renounceRole(DAPP_OPERATOR_ROLE, OPERATOR), OPERATOR))
    assert not any(_has(gov, c, DAPP_OPERATOR_ROLE, OPERATOR) for c in (HUB, *ROLLUPS))


def test_rollup_local_admin_cannot_grant(gov, net):
    other = DEV[6].address
    admin = DEV[5].address
    gov.deliver_all(_grant(gov, ADMIN_ROLE, admin))  # an ADMIN everywhere, through the hub
    for chain in ROLLUPS:
        manager = gov.c(chain, "CrosschainAccessManager")
        assert _has(gov, chain, ADMIN_ROLE, admin)
        for fn in (
            manager.functions.grantRole(DAPP_OPERATOR_ROLE, other, 0),
            manager.functions.revokeRole(ADMIN_ROLE, gov.addr["RoleExecutor"]),
            manager.functions.setTargetFunctionRole(gov.addr["RestrictedCounter"], [b"\xd0\x9d\xe0\x8a"], 2**64 - 1),
            manager.functions.configureMirror([], admin),
        ):
            assert net.revert_error(chain, fn, admin) == "NotFromHub", (chain, fn.fn_name)
        assert (
            net.revert_error(chain, manager.functions.grantRole(DAPP_OPERATOR_ROLE, other, 0), DEPLOYER) == "NotFromHub"
        )
        assert not _has(gov, chain, DAPP_OPERATOR_ROLE, other)


def test_forged_grants_have_no_effect(gov, net):
    target = "rollup-a"
    manager = gov.c(target, "CrosschainAccessManager")
    inner = manager.functions.grantRole(DAPP_OPERATOR_ROLE, OPERATOR, 0)._encode_transaction_data()
    payload = bytes(32) + bytes.fromhex(manager.address[2:]) + bytes(32) + bytes.fromhex(inner[2:])
    executor = gov.c(target, "RoleExecutor")
    gw = net.c(target, "MetalayerGateway")
    # the right payload, from another chain (rollup-b) and from another sender on the hub
    for src, sender in (("rollup-b", DEV[0].address), (HUB, DEV[0].address)):
        msg, _ = net.send_message(src, target, executor.address, payload, sender)
        receipt = net.deliver(src, target, msg)
        failed = gw.events.MessageFailed().process_receipt(receipt, errors=DISCARD)
        assert failed and net.decode_error(failed[0].args.reason) == "ERC7786RecipientUnauthorizedGateway", src
        assert not gw.functions.isDelivered(net.chain_id[src], msg.nonce).call()
    # straight to the executor, not through the gateway
    forged = executor.functions.receiveMessage(b"\x11" * 32, encode_evm(net.chain_id[HUB], manager.address), payload)
    assert net.revert_error(target, forged, DEV[0].address) == "ERC7786RecipientUnauthorizedGateway"
    assert (
        net.revert_error(target, manager.functions.grantRole(DAPP_OPERATOR_ROLE, OPERATOR, 0), DEV[0].address)
        == "NotFromHub"
    )
    assert not _has(gov, target, DAPP_OPERATOR_ROLE, OPERATOR)


def test_only_hub_admins_grant_on_the_hub(gov, net):
    manager = gov.c(HUB, "CrosschainAccessManager")
    assert (
        net.revert_error(HUB, manager.functions.grantRole(DAPP_OPERATOR_ROLE, OPERATOR, 0), OPERATOR)
        == "AccessManagerUnauthorizedAccount"
    )
    assert (
        net.revert_error(HUB, manager.functions.configureMirror([], OPERATOR), OPERATOR)
        == "AccessManagerUnauthorizedAccount"
    )


def test_the_executors_admin_cannot_be_revoked_from_the_hub(gov, net):
    manager = gov.c(HUB, "CrosschainAccessManager")
    fn = manager.functions.revokeRole(ADMIN_ROLE, gov.addr["RoleExecutor"])
    assert net.revert_error(HUB, fn, DEPLOYER) == "ExecutorAdminLocked"


def test_custom_role_admins_are_mirrored_too(gov, net):
    manager = gov.c(HUB, "CrosschainAccessManager")
    lead, member, dapp_admin = DEV[6].address, DEV[7].address, 5
    gov.deliver_all(net.transact(HUB, manager.functions.setRoleAdmin(DAPP_OPERATOR_ROLE, dapp_admin), DEPLOYER))
    gov.deliver_all(_grant(gov, dapp_admin, lead))
    # the lead (not an ADMIN) grants on the hub; the rollups replay it although the executor is no dapp admin
    gov.deliver_all(net.transact(HUB, manager.functions.grantRole(DAPP_OPERATOR_ROLE, member, 0), lead))
    for chain in ROLLUPS:
        assert gov.c(chain, "CrosschainAccessManager").functions.getRoleAdmin(DAPP_OPERATOR_ROLE).call() == dapp_admin
        assert _has(gov, chain, DAPP_OPERATOR_ROLE, member)
        assert not _has(gov, chain, dapp_admin, gov.addr["RoleExecutor"])


def test_update_authority_on_the_hub_moves_the_contract_on_every_rollup(gov, net):
    counter, new_authority = gov.addr["RestrictedCounter"], net.addr["MetalayerGateway"]  # any contract will do
    for chain in ROLLUPS:  # not locally, even by the bootstrap key or the executor
        rollup = gov.c(chain, "CrosschainAccessManager").functions
        for sender in (DEPLOYER, gov.addr["RoleExecutor"], gov.addr["GovernanceExecutor"]):
            assert net.revert_error(chain, rollup.updateAuthority(counter, new_authority), sender) == "NotFromHub"
    manager = gov.c(HUB, "CrosschainAccessManager")
    deliveries = gov.deliver_all(net.transact(HUB, manager.functions.updateAuthority(counter, new_authority), DEPLOYER))
    assert sorted(deliveries) == sorted(ROLLUPS)
    for chain in (HUB, *ROLLUPS):
        assert gov.c(chain, "RestrictedCounter").functions.authority().call() == new_authority, chain
