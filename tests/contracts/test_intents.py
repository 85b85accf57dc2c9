"""ERC-7683 settlers and USDC on real anvil chains: open/openFor, fill, proven settlement, refund, refusals."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account
from eth_utils import keccak
from web3.logs import DISCARD

from orchestrator.intents_deploy import deploy_intents
from orchestrator.manifest import build_manifest
from services.common import manifest as manifest_models
from services.protocol import encode_evm
from services.solver.keys import solver_key
from services.solver.orders import (
    FillData,
    GaslessOrder,
    OrderData,
    gasless_typed_data,
    onchain_order,
    order_id,
    permit_filler_data,
    permit_typed_data,
    repay_filler_data,
)
from tests.contracts.conftest import DEV

A, B, HUB = "rollup-a", "rollup-b", "hub"
USDC = 10**6


def _manifest(devnet_config: Any, deployed: Any) -> manifest_models.Manifest:
    built = build_manifest(devnet_config, deployed.manifest_section())  # a dict, or already the model
    return built if isinstance(built, manifest_models.Manifest) else manifest_models.Manifest.model_validate(built)


@pytest.fixture(scope="module")
def intents(_net: Any, devnet_config: Any, deployed: Any) -> dict[str, str]:
    result = deploy_intents(_manifest(devnet_config, deployed), log=lambda _m: None)
    assert sum(result.transactions.values()) > 0
    _net.addr.update(result.contracts)
    return result.contracts


def _order(
    net: Any, amount: int = 100 * USDC, fee: int = USDC // 10, recipient: str | None = None, dst: str = B
) -> OrderData:
    usdc = net.addr["USDC"]
    return OrderData(usdc, amount + fee, usdc, amount, recipient or DEV[4].address, net.chain_id[dst])


def _open(net: Any, data: OrderData, user: str = DEV[1].address, ttl: int = 600) -> Any:
    deadline = net.w3[A].eth.get_block("latest").timestamp + ttl
    net.transact(A, net.c(A, "USDC").functions.approve(net.addr["OriginSettler"], data.input_amount), user)
    receipt = net.transact(A, net.c(A, "OriginSettler").functions.open(onchain_order(deadline, data)), user)
    (ev,) = net.c(A, "OriginSettler").events.Open().process_receipt(receipt, errors=DISCARD)
    return ev.args.resolvedOrder


def _fill(net: Any, resolved: Any, filler: str = DEV[7].address, chain: str = B) -> Any:
    instr = resolved["fillInstructions"][0]
    net.transact(chain, net.c(chain, "USDC").functions.approve(net.addr["DestinationSettler"], 2**255), filler)
    fn = net.c(chain, "DestinationSettler").functions.fill(resolved["orderId"], instr["originData"], b"")
    return net.transact(chain, fn, filler)


def _supply(net: Any) -> int:
    return sum(net.c(n, "USDC").functions.totalSupply().call() for n in net.names)


def _bal(net: Any, chain: str, who: str) -> int:
    return net.c(chain, "USDC").functions.balanceOf(who).call()


def test_open_fill_settle_conserves_usdc(net, intents):
    data = _order(net)
    user, recipient, filler = DEV[1].address, data.recipient, DEV[7].address
    supply = _supply(net)
    user_a, rec_b, fill_a, fill_b = (
        _bal(net, A, user),
        _bal(net, B, recipient),
        _bal(net, A, filler),
        _bal(net, B, filler),
    )

    resolved = _open(net, data)
    assert resolved["user"] == user and resolved["originChainId"] == net.chain_id[A]
    instr = resolved["fillInstructions"][0]
    assert instr["destinationChainId"] == net.chain_id[B]
    assert order_id(instr["originData"]) == resolved["orderId"]
    fill = FillData.decode(instr["originData"])
    assert (fill.recipient, fill.output_amount, fill.destination_chain_id) == (
        recipient,
        data.output_amount,
        net.chain_id[B],
    )
    assert resolved["maxSpent"][0]["amount"] == data.output_amount
    assert resolved["minReceived"][0]["amount"] == data.input_amount
    assert _bal(net, A, user) == user_a - data.input_amount
    assert _bal(net, A, intents["OriginSettler"]) == data.input_amount

    receipt = _fill(net, resolved)
    assert _bal(net, B, recipient) == rec_b + data.output_amount
    assert _bal(net, B, filler) == fill_b - data.output_amount
    (msg,) = net.messages_in(B, receipt)
    assert msg.recipient == intents["OriginSettler"] and msg.sender == intents["DestinationSettler"]
    # escrow stays until the fill is proven on rollup-a
    assert _bal(net, A, filler) == fill_a
    delivery = net.deliver(B, A, msg)
    (settled,) = net.c(A, "OriginSettler").events.Settled().process_receipt(delivery, errors=DISCARD)
    assert settled.args.repayTo == filler and settled.args.amount == data.input_amount
    assert _bal(net, A, filler) == fill_a + data.input_amount
    assert _bal(net, A, intents["OriginSettler"]) == 0
    assert net.c(A, "OriginSettler").functions.escrowOf(resolved["orderId"]).call()[2] == 2  # Settled
    assert _supply(net) == supply
    # the settlement was paid from the DestinationSettler's prepaid ERA balance
    assert net.c(B, "MetalayerGateway").functions.feeBalance(intents["DestinationSettler"]).call() < 1000 * 10**18


def test_fill_refusals(net, intents):
    resolved = _open(net, _order(net))
    oid, origin = resolved["orderId"], bytes(resolved["fillInstructions"][0]["originData"])
    settler = net.c(B, "DestinationSettler")
    filler = DEV[7].address
    net.transact(B, net.c(B, "USDC").functions.approve(intents["DestinationSettler"], 2**255), filler)
    fill = FillData.decode(origin)
    for bad in (
        FillData(**{**fill.__dict__, "output_amount": fill.output_amount - 1}),
        FillData(**{**fill.__dict__, "recipient": DEV[8].address}),
        FillData(**{**fill.__dict__, "output_token": intents["OriginSettler"]}),
    ):
        assert net.revert_error(B, settler.functions.fill(oid, bad.encode(), b""), filler) == "OrderIdMismatch"
    # the right terms on the wrong chain
    hub_settler = net.c(HUB, "DestinationSettler")
    assert net.revert_error(HUB, hub_settler.functions.fill(oid, origin, b""), filler) == "WrongChain"
    # one fill only; the loser pays nothing
    _fill(net, resolved, DEV[6].address)
    before = _bal(net, B, filler)
    assert net.revert_error(B, settler.functions.fill(oid, origin, b""), filler) == "AlreadyFilled"
    assert _bal(net, B, filler) == before
    record = settler.functions.fillOf(oid).call()
    assert record[0] == DEV[6].address
    # a fill after the deadline is refused
    late = _open(net, _order(net), ttl=30)
    net.w3[B].provider.make_request("evm_increaseTime", [3600])
    net.w3[B].provider.make_request("evm_mine", [])
    fn = settler.functions.fill(late["orderId"], late["fillInstructions"][0]["originData"], b"")
    assert net.revert_error(B, fn, filler) == "FillDeadlinePassed"


def test_one_fill_per_order_whatever_the_encoding(net, intents):
    """abi.decode ignores trailing bytes: a padded originData must not be a second id of a filled order."""
    data = _order(net, amount=10 * USDC, recipient=Account.create("intents-padded-recipient").address)
    resolved = _open(net, data)
    oid, origin = bytes(resolved["orderId"]), bytes(resolved["fillInstructions"][0]["originData"])
    settler, attacker = net.c(B, "DestinationSettler"), DEV[7].address
    net.transact(B, net.c(B, "USDC").functions.approve(intents["DestinationSettler"], 2**255), attacker)
    padded = origin + b"\0" * 32
    # before the honest fill: no other encoding of the terms is accepted, under either id
    for bad_id, bad_data in ((keccak(padded), padded), (oid, padded), (keccak(origin[:-1]), origin[:-1])):
        assert net.revert_error(B, settler.functions.fill(bad_id, bad_data, b""), attacker) == "NonCanonicalOriginData"
    # the filler's repayment word must be exactly one word too
    padded_repay = repay_filler_data(DEV[8].address) + b"\0" * 32
    assert net.revert_error(B, settler.functions.fill(oid, origin, padded_repay), attacker) == "InvalidFillData"
    receipt = _fill(net, resolved, DEV[6].address)
    (msg,) = net.messages_in(B, receipt)
    net.deliver(B, A, msg)
    assert net.c(A, "OriginSettler").functions.escrowOf(oid).call()[2] == 2  # Settled
    # after it: the padded encoding is still refused, the recipient is paid once and the attacker nothing
    assert _bal(net, B, data.recipient) == data.output_amount
    attacker_bal = _bal(net, B, attacker)
    for bad_id, bad_data in ((keccak(padded), padded), (oid, padded)):
        assert net.revert_error(B, settler.functions.fill(bad_id, bad_data, b""), attacker) == "NonCanonicalOriginData"
    assert net.revert_error(B, settler.functions.fill(oid, origin, b""), attacker) == "AlreadyFilled"
    assert _bal(net, B, data.recipient) == data.output_amount
    assert _bal(net, B, attacker) == attacker_bal


def test_order_data_has_one_encoding(net, intents):
    """open / openFor / resolve refuse an orderData with trailing bytes (one encoding per order)."""
    data = _order(net)
    osa = net.c(A, "OriginSettler")
    deadline = net.w3[A].eth.get_block("latest").timestamp + 600
    fill_deadline, data_type, order_data = onchain_order(deadline, data)
    padded = (fill_deadline, data_type, order_data + b"\0" * 32)
    net.transact(A, net.c(A, "USDC").functions.approve(intents["OriginSettler"], data.input_amount), DEV[1].address)
    assert net.revert_error(A, osa.functions.open(padded), DEV[1].address) == "NonCanonicalOrderData"
    assert net.revert_error(A, osa.functions.resolve(padded), DEV[1].address) == "NonCanonicalOrderData"
    user = Account.create("intents-padded")
    order = GaslessOrder(intents["OriginSettler"], user.address, 9, net.chain_id[A], deadline, deadline, data)
    sig = Account.sign_typed_data(user.key, full_message=gasless_typed_data(order)).signature
    gasless = (*order.as_tuple()[:-1], order.as_tuple()[-1] + b"\0" * 32)
    assert net.revert_error(A, osa.functions.openFor(gasless, sig, b""), DEV[9].address) == "NonCanonicalOrderData"
    assert net.revert_error(A, osa.functions.resolveFor(gasless, b""), DEV[9].address) == "NonCanonicalOrderData"


def test_open_for_gasless_with_permit(net, intents):
    user = Account.create("intents-gasless")
    assert net.w3[A].eth.get_balance(user.address) == 0
    net.transact(A, net.c(A, "USDC").functions.transfer(user.address, 500 * USDC), DEV[1].address)
    data = _order(net)
    now = net.w3[A].eth.get_block("latest").timestamp
    order = GaslessOrder(intents["OriginSettler"], user.address, 7, net.chain_id[A], now + 600, now + 900, data)
    sig = Account.sign_typed_data(user.key, full_message=gasless_typed_data(order)).signature
    permit = permit_typed_data(
        intents["USDC"], net.chain_id[A], user.address, intents["OriginSettler"], data.input_amount, 0, now + 600
    )
    psig = Account.sign_typed_data(user.key, full_message=permit).signature
    settler = net.c(A, "OriginSettler")
    filler_data = permit_filler_data(now + 600, psig)
    # a signature of another order is refused
    other = GaslessOrder(
        order.origin_settler, order.user, 8, order.origin_chain_id, order.open_deadline, order.fill_deadline, data
    )
    assert (
        net.revert_error(A, settler.functions.openFor(other.as_tuple(), sig, filler_data), DEV[9].address)
        == "InvalidSignature"
    )
    receipt = net.transact(A, settler.functions.openFor(order.as_tuple(), sig, filler_data), DEV[9].address)
    (ev,) = settler.events.Open().process_receipt(receipt, errors=DISCARD)
    assert ev.args.resolvedOrder["user"] == user.address
    assert _bal(net, A, user.address) == 500 * USDC - data.input_amount
    assert net.w3[A].eth.get_balance(user.address) == 0
    assert (
        net.revert_error(A, settler.functions.openFor(order.as_tuple(), sig, filler_data), DEV[9].address)
        == "NonceUsed"
    )
    # and it fills like any order, paying a repayment address the filler names
    resolved = ev.args.resolvedOrder
    net.transact(B, net.c(B, "USDC").functions.approve(intents["DestinationSettler"], 2**255), DEV[7].address)
    fn = net.c(B, "DestinationSettler").functions.fill(
        resolved["orderId"], resolved["fillInstructions"][0]["originData"], repay_filler_data(DEV[8].address)
    )
    (msg,) = net.messages_in(B, net.transact(B, fn, DEV[7].address))
    before = _bal(net, A, DEV[8].address)
    net.deliver(B, A, msg)
    assert _bal(net, A, DEV[8].address) == before + data.input_amount


def test_refund_after_deadline_and_late_settlement_ignored(net, intents):
    data = _order(net)
    user = DEV[1].address
    before = _bal(net, A, user)
    resolved = _open(net, data, ttl=60)
    settler = net.c(A, "OriginSettler")
    oid = resolved["orderId"]
    assert net.revert_error(A, settler.functions.refund(oid), DEV[5].address) == "RefundTooEarly"
    receipt = _fill(net, resolved)  # filled in time, but the proof reaches rollup-a after the refund
    (msg,) = net.messages_in(B, receipt)
    grace = settler.functions.settlementGrace().call()
    net.w3[A].provider.make_request("evm_increaseTime", [60 + grace + 1])
    net.w3[A].provider.make_request("evm_mine", [])
    net.transact(A, settler.functions.refund(oid), DEV[5].address)
    assert _bal(net, A, user) == before
    assert net.revert_error(A, settler.functions.refund(oid), DEV[5].address) == "NotOpen"
    delivery = net.deliver(B, A, msg)
    (ignored,) = settler.events.SettlementIgnored().process_receipt(delivery, errors=DISCARD)
    assert ignored.args.orderId == oid and ignored.args.status == 3  # Refunded
    assert _bal(net, A, intents["OriginSettler"]) == 0


def test_settlement_only_from_the_destination_settler(net, intents):
    resolved = _open(net, _order(net))
    settler = net.c(A, "OriginSettler")
    payload = net.w3[A].codec.encode(["bytes32", "address"], [resolved["orderId"], DEV[0].address])
    # not the gateway
    fn = settler.functions.receiveMessage(
        b"\0" * 32, encode_evm(net.chain_id[B], intents["DestinationSettler"]), payload
    )
    assert net.revert_error(A, fn, DEV[0].address) == "ERC7786RecipientUnauthorizedGateway"
    # through the gateway, but from another sender: the message fails and nothing is paid
    msg, _ = net.send_message(B, A, intents["OriginSettler"], payload, DEV[0].address)
    receipt = net.deliver(B, A, msg)
    (failed,) = net.c(A, "MetalayerGateway").events.MessageFailed().process_receipt(receipt, errors=DISCARD)
    assert net.decode_error(failed.args.reason) == "WrongSettlementSender"
    assert settler.functions.escrowOf(resolved["orderId"]).call()[2] == 1  # still Open


def test_usdc_canonical_route(net, intents):
    usdc = {n: net.c(n, "USDC") for n in (A, B)}
    assert usdc[A].functions.decimals().call() == 6
    supply = _supply(net)
    alice, bob = DEV[1].address, DEV[2].address
    b_before = _bal(net, B, bob)
    fee_before = net.c(A, "MetalayerGateway").functions.feeBalance(intents["USDC"]).call()
    receipt = net.transact(A, usdc[A].functions.crosschainTransfer(encode_evm(net.chain_id[B], bob), 100 * USDC), alice)
    assert _supply(net) == supply - 100 * USDC
    (msg,) = net.messages_in(A, receipt)
    net.deliver(A, B, msg)
    assert _bal(net, B, bob) == b_before + 100 * USDC
    assert _supply(net) == supply
    assert net.c(A, "MetalayerGateway").functions.feeBalance(intents["USDC"]).call() < fee_before
    assert net.revert_error(A, usdc[A].functions.mintBatch([alice], 1), alice) == "OwnableUnauthorizedAccount"


def test_deploy_intents_is_idempotent_and_same_address_everywhere(net, intents, devnet_config, deployed):
    again = deploy_intents(_manifest(devnet_config, deployed), log=lambda _m: None)
    assert again.contracts == intents
    assert again.transactions == dict.fromkeys(net.names, 0)
    for name in net.names:
        for contract, address in intents.items():
            assert net.w3[name].eth.get_code(address), (name, contract)
    settler = net.c(A, "OriginSettler")
    assert settler.functions.destinationSettler().call() == intents["DestinationSettler"]
    assert settler.functions.gateway().call() == net.addr["MetalayerGateway"]
    # dev accounts and solvers funded, the DestinationSettler and USDC hold prepaid ERA fees
    assert _bal(net, B, DEV[9].address) == 1_000_000 * USDC
    assert _bal(net, HUB, solver_key(1).address) == 100_000 * USDC
    gw = net.c(B, "MetalayerGateway")
    assert gw.functions.feeBalance(intents["DestinationSettler"]).call() > 0
    assert gw.functions.feeBalance(intents["USDC"]).call() > 0
