"""Delivery semantics: isolated recipient frames, the requestRelay gas attribute, replay keyed by
message id across source rewinds, the payload limit."""

from __future__ import annotations

from eth_abi import encode
from web3.exceptions import ContractCustomError
from web3.logs import DISCARD

from services.protocol import MAX_PAYLOAD, Message, compress_storage_proofs, encode_evm, request_relay
from tests.contracts.conftest import DEV

A, B = "rollup-a", "rollup-b"
OK, WRONG_RETURN, REVERT, BURN_ALL, BURN = range(5)


def _recipient(net, mode: int = OK, burn: int = 0):
    r = net.deploy(B, "BehaviourRecipient")
    if mode or burn:
        net.transact(B, r.functions.setMode(mode, burn), DEV[0].address)
    return r


def _send(net, recipient: str, payload: bytes = b"x", gas_limit: int | None = None, sender: int = 0) -> Message:
    gw = net.c(A, "MetalayerGateway")
    attrs = [request_relay(gas_limit)] if gas_limit is not None else []
    receipt = net.transact(A, gw.functions.sendMessage(encode_evm(net.chain_id[B], recipient), payload, attrs), DEV[sender].address)
    return net.messages_in(A, receipt)[0]


def _events(net, receipt, name: str):
    return getattr(net.c(B, "MetalayerGateway").events, name)().process_receipt(receipt, errors=DISCARD)


def _revert_with_gas(net, fn, gas: int) -> str:
    """Name of the custom error `fn` reverts with when given `gas`."""
    try:
        fn.call({"from": DEV[5].address, "gas": gas})
    except ContractCustomError as exc:
        return net.decode_error(bytes.fromhex(str(exc.data).removeprefix("0x")))
    raise AssertionError(f"the call with {gas} gas did not revert")


def _batch_fn(net, msgs, att):
    acct, sps = net.proofs(A, msgs, att.block_number)
    gw = net.c(B, "MetalayerGateway")
    return gw.functions.deliverBatch(net.chain_id[A], att.block_number, acct, [m.as_tuple() for m in msgs], compress_storage_proofs(sps))


def test_wrong_return_leaves_no_trace_and_stays_deliverable(net):
    r = _recipient(net, WRONG_RETURN)
    msg = _send(net, r.address)
    receipt = net.deliver(A, B, msg)
    (failed,) = _events(net, receipt, "MessageFailed")
    assert net.decode_error(failed.args.reason) == "InvalidRecipientReturn"
    assert r.functions.calls().call() == 0  # its state change was rolled back with the frame
    gw = net.c(B, "MetalayerGateway")
    assert not gw.functions.isMessageDelivered(net.chain_id[A], msg.nonce, msg.id).call()
    for _ in range(2):  # retried while broken: still no side effect
        net.deliver(A, B, msg)
    assert r.functions.calls().call() == 0
    net.transact(B, r.functions.setMode(OK, 0), DEV[0].address)
    receipt = net.deliver(A, B, msg)
    assert len(_events(net, receipt, "MessageDelivered")) == 1
    assert r.functions.calls().call() == 1 and r.functions.lastId().call() == msg.id
    assert gw.functions.isMessageDelivered(net.chain_id[A], msg.nonce, msg.id).call()
    assert gw.functions.isDelivered(net.chain_id[A], msg.nonce).call()


def test_batch_isolates_reverting_and_out_of_gas_messages(net):
    good = _recipient(net)
    bad_revert, bad_return, burner = _recipient(net, REVERT), _recipient(net, WRONG_RETURN), _recipient(net, BURN_ALL)
    msgs = [_send(net, good.address, sender=i) for i in range(3)]
    msgs.insert(1, _send(net, bad_revert.address))
    msgs.insert(3, _send(net, burner.address, gas_limit=300_000))  # runs out of its own gas
    msgs.append(_send(net, bad_return.address))
    msgs.append(_send(net, good.address, sender=5))
    att = net.attest(A, B)
    receipt = net.transact(B, _batch_fn(net, msgs, att), DEV[5].address)
    delivered = {e.args.messageId for e in _events(net, receipt, "MessageDelivered")}
    failed = {e.args.messageId: net.decode_error(e.args.reason) for e in _events(net, receipt, "MessageFailed")}
    assert delivered == {m.id for m in msgs if m.recipient == good.address}
    assert set(failed) == {msgs[1].id, msgs[3].id, msgs[5].id}
    assert failed[msgs[1].id] == "RecipientFailed" or failed[msgs[1].id] == "Refused"
    assert failed[msgs[5].id] == "InvalidRecipientReturn"
    assert good.functions.calls().call() == 4
    assert sum(r.functions.calls().call() for r in (bad_revert, bad_return, burner)) == 0


