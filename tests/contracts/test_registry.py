"""StateRootRegistry: attestations (quorum, errors), roots, guardian-set authority."""

from __future__ import annotations

from eth_account import Account
from web3.logs import DISCARD

from orchestrator import keys
from services.protocol import (
    ATTESTATION_SUBMITTED_TOPIC,
    Attestation,
    StoredRoot,
    encode_evm,
    equivocations,
    sign_attestation,
)
from tests.contracts.conftest import DEPLOYER, DEV

A, B, HUB = "rollup-a", "rollup-b", "hub"


def test_getters_after_deploy(net, devnet_config):
    reg = net.c(B, "StateRootRegistry")
    guardians = [keys.guardian_key(i).address for i in range(devnet_config.guardians.count)]
    assert reg.functions.getGuardians().call() == guardians
    assert reg.functions.threshold().call() == devnet_config.guardians.threshold
    assert all(reg.functions.isGuardian(g).call() for g in guardians)
    assert not reg.functions.isGuardian(DEV[0].address).call()
    assert reg.functions.isTracked(net.chain_id[A]).call() and reg.functions.isTracked(net.chain_id[HUB]).call()
    assert not reg.functions.isTracked(net.chain_id[B]).call()
    assert reg.functions.owner().call() == DEPLOYER
    assert reg.functions.hubChainId().call() == net.chain_id[HUB]
    assert reg.functions.hubStaking().call() == net.addr["GuardianStaking"]
    assert reg.functions.gateway().call() == net.addr["MetalayerGateway"]


def test_submit_with_two_and_three_signatures(net):
    reg = net.c(B, "StateRootRegistry")
    att = net.attestation(A)
    receipt = net.transact(B, reg.functions.submitAttestation(att.as_tuple(), net.signatures(att, (0, 1))), DEV[3].address)
    ev = reg.events.AttestationSubmitted().process_receipt(receipt, errors=DISCARD)[0].args
    assert (ev.chainId, ev.blockNumber, ev.blockHash, ev.stateRoot) == att.as_tuple()
    assert reg.functions.rootAt(net.chain_id[A], att.block_number).call() == att.state_root
    assert reg.functions.blockHashAt(net.chain_id[A], att.block_number).call() == att.block_hash
    assert reg.functions.latestRoot(net.chain_id[A]).call() == [att.block_number, att.block_hash, att.state_root]
    assert reg.functions.rootAt(net.chain_id[A], att.block_number + 1).call() == b"\0" * 32
    # a later block with all three guardians, in any order
    net.transact(A, net.c(A, "EraToken").functions.transfer(DEV[1].address, 1), DEV[0].address)
    att2 = net.attestation(A)
    net.transact(B, reg.functions.submitAttestation(att2.as_tuple(), net.signatures(att2, (2, 0, 1))), DEV[3].address)
    assert reg.functions.latestRoot(net.chain_id[A]).call()[0] == att2.block_number
    # an older block attested later does not move `latest` back
    old = net.attestation(A, att.block_number - 1)
    net.transact(B, reg.functions.submitAttestation(old.as_tuple(), net.signatures(old)), DEV[3].address)
    assert reg.functions.latestRoot(net.chain_id[A]).call()[0] == att2.block_number
    assert reg.functions.rootAt(net.chain_id[A], old.block_number).call() == old.state_root
    # re-submitting a stored attestation is a no-op (even with no signatures)
    receipt = net.transact(B, reg.functions.submitAttestation(att.as_tuple(), []), DEV[3].address)
    assert not reg.events.AttestationSubmitted().process_receipt(receipt, errors=DISCARD)


def test_signature_errors(net):
    reg = net.c(B, "StateRootRegistry")
    att = net.attestation(A)
    stranger = Account.create()
    bad = sign_attestation(att, stranger.key, net.instance_id)
    g0, g1 = net.signatures(att, (0, 1))
    submit = reg.functions.submitAttestation
    assert net.revert_error(B, submit(att.as_tuple(), [g0, bad])) == "NotGuardian"
    assert net.revert_error(B, submit(att.as_tuple(), [g0, g0])) == "DuplicateSigner"
    assert net.revert_error(B, submit(att.as_tuple(), [g1])) == "InsufficientSignatures"
    assert net.revert_error(B, submit(att.as_tuple(), [])) == "InsufficientSignatures"
    # signatures over another attestation recover to other addresses: not guardians
    other = Attestation(att.chain_id, att.block_number, att.block_hash, b"\x01" * 32)
    assert net.revert_error(B, submit(other.as_tuple(), [g0, g1])) == "NotGuardian"
    # malformed signature
    assert net.revert_error(B, submit(att.as_tuple(), [g0, g1[:64]])) == "ECDSAInvalidSignatureLength"
    # verifySignatures is the same check as a view
    reg.functions.verifySignatures(att.digest(net.instance_id), [g0, g1]).call()
    assert net.revert_error(B, reg.functions.verifySignatures(att.digest(net.instance_id), [g0, g0])) == "DuplicateSigner"


