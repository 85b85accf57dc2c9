"""MetalayerGateway: sending, fees, proven delivery (single, batch, attest+deliver), failures, reads."""

from __future__ import annotations

from eth_utils import keccak, to_checksum_address
from web3.logs import DISCARD

from orchestrator import keys
from services.protocol import Message, compress_storage_proofs, encode_evm, fetch_proof
from tests.contracts.conftest import DEPLOYER, DEV

A, B, HUB = "rollup-a", "rollup-b", "hub"


def _toggle(net, chain):
    return net.deploy(chain, "ToggleRecipient", net.addr["MetalayerGateway"])


def test_send_and_deliver_a_to_b_by_hand(net):
    recipient = _toggle(net, B)
    payload = b"hello from rollup-a"
    msg, receipt = net.send_message(A, B, recipient.address, payload, DEV[1].address)
    gw_a = net.c(A, "MetalayerGateway")
    assert msg.nonce == 1 and msg.sender == DEV[1].address and msg.recipient == recipient.address
    assert gw_a.functions.outboundNonce().call() == 1
    assert gw_a.functions.isCommitted(msg.id).call()
    # commitment is at the documented slot
    stored = net.w3[A].eth.get_storage_at(net.addr["MetalayerGateway"], int.from_bytes(msg.slot, "big"))
    assert int.from_bytes(stored, "big") == 1

    delivery = net.deliver(A, B, msg)
    gw_b = net.c(B, "MetalayerGateway")
    ev = gw_b.events.MessageDelivered().process_receipt(delivery, errors=DISCARD)
    assert len(ev) == 1 and ev[0].args.messageId == msg.id and ev[0].args.nonce == 1
    assert gw_b.functions.isDelivered(net.chain_id[A], 1).call()
    assert recipient.functions.received().call() == 1
    assert recipient.functions.lastId().call() == msg.id
    assert recipient.functions.lastSender().call() == encode_evm(net.chain_id[A], DEV[1].address)
    assert recipient.functions.lastPayload().call() == payload


def test_replay_and_tampering_and_wrong_roots_revert(net):
    recipient = _toggle(net, B)
    msg, _ = net.send_message(A, B, recipient.address, b"payload")
    net.deliver(A, B, msg)
    block = net.c(B, "StateRootRegistry").functions.latestRoot(net.chain_id[A]).call()[0]
    acct, sps = net.proofs(A, [msg], block)
    gw = net.c(B, "MetalayerGateway")
    # replay
    assert net.revert_error(B, gw.functions.deliverMessage(msg.as_tuple(), block, acct, sps[0])) == "AlreadyDelivered"

    msg2, _ = net.send_message(A, B, recipient.address, b"original")
    att = net.attest(A, B)
    acct, sps = net.proofs(A, [msg2], att.block_number)
    ok = gw.functions.deliverMessage(msg2.as_tuple(), att.block_number, acct, sps[0])
    # tampered payload / nonce / sender
    for tampered in (
        Message(msg2.source_chain_id, msg2.destination_chain_id, msg2.nonce, msg2.sender, msg2.recipient, b"forged"),
        Message(msg2.source_chain_id, msg2.destination_chain_id, msg2.nonce, DEV[7].address, msg2.recipient, msg2.payload),
    ):
        fn = gw.functions.deliverMessage(tampered.as_tuple(), att.block_number, acct, sps[0])
        assert net.revert_error(B, fn) == "InvalidStorageProof"
    # unknown root (block never attested)
    fn = gw.functions.deliverMessage(msg2.as_tuple(), att.block_number + 1000, acct, sps[0])
    assert net.revert_error(B, fn) == "UnknownRoot"
    # proof against the wrong root: an older attested root (before msg2 was sent)
    fn = gw.functions.deliverMessage(msg2.as_tuple(), block, acct, sps[0])
    assert net.revert_error(B, fn) == "InvalidAccountProof"
    # storage proof of the same slot in another account (the registry on A)
    other = fetch_proof(net.w3[A], net.addr["StateRootRegistry"], [msg2.slot], att.block_number)
    fn = gw.functions.deliverMessage(msg2.as_tuple(), att.block_number, acct, other.storage_proof(msg2.slot))
    assert net.revert_error(B, fn) == "InvalidStorageProof"
    # account proof of another account
    fn = gw.functions.deliverMessage(msg2.as_tuple(), att.block_number, other.account_proof, sps[0])
    assert net.revert_error(B, fn) == "InvalidAccountProof"
    # slot that is not set: a message that was never sent (next nonce)
    ghost = Message(msg2.source_chain_id, msg2.destination_chain_id, msg2.nonce + 1, msg2.sender, msg2.recipient, b"x")
    ghost_proof = fetch_proof(net.w3[A], net.addr["MetalayerGateway"], [ghost.slot], att.block_number)
    fn = gw.functions.deliverMessage(ghost.as_tuple(), att.block_number, acct, ghost_proof.storage_proof(ghost.slot))
    assert net.revert_error(B, fn) == "InvalidStorageProof"
    # wrong destination: the same proven message delivered on the hub
    net.attest(A, HUB, att.block_number)
    gw_hub = net.c(HUB, "MetalayerGateway")
    fn = gw_hub.functions.deliverMessage(msg2.as_tuple(), att.block_number, acct, sps[0])
    assert net.revert_error(HUB, fn) == "WrongDestination"
    # the genuine delivery still works
    net.transact(B, ok, DEV[5].address)