def test_gas_attribute_is_stored_proven_and_enforced(net):
    gw_a, gw_b = net.c(A, "MetalayerGateway"), net.c(B, "MetalayerGateway")
    attr = request_relay(2_000_000)
    assert gw_a.functions.supportsAttribute(attr[:4]).call() is True
    r = _recipient(net, BURN, 1_600_000)
    msg = _send(net, r.address, gas_limit=2_000_000)
    assert msg.gas_limit == 2_000_000
    stored = net.w3[A].eth.get_storage_at(gw_a.address, int.from_bytes(msg.slot, "big"))
    assert int.from_bytes(stored, "big") == 2_000_000 * 2 + 1
    att = net.attest(A, B)
    acct, sps = net.proofs(A, [msg], att.block_number)
    fn = gw_b.functions.deliverMessage(msg.as_tuple(), att.block_number, acct, sps[0])
    # a relayer forwarding less than requested cannot make it look like the recipient's fault
    for gas in (1_500_000, 2_000_000):
        assert _revert_with_gas(net, fn, gas) == "InsufficientGas"
    receipt = net.transact(B, fn, DEV[5].address, gas=2_400_000)
    assert len(_events(net, receipt, "MessageDelivered")) == 1
    assert r.functions.lastGas().call() >= 2_000_000 - 1_000  # what it was called with, minus the call's own cost


def test_heavy_recipient_without_attribute_is_delivered_with_estimated_gas(net):
    r = _recipient(net, BURN, 1_500_000)
    msg = _send(net, r.address)
    receipt = net.deliver(A, B, msg)  # eth_estimateGas: an underfunded delivery reverts, so it finds enough
    assert len(_events(net, receipt, "MessageDelivered")) == 1 and receipt.gasUsed > 1_500_000


def test_attribute_validation(net):
    gw = net.c(A, "MetalayerGateway")
    to_b = encode_evm(net.chain_id[B], DEV[1].address)
    selector = request_relay(1)[:4]
    with_value = selector + encode(["uint256", "uint256", "address"], [1, 100_000, DEV[1].address])
    assert net.revert_error(A, gw.functions.sendMessage(to_b, b"", [with_value])) == "ValueNotSupported"
    assert net.revert_error(A, gw.functions.sendMessage(to_b, b"", [request_relay(15_000_001)])) == "GasLimitTooHigh"
    assert net.revert_error(A, gw.functions.sendMessage(to_b, b"", [selector + b"\0" * 10])) == "InvalidAttribute"
    # a refund address word with bits above the 20 bytes: a decoded error, not an empty revert
    dirty = selector + encode(["uint256", "uint256", "uint256"], [0, 100_000, 1 << 160 | int(DEV[1].address, 16)])
    assert net.revert_error(A, gw.functions.sendMessage(to_b, b"", [dirty])) == "InvalidAttribute"
    assert net.revert_error(A, gw.functions.sendMessage(to_b, b"", [request_relay(1), request_relay(2)])) == "InvalidAttribute"
    assert net.revert_error(A, gw.functions.sendMessage(to_b, b"", [b"\x01\x02\x03\x04"])) == "UnsupportedAttribute"
    assert gw.functions.supportsAttribute(b"\x01\x02\x03\x04").call() is False


