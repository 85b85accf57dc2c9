"""Mirrored role changes in any delivery order: every rollup ends in the hub's state, per setting.

ERC-7786 gives no ordering and anyone may deliver a message, so the hub stamps each mirrored
change with a version (CrosschainAccessManager.mirrorVersion) and a rollup applies it only to the
settings whose applied version is older (settingVersion); an older change is a no-op that still
succeeds. Deliveries are played by hand (`net.deliver`, sent by a dev account with no role).
"""

from __future__ import annotations

from typing import Any

import pytest
from web3.logs import DISCARD

from orchestrator.governance_deploy import DAPP_OPERATOR_ROLE
from services.governance import client as gc
from services.governance.roles import FUNCTION_ROLE, MEMBER, member_key, setting_key
from tests.contracts.conftest import DEPLOYER, DEV
from tests.contracts.governance_fixture import ROLLUPS, gov_fixture  # noqa: F401  (fixture "gov")

HUB = "hub"
OPERATOR = DEV[4].address
OTHER_SELECTOR = b"\x12\x34\x56\x78"


def _manager(gov: Any, chain: str) -> Any:
    return gov.c(chain, "CrosschainAccessManager")


def _hub_change(gov: Any, net: Any, fn: Any) -> dict[str, Any]:
    """Run `fn` on the hub manager (as the deployer); its message to each rollup, by rollup name."""
    receipt = net.transact(HUB, fn, DEPLOYER)
    names = {cid: name for name, cid in net.chain_id.items()}
    return {names[m.destination_chain_id]: m for m in net.messages_in(HUB, receipt)}


def _member_change(gov: Any, net: Any, grant: bool) -> dict[str, Any]:
    hub = _manager(gov, HUB).functions
    fn = hub.grantRole(DAPP_OPERATOR_ROLE, OPERATOR, 0) if grant else hub.revokeRole(DAPP_OPERATOR_ROLE, OPERATOR)
    return _hub_change(gov, net, fn)


def _has(gov: Any, chain: str) -> bool:
    return bool(_manager(gov, chain).functions.hasRole(DAPP_OPERATOR_ROLE, OPERATOR).call()[0])


@pytest.mark.parametrize("ends_granted", [False, True], ids=["grant-then-revoke", "revoke-then-grant"])
def test_reordered_changes_end_as_on_the_hub(gov: Any, net: Any, ends_granted: bool) -> None:
    if ends_granted:  # a member first, so that the revoke is a real change
        for chain, msg in _member_change(gov, net, grant=True).items():
            net.deliver(HUB, chain, msg)
    first = _member_change(gov, net, grant=not ends_granted)
    last = _member_change(gov, net, grant=ends_granted)
    net.deliver(HUB, "rollup-a", last["rollup-a"])  # the newer change lands first on rollup-a
    stale = net.deliver(HUB, "rollup-a", first["rollup-a"])
    for msg in (first["rollup-b"], last["rollup-b"]):  # in order on rollup-b
        net.deliver(HUB, "rollup-b", msg)
    key, version = member_key(DAPP_OPERATOR_ROLE, OPERATOR), _manager(gov, HUB).functions.mirrorVersion().call()
    ignored = _manager(gov, "rollup-a").events.StaleChangeIgnored().process_receipt(stale, errors=DISCARD)
    assert [(e.args.key, e.args.version, e.args.applied) for e in ignored] == [(key, version - 1, version)]
    executed = gov.c("rollup-a", "RoleExecutor").events.RemoteExecuted().process_receipt(stale, errors=DISCARD)
    assert executed, "the stale change is delivered (a no-op), not left failing"
    assert {c: _has(gov, c) for c in (HUB, *ROLLUPS)} == dict.fromkeys((HUB, *ROLLUPS), ends_granted)
    counter = gov.c("rollup-a", "RestrictedCounter").functions.increment()
    if not ends_granted:
        assert net.revert_error("rollup-a", counter, OPERATOR) == "AccessManagedUnauthorized"
    assert all(_manager(gov, c).functions.settingVersion(key).call() == version for c in (HUB, *ROLLUPS))
    status = gc.role_status(gov.manifest, OPERATOR)
    assert status["behind"] == {} and status["pending"] == {}
    assert all(status["versions"][c]["DAPP_OPERATOR"] == version for c in (HUB, *ROLLUPS))