def test_reverting_recipient_stays_retryable_then_succeeds(net):
    recipient = _toggle(net, B)
    net.transact(B, recipient.functions.setFailing(True), DEV[0].address)
    msg, _ = net.send_message(A, B, recipient.address, b"retry me")
    receipt = net.deliver(A, B, msg)
    gw = net.c(B, "MetalayerGateway")
    failed = gw.events.MessageFailed().process_receipt(receipt, errors=DISCARD)
    assert len(failed) == 1 and failed[0].args.messageId == msg.id
    assert net.decode_error(failed[0].args.reason) == "Refused"
    assert not gw.events.MessageDelivered().process_receipt(receipt, errors=DISCARD)
    assert not gw.functions.isDelivered(net.chain_id[A], msg.nonce).call()
    assert recipient.functions.received().call() == 0

    net.transact(B, recipient.functions.setFailing(False), DEV[0].address)
    block = net.c(B, "StateRootRegistry").functions.latestRoot(net.chain_id[A]).call()[0]
    acct, sps = net.proofs(A, [msg], block)
    receipt = net.transact(B, gw.functions.deliverMessage(msg.as_tuple(), block, acct, sps[0]), DEV[6].address)
    assert len(gw.events.MessageDelivered().process_receipt(receipt, errors=DISCARD)) == 1
    assert gw.functions.isDelivered(net.chain_id[A], msg.nonce).call()
    assert recipient.functions.received().call() == 1


def test_recipient_without_code_fails_softly(net):
    msg, _ = net.send_message(A, B, DEV[8].address, b"to an EOA")
    receipt = net.deliver(A, B, msg)
    gw = net.c(B, "MetalayerGateway")
    assert len(gw.events.MessageFailed().process_receipt(receipt, errors=DISCARD)) == 1
    assert not gw.functions.isDelivered(net.chain_id[A], msg.nonce).call()


def test_batch_of_ten_by_hand(net):
    counter = net.addr["CrossChainCounter"]
    gw_a = net.c(A, "MetalayerGateway")
    msgs = []
    for i in range(10):
        receipt = net.transact(
            A, gw_a.functions.sendMessage(encode_evm(net.chain_id[B], counter), (i + 1).to_bytes(32, "big"), []), DEV[i].address
        )
        msgs += net.messages_in(A, receipt)
    assert [m.nonce for m in msgs] == list(range(1, 11))
    att = net.attest(A, B)
    acct, sps = net.proofs(A, msgs, att.block_number)
    gw_b = net.c(B, "MetalayerGateway")
    receipt = net.transact(
        B, gw_b.functions.deliverBatch(net.chain_id[A], att.block_number, acct, [m.as_tuple() for m in msgs], sps), DEV[5].address
    )
    assert len(gw_b.events.MessageDelivered().process_receipt(receipt, errors=DISCARD)) == 10
    assert net.c(B, "CrossChainCounter").functions.count().call() == sum(range(1, 11))
    assert all(gw_b.functions.isDelivered(net.chain_id[A], n).call() for n in range(1, 11))
    # replaying any message of the batch reverts the whole batch
    fn = gw_b.functions.deliverBatch(net.chain_id[A], att.block_number, acct, [msgs[3].as_tuple()], [sps[3]])
    assert net.revert_error(B, fn) == "AlreadyDelivered"