def test_replay_protection_survives_a_source_rewind(net):
    r = _recipient(net)
    snap = net.w3[A].provider.make_request("evm_snapshot", [])["result"]
    first = _send(net, r.address, b"before the rewind")
    net.deliver(A, B, first)
    gw = net.c(B, "MetalayerGateway")
    assert net.w3[A].provider.make_request("evm_revert", [snap])["result"] is True
    # the source forgot `first`: the next message reuses its nonce with another id (one block later,
    # so its block is not the one whose pre-rewind root is already attested on B)
    net.w3[A].provider.make_request("evm_mine", [])
    second = _send(net, r.address, b"after the rewind")
    assert second.nonce == first.nonce and second.id != first.id
    assert gw.functions.isDelivered(net.chain_id[A], second.nonce).call()  # "a message with this nonce"
    assert not gw.functions.isMessageDelivered(net.chain_id[A], second.nonce, second.id).call()
    receipt = net.deliver(A, B, second)
    assert len(_events(net, receipt, "MessageDelivered")) == 1 and r.functions.calls().call() == 2
    assert gw.functions.isMessageDelivered(net.chain_id[A], second.nonce, second.id).call()
    assert gw.functions.isMessageDelivered(net.chain_id[A], first.nonce, first.id).call()
    # neither can be replayed
    att = net.attest(A, B)
    acct, sps = net.proofs(A, [second], att.block_number)
    fn = gw.functions.deliverMessage(second.as_tuple(), att.block_number, acct, sps[0])
    assert net.revert_error(B, fn) == "AlreadyDelivered"


def test_maximum_payload_is_accepted_and_one_more_byte_refused(net):
    gw = net.c(A, "MetalayerGateway")
    assert gw.functions.MAX_PAYLOAD().call() == MAX_PAYLOAD
    recipient = net.deploy(B, "BehaviourRecipient").address
    to_b = encode_evm(net.chain_id[B], recipient)
    too_big = b"\xff" * (MAX_PAYLOAD + 1)
    assert net.revert_error(A, gw.functions.sendMessage(to_b, too_big, [])) == "PayloadTooLarge"
    assert net.revert_error(A, gw.functions.quoteFee(net.chain_id[B], MAX_PAYLOAD + 1)) == "PayloadTooLarge"
    assert gw.functions.quoteFee(net.chain_id[B], MAX_PAYLOAD).call() > 0
    msg, _ = net.send_message(A, B, recipient, b"\xff" * MAX_PAYLOAD)
    receipt = net.deliver(A, B, msg)
    assert len(_events(net, receipt, "MessageDelivered")) == 1
    assert receipt.gasUsed < 30_000_000 // 2  # with the calldata floor, well inside one block


def test_gas_burner_without_attribute_reverts_a_small_batch_and_fails_alone(net):
    good, burner = _recipient(net), _recipient(net, BURN_ALL)
    msgs = [_send(net, good.address), _send(net, burner.address, sender=1)]
    att = net.attest(A, B)
    fn = _batch_fn(net, msgs, att)
    # underfunded: the burner took all there was, so the delivery reverts (not a MessageFailed)
    assert _revert_with_gas(net, fn, 3_000_000) == "InsufficientGas"
    net.transact(B, _batch_fn(net, msgs[:1], att), DEV[5].address)
    # alone, with the gas eth_estimateGas finds (>= MAX_GAS_LIMIT for the recipient): its own failure
    receipt = net.deliver(A, B, msgs[1], att.block_number)
    (failed,) = _events(net, receipt, "MessageFailed")
    assert failed.args.messageId == msgs[1].id and receipt.gasUsed > 14_000_000
    assert burner.functions.calls().call() == 0 and good.functions.calls().call() == 1


def test_isolated_frame_is_callable_only_by_the_gateway(net):
    gw = net.c(B, "MetalayerGateway")
    r = _recipient(net)
    forged = Message(net.chain_id[A], net.chain_id[B], 1, DEV[0].address, r.address, b"forged")
    assert net.revert_error(B, gw.functions.executeDelivery(forged.as_tuple(), forged.id, 0)) == "OnlySelf"