def test_wrong_chain_and_conflicts(net):
    reg = net.c(B, "StateRootRegistry")
    own = net.attestation(B)
    assert net.revert_error(B, reg.functions.submitAttestation(own.as_tuple(), net.signatures(own))) == "OwnChain"
    a = net.attestation(A)
    unknown = Attestation(4242, a.block_number, a.block_hash, a.state_root)
    assert net.revert_error(B, reg.functions.submitAttestation(unknown.as_tuple(), net.signatures(unknown))) == "UntrackedChain"
    net.transact(B, reg.functions.submitAttestation(a.as_tuple(), net.signatures(a)), DEV[3].address)
    forged = Attestation(a.chain_id, a.block_number, a.block_hash, b"\x02" * 32)
    assert net.revert_error(B, reg.functions.submitAttestation(forged.as_tuple(), net.signatures(forged))) == "ConflictingRoot"
    # tracking is the owner's decision
    assert net.revert_error(B, reg.functions.setTrackedChain(4242, True), DEV[0].address) == "OwnableUnauthorizedAccount"
    net.transact(B, reg.functions.setTrackedChain(4242, True), DEPLOYER)
    net.transact(B, reg.functions.submitAttestation(unknown.as_tuple(), net.signatures(unknown)), DEV[3].address)
    assert net.revert_error(B, reg.functions.setTrackedChain(net.chain_id[B], True), DEPLOYER) == "OwnChain"


def test_guardian_set_authority(net):
    reg = net.c(B, "StateRootRegistry")
    new = [DEV[7].address, DEV[8].address]
    # unauthorized changes
    assert net.revert_error(B, reg.functions.setGuardians(new, 1), DEV[0].address) == "UnauthorizedGuardianChange"
    assert net.revert_error(B, reg.functions.removeGuardian(keys.guardian_key(0).address), DEV[0].address) == "UnauthorizedGuardianChange"
    # even the staking contract address cannot call removeGuardian off the hub
    assert net.revert_error(B, reg.functions.removeGuardian(keys.guardian_key(0).address), net.addr["GuardianStaking"]) == "UnauthorizedGuardianChange"
    assert net.revert_error(B, reg.functions.receiveMessage(b"\0" * 32, encode_evm(net.chain_id[HUB], net.addr["GuardianStaking"]), b""), DEV[0].address) == "ERC7786RecipientUnauthorizedGateway"
    # invalid sets
    assert net.revert_error(B, reg.functions.setGuardians(new, 3), DEPLOYER) == "InvalidThreshold"
    assert net.revert_error(B, reg.functions.setGuardians(new, 0), DEPLOYER) == "InvalidThreshold"
    assert net.revert_error(B, reg.functions.setGuardians([DEV[7].address, DEV[7].address], 1), DEPLOYER) == "InvalidGuardianSet"
    assert net.revert_error(B, reg.functions.setGuardians([], 0), DEPLOYER) == "InvalidGuardianSet"
    # the bootstrap owner replaces the set
    receipt = net.transact(B, reg.functions.setGuardians(new, 1), DEPLOYER)
    ev = reg.events.GuardianSetChanged().process_receipt(receipt, errors=DISCARD)[0].args
    assert list(ev.guardians) == new and ev.threshold == 1
    assert not reg.functions.isGuardian(keys.guardian_key(0).address).call()
    att = net.attestation(A)
    assert net.revert_error(B, reg.functions.submitAttestation(att.as_tuple(), net.signatures(att))) == "NotGuardian"
    by_new_set = [sign_attestation(att, DEV[8].private_key, net.instance_id)]
    net.transact(B, reg.functions.submitAttestation(att.as_tuple(), by_new_set), DEV[3].address)


def test_hub_message_from_wrong_sender_is_refused(net):
    """A message to a rollup registry from anything but GuardianStaking on the hub fails (retryable)."""
    g0 = keys.guardian_key(0).address
    payload = net.c(B, "StateRootRegistry").encode_abi("removeGuardian", args=[g0])
    msg, _ = net.send_message(HUB, B, net.addr["StateRootRegistry"], bytes.fromhex(payload[2:]), DEV[0].address)
    receipt = net.deliver(HUB, B, msg)
    gw = net.c(B, "MetalayerGateway")
    failed = gw.events.MessageFailed().process_receipt(receipt, errors=DISCARD)
    assert len(failed) == 1 and net.decode_error(failed[0].args.reason) == "ERC7786RecipientUnauthorizedGateway"
    assert net.c(B, "StateRootRegistry").functions.isGuardian(g0).call()
    # same message from rollup-a (a chain that is not the hub) is refused too
    msg, _ = net.send_message(A, B, net.addr["StateRootRegistry"], bytes.fromhex(payload[2:]), DEV[0].address)
    receipt = net.deliver(A, B, msg)
    assert len(gw.events.MessageFailed().process_receipt(receipt, errors=DISCARD)) == 1