def test_batch_with_compressed_proofs(net):
    counter = net.addr["CrossChainCounter"]
    msgs = [net.send_message(A, B, counter, (1).to_bytes(32, "big"), DEV[i].address)[0] for i in range(6)]
    att = net.attest(A, B)
    acct, sps = net.proofs(A, msgs, att.block_number)
    compressed = compress_storage_proofs(sps)
    assert all(node == b"" for node in (p[0] for p in compressed[1:]))  # the storage root node is shared
    gw_b = net.c(B, "MetalayerGateway")
    tuples = [m.as_tuple() for m in msgs]
    # an empty node is only valid where the previous proof has one to reuse
    fn = gw_b.functions.deliverBatch(net.chain_id[A], att.block_number, acct, tuples[1:2], compressed[1:2])
    assert net.revert_error(B, fn) == "InvalidStorageProof"
    fn = gw_b.functions.deliverMessage(tuples[1], att.block_number, acct, compressed[1])
    assert net.revert_error(B, fn) == "InvalidStorageProof"
    # a reused node still has to hash to the expected reference: swapping messages breaks the proof
    swapped = [tuples[1], tuples[0]]
    fn = gw_b.functions.deliverBatch(net.chain_id[A], att.block_number, acct, swapped, compressed[:2])
    assert net.revert_error(B, fn) == "InvalidStorageProof"
    receipt = net.transact(B, gw_b.functions.deliverBatch(net.chain_id[A], att.block_number, acct, tuples, compressed), DEV[5].address)
    assert len(gw_b.events.MessageDelivered().process_receipt(receipt, errors=DISCARD)) == 6
    assert net.c(B, "CrossChainCounter").functions.count().call() == 6


def test_batch_rejects_mixed_sources_and_length_mismatch(net):
    counter = net.addr["CrossChainCounter"]
    msg, _ = net.send_message(A, B, counter, b"")
    att = net.attest(A, B)
    acct, sps = net.proofs(A, [msg], att.block_number)
    gw_b = net.c(B, "MetalayerGateway")
    fn = gw_b.functions.deliverBatch(net.chain_id[A], att.block_number, acct, [msg.as_tuple()], [])
    assert net.revert_error(B, fn) == "LengthMismatch"
    fn = gw_b.functions.deliverBatch(net.chain_id[HUB], att.block_number, acct, [msg.as_tuple()], sps)
    assert net.revert_error(B, fn) in ("UnknownRoot", "WrongSource")


def test_attest_and_deliver_batch_one_transaction(net):
    recipient = _toggle(net, B)
    msgs = [net.send_message(A, B, recipient.address, bytes([i]))[0] for i in range(3)]
    att = net.attestation(A)
    sigs = net.signatures(att, (2, 0))
    acct, sps = net.proofs(A, msgs, att.block_number)
    gw_b = net.c(B, "MetalayerGateway")
    fn = gw_b.functions.attestAndDeliverBatch(att.as_tuple(), sigs, acct, [m.as_tuple() for m in msgs], sps)
    receipt = net.transact(B, fn, DEV[5].address)
    assert len(gw_b.events.MessageDelivered().process_receipt(receipt, errors=DISCARD)) == 3
    assert net.c(B, "StateRootRegistry").functions.rootAt(net.chain_id[A], att.block_number).call() == att.state_root
    # already attested: the attestation step is skipped, delivery proceeds (here: replay -> revert)
    assert net.revert_error(B, fn) == "AlreadyDelivered"
    # bad signatures revert the whole call
    att2 = net.attestation(A)
    msg4, _ = net.send_message(A, B, recipient.address, b"4")
    att2 = net.attestation(A)
    acct2, sps2 = net.proofs(A, [msg4], att2.block_number)
    fn = gw_b.functions.attestAndDeliverBatch(att2.as_tuple(), net.signatures(att2, (0,)), acct2, [msg4.as_tuple()], sps2)
    assert net.revert_error(B, fn) == "InsufficientSignatures"


