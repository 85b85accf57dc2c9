"""The `finality(uint8)` attribute: a finalized message is refused (NotFinal) until the registry
holds a root of its source at least `confirmations` blocks newer than the block it is proven at."""

from __future__ import annotations

from services.protocol import FINALIZED, Message, commitment_value, encode_evm, finality, request_relay
from tests.contracts.conftest import DEPLOYER, DEV

A, B = "rollup-a", "rollup-b"
CONF = 3


def _send(net, recipient: str, attributes: list[bytes]) -> tuple[Message, int]:
    gw = net.c(A, "MetalayerGateway")
    fn = gw.functions.sendMessage(encode_evm(net.chain_id[B], recipient), b"final", attributes)
    receipt = net.transact(A, fn, DEV[1].address)
    return net.messages_in(A, receipt)[0], receipt.blockNumber


def _deliver_fn(net, msg: Message, block: int):
    acct, sps = net.proofs(A, [msg], block)
    return net.c(B, "MetalayerGateway").functions.deliverMessage(msg.as_tuple(), block, acct, sps[0])


def test_supports_finality_and_refuses_bad_values(net):
    gw = net.c(A, "MetalayerGateway")
    assert gw.functions.supportsAttribute(finality(0)[:4]).call()
    assert gw.functions.supportsAttribute(request_relay(0)[:4]).call()
    assert not gw.functions.supportsAttribute(b"\x12\x34\x56\x78").call()
    recipient = net.deploy(B, "ToggleRecipient", net.addr["MetalayerGateway"]).address
    to = encode_evm(net.chain_id[B], recipient)
    for attrs in ([finality(2)], [finality(1), finality(0)], [finality(1)[:20]]):
        assert net.revert_error(A, gw.functions.sendMessage(to, b"x", attrs), DEV[1].address) == "InvalidAttribute"
    assert net.revert_error(B, net.c(B, "MetalayerGateway").functions.setConfirmations(3), DEV[1].address) == (
        "OwnableUnauthorizedAccount"
    )


def test_finalized_message_waits_for_confirmations(net):
    gw_b = net.c(B, "MetalayerGateway")
    net.transact(B, gw_b.functions.setConfirmations(CONF), DEPLOYER)
    assert gw_b.functions.confirmations().call() == CONF
    recipient = net.deploy(B, "ToggleRecipient", net.addr["MetalayerGateway"])
    msg, sent = _send(net, recipient.address, [request_relay(300_000), finality("finalized")])
    assert msg.finality == FINALIZED and msg.gas_limit == 300_000
    stored = net.w3[A].eth.get_storage_at(net.addr["MetalayerGateway"], int.from_bytes(msg.slot, "big"))
    assert int.from_bytes(stored, "big") == commitment_value(300_000, finalized=True)

    net.attest(A, B, sent)
    assert net.revert_error(B, _deliver_fn(net, msg, sent), DEV[5].address) == "NotFinal"
    net.w3[A].provider.make_request("anvil_mine", ["0x2"])
    net.attest(A, B, sent + CONF - 1)  # a newer root, but only 2 blocks newer
    assert net.revert_error(B, _deliver_fn(net, msg, sent), DEV[5].address) == "NotFinal"
    # proving it at the newer block does not help: that block is not deep either
    assert net.revert_error(B, _deliver_fn(net, msg, sent + CONF - 1), DEV[5].address) == "NotFinal"
    net.w3[A].provider.make_request("anvil_mine", ["0x1"])
    net.attest(A, B, sent + CONF)
    receipt = net.transact(B, _deliver_fn(net, msg, sent), DEV[5].address)
    assert receipt.status == 1 and recipient.functions.received().call() == 1


def test_soft_message_is_delivered_against_the_newest_root(net):
    gw_b = net.c(B, "MetalayerGateway")
    net.transact(B, gw_b.functions.setConfirmations(CONF), DEPLOYER)
    recipient = net.deploy(B, "ToggleRecipient", net.addr["MetalayerGateway"])
    msg, sent = _send(net, recipient.address, [finality("soft")])
    stored = net.w3[A].eth.get_storage_at(net.addr["MetalayerGateway"], int.from_bytes(msg.slot, "big"))
    assert int.from_bytes(stored, "big") == 1 and msg.finality == 0
    net.attest(A, B, sent)
    assert net.transact(B, _deliver_fn(net, msg, sent), DEV[5].address).status == 1