def test_a_lost_change_blocks_nothing_and_shows_as_behind(gov: Any, net: Any) -> None:
    grant = _member_change(gov, net, grant=True)
    net.deliver(HUB, "rollup-a", grant["rollup-a"])  # rollup-b's copy is lost for now
    status = gc.role_status(gov.manifest, OPERATOR)
    assert status["behind"] == {"rollup-b": ["DAPP_OPERATOR"]} and list(status["pending"]) == ["rollup-b"]
    revoke = _member_change(gov, net, grant=False)
    for chain in ROLLUPS:  # the later change applies although the earlier one never arrived
        net.deliver(HUB, chain, revoke[chain])
    assert gc.role_status(gov.manifest, OPERATOR)["behind"] == {}
    net.deliver(HUB, "rollup-b", grant["rollup-b"])  # found and delivered late: changes nothing
    assert not any(_has(gov, c) for c in (HUB, *ROLLUPS))
    status = gc.role_status(gov.manifest, OPERATOR)
    assert status["behind"] == {} and status["pending"] == {}


def test_each_selector_keeps_its_newest_function_role(gov: Any, net: Any) -> None:
    counter = gov.addr["RestrictedCounter"]
    increment = bytes.fromhex(gov.c(HUB, "RestrictedCounter").functions.increment()._encode_transaction_data()[2:10])
    hub = _manager(gov, HUB).functions
    both = _hub_change(gov, net, hub.setTargetFunctionRole(counter, [increment, OTHER_SELECTOR], 5))
    one = _hub_change(gov, net, hub.setTargetFunctionRole(counter, [increment], 7))
    net.deliver(HUB, "rollup-a", one["rollup-a"])
    net.deliver(HUB, "rollup-a", both["rollup-a"])  # older: only OTHER_SELECTOR has no newer change
    for chain in (HUB, "rollup-a"):
        roles = _manager(gov, chain).functions.getTargetFunctionRole
        assert (roles(counter, increment).call(), roles(counter, OTHER_SELECTOR).call()) == (7, 5), chain


def test_setting_keys_match_the_contract(gov: Any) -> None:
    manager = _manager(gov, HUB).functions
    assert manager.settingKey(MEMBER, 1, int(OPERATOR, 16)).call() == member_key(1, OPERATOR)
    selector = int.from_bytes(OTHER_SELECTOR, "big")
    subject = int(gov.addr["RestrictedCounter"], 16)
    assert manager.settingKey(FUNCTION_ROLE, subject, selector).call() == setting_key(FUNCTION_ROLE, subject, selector)


def test_only_the_executor_applies_hub_changes(gov: Any, net: Any) -> None:
    executor = gov.addr["RoleExecutor"]
    grant = _manager(gov, HUB).functions.grantRole(DAPP_OPERATOR_ROLE, OPERATOR, 0)._encode_transaction_data()
    for chain in ROLLUPS:  # the executor too: a change without a version cannot jump the queue
        rollup = _manager(gov, chain).functions
        assert net.revert_error(chain, rollup.grantRole(DAPP_OPERATOR_ROLE, OPERATOR, 0), executor) == "NotFromHub"
        assert net.revert_error(chain, rollup.configureMirror([], DEPLOYER), executor) == "NotFromHub"
        forged = rollup.applyHubChange(2**200, bytes.fromhex(grant[2:]))
        assert net.revert_error(chain, forged, DEPLOYER) == "NotFromHub"
    hub_apply = _manager(gov, HUB).functions.applyHubChange(1, bytes.fromhex(grant[2:]))
    assert net.revert_error(HUB, hub_apply, DEPLOYER) == "NotFromHub"
    assert not any(_has(gov, c) for c in (HUB, *ROLLUPS))