def test_send_validation(net):
    gw = net.c(A, "MetalayerGateway")
    to_b = encode_evm(net.chain_id[B], DEV[1].address)
    assert gw.functions.supportsAttribute(b"\x12\x34\x56\x78").call() is False
    assert net.revert_error(A, gw.functions.sendMessage(to_b, b"", [b"\x12\x34\x56\x78"])) == "UnsupportedAttribute"
    assert net.revert_error(A, gw.functions.sendMessage(encode_evm(net.chain_id[A], DEV[1].address), b"", [])) == "InvalidDestination"
    unknown_chain = encode_evm(4242, DEV[1].address)  # not a chain of this devnet: could never be delivered
    assert net.revert_error(A, gw.functions.sendMessage(unknown_chain, b"", [])) == "InvalidDestination"
    assert net.revert_error(A, gw.functions.quoteFee(4242, 1)) == "InvalidDestination"
    assert net.revert_error(A, gw.functions.sendMessage(b"\x00\x01", b"", [])) == "InvalidRecipient"
    assert net.revert_error(A, gw.functions.sendMessage(to_b, b"", []), value=1) == "ValueNotSupported"


def test_fees_from_balance_allowance_and_refused(net):
    gw = net.c(A, "MetalayerGateway")
    era = net.c(A, "EraToken")
    to_b = encode_evm(net.chain_id[B], DEV[1].address)
    payload = b"x" * 100
    fee = gw.functions.quoteFee(net.chain_id[B], len(payload)).call()
    cfg = gw.functions.feeConfig().call()
    assert fee == cfg[0] + cfg[1] * 100 and fee > 0
    assert net.revert_error(A, gw.functions.quoteFee(net.chain_id[A], 1)) == "InvalidDestination"

    # dev accounts are pre-funded: the fee comes from the prepaid balance
    before = gw.functions.feeBalance(DEV[0].address).call()
    receipt = net.transact(A, gw.functions.sendMessage(to_b, payload, []), DEV[0].address)
    charged = gw.events.FeeCharged().process_receipt(receipt, errors=DISCARD)[0].args
    assert charged.amount == fee and charged.fromBalance is True
    assert gw.functions.feeBalance(DEV[0].address).call() == before - fee

    # an account with no balance and no allowance is refused
    poor = to_checksum_address("0x" + "42" * 20)
    assert net.revert_error(A, gw.functions.sendMessage(to_b, payload, []), poor) == "InsufficientFee"
    # with ERA and an allowance, the fee is pulled
    net.transact(A, era.functions.transfer(poor, 10**18), DEV[0].address)
    net.transact(A, era.functions.approve(gw.address, 10**18), poor)
    pending = gw.functions.pendingFees().call()
    receipt = net.transact(A, gw.functions.sendMessage(to_b, payload, []), poor)
    assert gw.events.FeeCharged().process_receipt(receipt, errors=DISCARD)[0].args.fromBalance is False
    assert era.functions.balanceOf(poor).call() == 10**18 - fee
    assert gw.functions.pendingFees().call() == pending + fee
    # anyone can top up anyone's balance; withdraw returns it
    net.transact(A, era.functions.approve(gw.address, 5 * fee), DEV[2].address)
    net.transact(A, gw.functions.depositFee(poor, 5 * fee), DEV[2].address)
    assert gw.functions.feeBalance(poor).call() == 5 * fee
    net.transact(A, gw.functions.withdrawFee(poor, fee), poor)
    assert gw.functions.feeBalance(poor).call() == 4 * fee
    assert net.revert_error(A, gw.functions.withdrawFee(poor, 5 * fee), poor) == "InsufficientFee"
    # system contracts are exempt; ERA transfers are not (they pay like any message)
    assert gw.functions.feeExempt(net.addr["GuardianStaking"]).call()
    assert not gw.functions.feeExempt(net.addr["EraToken"]).call()


