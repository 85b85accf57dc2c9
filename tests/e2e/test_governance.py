"""Cross-chain roles and ERA governance on a running devnet: real relayer, guardians, chains.

One devnet for the module (its own: governance takes ownership of the core contracts), with
roles and governance deployed by orchestrator.governance_deploy and driven through
services.governance.client (what the CLI wraps). Time moves with `advance_time`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from eth_account import Account
from web3.exceptions import ContractCustomError
from web3.logs import DISCARD

from orchestrator.client import SentMessage
from orchestrator.governance_deploy import deploy_governance, write_into_manifest
from services.common import manifest as manifest_models
from services.governance import client as gc
from services.governance.client import FOR
from services.governance.tx import ChainTxError, TxSender
from services.protocol import Attestation, Message, fetch_message_proofs, sign_attestation
from tests.e2e.conftest import Net, _start_net

HUB, ROLLUPS = "hub", ("rollup-a", "rollup-b")
PERIOD = 50
FEE_SIG = "setFeeConfig((uint128,uint128,uint16,uint16,uint16,address,address))"


@pytest.fixture(scope="module")
def gnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    with _start_net(tmp_path_factory.mktemp("gov"), 3700) as net:
        deployment = deploy_governance(net.manifest)
        write_into_manifest(net.devnet.manifest_path, deployment)
        net.manifest = manifest_models.load(net.devnet.manifest_path)
        yield net


def _c(net: Net, chain: str, name: str) -> Any:
    return net.contract(chain, name)


def _can_increment(net: Net, chain: str, account: str) -> bool:
    try:
        _c(net, chain, "RestrictedCounter").functions.increment().call({"from": account})
        return True
    except ContractCustomError:
        return False


def _wait_propagated(net: Net, ids: list[str]) -> None:
    assert len(ids) == len(ROLLUPS)
    net.wait_for("role change on every rollup", lambda: not gc.pending_role_messages(net.manifest), timeout=30)


def test_role_granted_on_the_hub_works_on_every_rollup_until_revoked(gnet: Net) -> None:
    operator = gnet.account(4)
    assert not any(_can_increment(gnet, c, operator) for c in ROLLUPS)
    _wait_propagated(gnet, gc.grant_role(gnet.manifest, "DAPP_OPERATOR", operator))
    shown = gc.role_status(gnet.manifest, operator)
    assert all(shown["chains"][c]["DAPP_OPERATOR"] for c in (HUB, *ROLLUPS)) and shown["pending"] == {}
    for chain in ROLLUPS:
        gnet.transact(chain, _c(gnet, chain, "RestrictedCounter").functions.increment(), account=4)
        assert _c(gnet, chain, "RestrictedCounter").functions.count().call() == 1
    _wait_propagated(gnet, gc.revoke_role(gnet.manifest, "DAPP_OPERATOR", operator))
    assert not any(_can_increment(gnet, c, operator) for c in (HUB, *ROLLUPS))


def test_forged_grants_are_refused(gnet: Net) -> None:
    target, victim = "rollup-a", gnet.account(5)
    manager = _c(gnet, target, "CrosschainAccessManager")
    executor = gnet.manifest.address("RoleExecutor")
    inner = bytes.fromhex(manager.functions.grantRole(1, victim, 0)._encode_transaction_data()[2:])
    payload = bytes(32) + bytes.fromhex(manager.address[2:]) + bytes(32) + inner
    forged = [
        gnet.send("rollup-b", target, payload, recipient=executor, account=0),
        gnet.send(HUB, target, payload, recipient=executor, account=0),
    ]
    gw = _c(gnet, target, "MetalayerGateway")

    def refused(msg: SentMessage) -> bool:  # the relayer's simulation sees the executor refuse it
        trace = gnet.trace(msg.id)
        return bool(trace) and trace["status"] in ("retrying", "failed") and "UnauthorizedGateway" in str(trace)

    gnet.wait_for("the relayer to find the forged grants refused", lambda: all(refused(m) for m in forged))
    for msg in forged:  # delivered anyway, by hand: the executor refuses, nothing runs
        receipt = gnet.relay(msg)
        assert gw.events.MessageFailed().process_receipt(receipt, errors=DISCARD), msg.id
    assert not gc.role_status(gnet.manifest, victim)["chains"][target]["DAPP_OPERATOR"]
    assert not _can_increment(gnet, target, victim)
    local = gnet.manifest.keys.deployer.private_key  # the bootstrap key is no admin on a rollup
    with pytest.raises(ChainTxError, match="NotFromHub"):
        TxSender(gnet.w3[target], local).send(manager.functions.grantRole(1, victim, 0), "local grant")


def _pass(net: Net, actions: list[gc.Action], description: str) -> int:
    pid = gc.propose(net.manifest, actions, description, net.manifest.accounts[1].private_key)
    gc.advance_time(net.manifest, blocks=2)
    assert gc.vote(net.manifest, pid, FOR, net.manifest.accounts[1].private_key) > 0
    gc.advance_time(net.manifest, seconds=PERIOD * 12, blocks=PERIOD + 1)
    gc.execute(net.manifest, pid, net.manifest.accounts[9].private_key)
    net.wait_for(
        "execution on every chain",
        lambda: all(c["executed"] for c in gc.proposal_status(net.manifest, pid)["chains"]),
        timeout=30,
    )
    return pid


def test_one_proposal_changes_fees_on_every_chain(gnet: Net) -> None:
    gc.delegate(gnet.manifest, gnet.manifest.accounts[1].private_key)
    cfg = list(_c(gnet, HUB, "MetalayerGateway").functions.feeConfig().call())
    cfg[0], cfg[1] = 777 * 10**12, 3
    pid = _pass(gnet, gc.every_chain(gnet.manifest, "MetalayerGateway", FEE_SIG, [tuple(cfg)]), "new fees")
    status = gc.proposal_status(gnet.manifest, pid)
    assert status["state"] == "Executed" and [c["chain"] for c in status["chains"]] == [HUB, *ROLLUPS]
    for chain in (HUB, *ROLLUPS):
        other = gnet.chain("rollup-a" if chain == HUB else HUB).chain_id
        assert _c(gnet, chain, "MetalayerGateway").functions.quoteFee(other, 10).call() == 777 * 10**12 + 30


def _deliver_signed_by(net: Net, sent: SentMessage, keys: list[str], call_only: bool) -> Any:
    src, dst = net.chain(sent.source), net.chain(sent.destination)
    att = Attestation.from_block(src.chain_id, net.w3[src.name].eth.get_block(sent.block))
    message = Message(sent.source, sent.destination, sent.nonce, sent.sender, sent.recipient, sent.payload)
    account_proof, storage_proofs = fetch_message_proofs(
        net.w3[src.name], net.manifest.address("MetalayerGateway"), [message], sent.block
    )
    fn = net.contract(dst.name, "MetalayerGateway").functions.attestAndDeliverBatch(
        att.as_tuple(),
        [sign_attestation(att, k, net.manifest.instance_id or "") for k in keys],
        account_proof,
        [message.as_tuple()],
        storage_proofs,
    )
    return fn.call({"from": net.account(9)}) if call_only else net.transact(dst.name, fn)


def _attest_call(net: Net, chain: str, source: str, keys: list[str]) -> None:
    """eth_call submitAttestation for a fresh source block (a stored one would skip the signature check)."""
    net.w3[source].provider.make_request("anvil_mine", ["0x1"])  # type: ignore[arg-type]
    att = Attestation.from_block(net.chain(source).chain_id, net.w3[source].eth.get_block("latest"))
    registry = _c(net, chain, "StateRootRegistry")
    registry.functions.submitAttestation(
        att.as_tuple(), [sign_attestation(att, k, net.manifest.instance_id or "") for k in keys]
    ).call({"from": net.account(9)})


def test_one_proposal_adds_a_guardian_whose_signature_then_counts(gnet: Net) -> None:
    newcomer, stranger = Account.create(), Account.create()
    new_key = "0x" + newcomer.key.hex().removeprefix("0x")
    stranger_key = "0x" + stranger.key.hex().removeprefix("0x")
    g1 = gnet.manifest.guardians.members[1].private_key
    registry = _c(gnet, HUB, "StateRootRegistry")
    guardians, threshold = registry.functions.getGuardians().call(), registry.functions.threshold().call()
    assert threshold == 2
    routes = [(HUB, "rollup-a"), ("rollup-a", "rollup-b"), ("rollup-b", HUB)]  # a delivery onto every chain
    for source, chain in routes:  # one known guardian + the newcomer: not enough yet
        with pytest.raises(ContractCustomError):
            _attest_call(gnet, chain, source, [g1, new_key])
    gc.delegate(gnet.manifest, gnet.manifest.accounts[1].private_key)
    _pass(
        gnet,
        gc.every_chain(
            gnet.manifest,
            "StateRootRegistry",
            "setGuardians(address[],uint256)",
            [[*guardians, newcomer.address], threshold],
        ),
        "add a guardian",
    )
    for chain in (HUB, *ROLLUPS):
        assert _c(gnet, chain, "StateRootRegistry").functions.isGuardian(newcomer.address).call(), chain
    gnet.supervisor.stop_service("relayer")  # so the deliveries below are ours, signed by g1 + the newcomer
    try:
        sent = [gnet.send(s, d, b"needs the newcomer", account=2) for s, d in routes]
        for msg in sent:
            with pytest.raises(ContractCustomError):  # control: g1 + a non-guardian is still refused
                _deliver_signed_by(gnet, msg, [g1, stranger_key], call_only=True)
            receipt = _deliver_signed_by(gnet, msg, [g1, new_key], call_only=False)
            assert receipt.status == 1 and gnet.is_delivered(msg)
    finally:
        gnet.supervisor.start_service("relayer")