def test_instance_binds_signatures_to_one_run(net, artifacts):
    """Signatures of a previous `devnet up` (another instance id) are refused; only the binder or owner binds."""
    reg = net.c(B, "StateRootRegistry")
    assert reg.functions.instanceId().call() == bytes.fromhex(net.instance_id[2:])
    att = net.attestation(A)
    old_sigs = net.signatures(att)
    next_run = "0x" + "42" * 32
    by_stranger = reg.functions.setInstance(bytes.fromhex(next_run[2:]))
    assert net.revert_error(B, by_stranger, DEV[0].address) == "UnauthorizedInstanceBinder"
    assert net.revert_error(B, reg.functions.setInstance(b"\0" * 32), DEPLOYER) == "InvalidInstance"
    receipt = net.transact(B, reg.functions.setInstance(bytes.fromhex(next_run[2:])), DEPLOYER)
    ev = reg.events.InstanceSet().process_receipt(receipt, errors=DISCARD)[0].args
    assert ev.instanceId == bytes.fromhex(next_run[2:]) and ev.domainSeparator == reg.functions.domainSeparator().call()
    # the previous run's signatures recover to strangers now
    assert net.revert_error(B, reg.functions.submitAttestation(att.as_tuple(), old_sigs)) == "NotGuardian"
    new_sigs = [sign_attestation(att, keys.guardian_key(i).private_key, next_run) for i in (0, 1)]
    net.transact(B, reg.functions.submitAttestation(att.as_tuple(), new_sigs), DEV[3].address)
    # a registry no instance was set on accepts nothing
    fresh = net.deploy(B, "StateRootRegistry", DEPLOYER)
    net.transact(B, fresh.functions.setTrackedChain(net.chain_id[A], True), DEPLOYER)
    net.transact(B, fresh.functions.setGuardians([keys.guardian_key(i).address for i in range(3)], 2), DEPLOYER)
    assert net.revert_error(B, fresh.functions.submitAttestation(att.as_tuple(), new_sigs)) == "InstanceNotSet"
    assert net.revert_error(B, fresh.functions.attestationDigest(att.as_tuple())) == "InstanceNotSet"


def test_stored_roots_log_their_signers_which_makes_a_forged_root_slashable(net):
    """A quorum stores a made-up root; its signatures from the log + its honest ones = evidence."""
    reg = net.c(B, "StateRootRegistry")
    real = net.attestation(A)
    forged = Attestation(real.chain_id, real.block_number, real.block_hash, b"\x0f" * 32)
    sigs = net.signatures(forged, (0, 1))
    receipt = net.transact(B, reg.functions.submitAttestation(forged.as_tuple(), sigs), DEV[3].address)
    ev = reg.events.AttestationSubmitted().process_receipt(receipt, errors=DISCARD)[0].args
    assert list(ev.signers) == [keys.guardian_key(0).address, keys.guardian_key(1).address]
    assert list(ev.signatures) == sigs
    # the honest root of that block now conflicts on B ...
    honest = net.signatures(real, (0, 1))
    assert net.revert_error(B, reg.functions.submitAttestation(real.as_tuple(), honest)) == "ConflictingRoot"
    # ... and what a watchtower finds (the raw log by (chain, block), honest signatures) is evidence
    logs = net.w3[B].provider.make_request("eth_getLogs", [{
        "address": reg.address, "fromBlock": "0x0", "toBlock": "latest",
        "topics": [ATTESTATION_SUBMITTED_TOPIC, "0x" + real.chain_id.to_bytes(32, "big").hex(),
                   "0x" + real.block_number.to_bytes(32, "big").hex()]}])["result"]
    stored = StoredRoot.from_log(logs[0])
    assert stored.attestation == forged and stored.signatures == tuple(sigs)
    other_run = [(real, sign_attestation(real, keys.guardian_key(0).private_key, "0x" + "99" * 32))]
    assert not list(equivocations(stored, other_run, net.instance_id))
    found = list(equivocations(stored, [(real, honest[1]), (real, b"\x00" * 65), (forged, honest[0])],
                               net.instance_id))
    assert [e.guardian for e in found] == [keys.guardian_key(1).address]
    st = net.c(HUB, "GuardianStaking")
    receipt = net.transact(HUB, st.functions.slash(*found[0].slash_args()), DEV[6].address)
    assert st.events.Slashed().process_receipt(receipt, errors=DISCARD)[0].args.guardian == keys.guardian_key(1).address