def test_distribute_fees_on_hub_and_rollup(net):
    # hub: guardian share goes to GuardianStaking and becomes claimable rewards
    gw = net.c(HUB, "MetalayerGateway")
    staking = net.c(HUB, "GuardianStaking")
    era = net.c(HUB, "EraToken")
    for i in range(3):
        net.send_message(HUB, A, DEV[1].address, b"fee" * 10, DEV[i].address)
    pending = gw.functions.pendingFees().call()
    cfg = gw.functions.feeConfig().call()
    relayer, operator = cfg[5], cfg[6]
    r0, o0, s0 = (era.functions.balanceOf(x).call() for x in (relayer, operator, staking.address))
    receipt = net.transact(HUB, gw.functions.distributeFees(), DEV[3].address)
    ev = gw.events.FeesDistributed().process_receipt(receipt, errors=DISCARD)[0].args
    assert ev.relayerAmount + ev.guardianAmount + ev.operatorAmount == pending
    assert ev.relayerAmount == pending * cfg[2] // 10_000
    assert era.functions.balanceOf(relayer).call() == r0 + ev.relayerAmount
    assert era.functions.balanceOf(operator).call() == o0 + ev.operatorAmount
    assert era.functions.balanceOf(staking.address).call() == s0 + ev.guardianAmount
    g0 = keys.guardian_key(0).address
    expected = ev.guardianAmount // 3
    assert abs(staking.functions.pendingRewards(g0).call() - expected) <= 1
    claimed = net.transact(HUB, staking.functions.claimRewards(g0), g0)
    amount = staking.events.RewardsClaimed().process_receipt(claimed, errors=DISCARD)[0].args.amount
    assert abs(amount - expected) <= 1 and era.functions.balanceOf(g0).call() == amount
    assert gw.functions.pendingFees().call() == 0

    # rollup: guardian share is bridged to the hub staking contract (burned here)
    gw_a = net.c(A, "MetalayerGateway")
    era_a = net.c(A, "EraToken")
    net.send_message(A, B, DEV[1].address, b"fee")
    supply = era_a.functions.totalSupply().call()
    receipt = net.transact(A, gw_a.functions.distributeFees(), DEV[3].address)
    ev = gw_a.events.FeesDistributed().process_receipt(receipt, errors=DISCARD)[0].args
    assert era_a.functions.totalSupply().call() == supply - ev.guardianAmount
    msgs = net.messages_in(A, receipt)
    assert len(msgs) == 1 and msgs[0].destination_chain_id == net.chain_id[HUB]
    s0 = era.functions.balanceOf(staking.address).call()
    net.deliver(A, HUB, msgs[0])
    assert era.functions.balanceOf(staking.address).call() == s0 + ev.guardianAmount


def test_verify_storage_cross_chain_read(net):
    fixture = net.deploy(A, "StorageFixture")
    slot = keccak(text="some slot")
    value = keccak(text="some value")
    net.transact(A, fixture.functions.set(slot, value), DEV[0].address)
    net.transact(A, fixture.functions.set((7).to_bytes(32, "big"), (0x1234).to_bytes(32, "big")), DEV[0].address)
    att = net.attest(A, B)
    gw_b = net.c(B, "MetalayerGateway")
    for s, v in ((slot, value), ((7).to_bytes(32, "big"), (0x1234).to_bytes(32, "big"))):
        proof = fetch_proof(net.w3[A], fixture.address, [s], att.block_number)
        got = gw_b.functions.verifyStorage(
            net.chain_id[A], att.block_number, fixture.address, s, proof.account_proof, proof.storage_proof(s)
        ).call()
        assert got == v
    # a slot that is not set is proven absent (exclusion proof): it reads 0
    empty = (99).to_bytes(32, "big")
    proof = fetch_proof(net.w3[A], fixture.address, [empty], att.block_number)
    fn = gw_b.functions.verifyStorage(net.chain_id[A], att.block_number, fixture.address, empty, proof.account_proof, proof.storage_proof(empty))
    assert fn.call() == b"\0" * 32
    # ... but not with a proof of another slot: its leaf neither matches nor proves absence
    fn = gw_b.functions.verifyStorage(net.chain_id[A], att.block_number, fixture.address, empty, proof.account_proof, fetch_proof(net.w3[A], fixture.address, [slot], att.block_number).storage_proof(slot))
    assert net.revert_error(B, fn) == "InvalidStorageProof"
    # wrong account for the proofs
    proof = fetch_proof(net.w3[A], fixture.address, [slot], att.block_number)
    fn = gw_b.functions.verifyStorage(net.chain_id[A], att.block_number, DEPLOYER, slot, proof.account_proof, proof.storage_proof(slot))
    assert net.revert_error(B, fn) == "InvalidAccountProof"
