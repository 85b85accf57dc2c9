"""ERA across chains (supply conserved), permit and votes; the PingPong and CrossChainCounter examples."""

from __future__ import annotations

from eth_account import Account
from eth_account.messages import encode_typed_data
from web3.logs import DISCARD

from services.protocol import encode_evm, encode_evm_chain
from tests.contracts.conftest import DEPLOYER, DEV

A, B, HUB = "rollup-a", "rollup-b", "hub"


def test_era_hub_to_a_to_b_supply_conserved(net):
    era = {n: net.c(n, "EraToken") for n in net.names}
    total = net.era_supply()
    alice, bob, carol = DEV[1].address, DEV[2].address, DEV[3].address
    amount = 123 * 10**18

    # hub -> rollup-a
    hub_before = era[HUB].functions.balanceOf(alice).call()
    receipt = net.transact(HUB, era[HUB].functions.crosschainTransfer(encode_evm(net.chain_id[A], bob), amount), alice)
    assert era[HUB].functions.balanceOf(alice).call() == hub_before - amount
    assert net.era_supply() == total - amount  # in flight: burned, not yet minted
    (msg,) = net.messages_in(HUB, receipt)
    assert msg.sender == net.addr["EraToken"] and msg.recipient == net.addr["EraToken"]
    a_before = era[A].functions.balanceOf(bob).call()
    net.deliver(HUB, A, msg)
    assert era[A].functions.balanceOf(bob).call() == a_before + amount
    assert net.era_supply() == total

    # rollup-a -> rollup-b
    receipt = net.transact(A, era[A].functions.crosschainTransfer(encode_evm(net.chain_id[B], carol), amount), bob)
    (msg,) = net.messages_in(A, receipt)
    b_before = era[B].functions.balanceOf(carol).call()
    net.deliver(A, B, msg)
    assert era[B].functions.balanceOf(carol).call() == b_before + amount
    assert era[A].functions.balanceOf(bob).call() == a_before
    assert net.era_supply() == total
    # ERA bridging pays its fee like any message: ERA has no fee balance, so bob (tx.origin) sponsors it
    gw = net.c(A, "MetalayerGateway")
    fee = gw.functions.quoteFee(net.chain_id[B], len(msg.payload)).call()
    assert gw.functions.feeBalance(bob).call() == gw.functions.feeBalance(DEV[8].address).call() - fee


def test_era_links_and_authority(net):
    era = net.c(A, "EraToken")
    gw, counterpart = era.functions.getLink(encode_evm_chain(net.chain_id[B])).call()
    assert gw == net.addr["MetalayerGateway"] and counterpart == encode_evm(net.chain_id[B], era.address)
    assert net.revert_error(A, era.functions.mint(DEV[0].address, 1), DEV[0].address) == "OwnableUnauthorizedAccount"
    assert net.revert_error(A, era.functions.linkChain(DEV[0].address, 5), DEV[0].address) == "OwnableUnauthorizedAccount"
    # only the gateway relaying the twin may mint through receiveMessage
    fn = era.functions.receiveMessage(b"\0" * 32, encode_evm(net.chain_id[B], era.address), b"")
    assert net.revert_error(A, fn, DEV[0].address) == "ERC7786RecipientUnauthorizedGateway"
    # a message from a non-twin sender on B is refused by ERA (MessageFailed, no mint)
    supply = net.era_supply()
    payload = bytes.fromhex(
        net.w3[B].codec.encode(["bytes", "bytes", "uint256"], [encode_evm(net.chain_id[B], DEV[0].address), bytes.fromhex(DEV[0].address[2:]), 10**24]).hex()
    )
    msg, _ = net.send_message(B, A, era.address, payload, DEV[0].address)
    receipt = net.deliver(B, A, msg)
    assert len(net.c(A, "MetalayerGateway").events.MessageFailed().process_receipt(receipt, errors=DISCARD)) == 1
    assert net.era_supply() == supply


def test_era_permit_and_votes(net):
    era = net.c(HUB, "EraToken")
    owner = Account.from_key(DEV[4].private_key)
    spender = DEV[5].address
    nonce = era.functions.nonces(owner.address).call()
    deadline = 2**40
    typed = {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"},
            ],
            "Permit": [
                {"name": "owner", "type": "address"}, {"name": "spender", "type": "address"},
                {"name": "value", "type": "uint256"}, {"name": "nonce", "type": "uint256"},
                {"name": "deadline", "type": "uint256"},
            ],
        },
        "primaryType": "Permit",
        "domain": {"name": "Metalayer Era", "version": "1", "chainId": net.chain_id[HUB], "verifyingContract": era.address},
        "message": {"owner": owner.address, "spender": spender, "value": 5, "nonce": nonce, "deadline": deadline},
    }
    sig = Account.sign_message(encode_typed_data(full_message=typed), owner.key)
    net.transact(HUB, era.functions.permit(owner.address, spender, 5, deadline, sig.v, sig.r.to_bytes(32, "big"), sig.s.to_bytes(32, "big")), DEV[9].address)
    assert era.functions.allowance(owner.address, spender).call() == 5
    net.transact(HUB, era.functions.delegate(owner.address), owner.address)
    assert era.functions.getVotes(owner.address).call() == era.functions.balanceOf(owner.address).call()


def test_ping_pong_round_trip(net):
    pp = {n: net.c(n, "PingPong") for n in (A, B)}
    # a rally's returns are paid from the floats: only the owner (the deployer) may start one
    assert net.revert_error(A, pp[A].functions.start(net.chain_id[B], 2), DEV[0].address) == "RallyNeedsOwner"
    assert pp[A].functions.owner().call() == pp[B].functions.owner().call() == DEPLOYER
    era_a, gw_a = net.c(A, "EraToken"), net.c(A, "MetalayerGateway")
    net.transact(A, era_a.functions.approve(gw_a.address, 10**18), DEV[0].address)
    net.transact(A, gw_a.functions.depositFees([DEPLOYER], [10**18]), DEV[0].address)  # the owner pays the serve
    receipt = net.transact(A, pp[A].functions.start(net.chain_id[B], 2), DEPLOYER)
    (ping,) = net.messages_in(A, receipt)
    receipt = net.deliver(A, B, ping)
    assert pp[B].functions.received().call() == 1
    (pong,) = net.messages_in(B, receipt)  # B served the ball back
    assert pong.destination_chain_id == net.chain_id[A]
    # the return was paid from B's float (ERA held by PingPong), not by the relayer
    era_b = net.c(B, "EraToken")
    assert era_b.functions.allowance(pp[B].address, net.addr["MetalayerGateway"]).call() == 0
    receipt = net.deliver(B, A, pong)
    assert pp[A].functions.received().call() == 1
    assert not net.messages_in(A, receipt)  # rounds exhausted
    assert net.revert_error(A, pp[A].functions.start(net.chain_id[B], 0)) == "NoRounds"


def test_cross_chain_counter(net):
    counter = {n: net.c(n, "CrossChainCounter") for n in (HUB, B)}
    receipt = net.transact(HUB, counter[HUB].functions.increment(net.chain_id[B], 5), DEV[0].address)
    (msg,) = net.messages_in(HUB, receipt)
    receipt = net.deliver(HUB, B, msg)
    assert counter[B].functions.count().call() == 5
    ev = counter[B].events.Incremented().process_receipt(receipt, errors=DISCARD)[0].args
    assert ev.receiveId == msg.id and ev.count == 5 and ev.amount == 5
    assert ev.sender == encode_evm(net.chain_id[HUB], counter[HUB].address)


POOR = "0x" + "5a" * 20  # no ERA, no prepaid fee balance


def _fee(net, chain, dst, payload_len=32):
    return net.c(chain, "MetalayerGateway").functions.quoteFee(net.chain_id[dst], payload_len).call()


def test_no_free_rides_for_era_transfers(net):
    era = net.c(A, "EraToken")
    poor = net.w3[A].to_checksum_address(POOR)
    to_b = encode_evm(net.chain_id[B], poor)
    assert net.revert_error(A, era.functions.crosschainTransfer(to_b, 0), poor) == "InsufficientFee"
    # with a prepaid balance, the same transfer is paid like any message
    gw = net.c(A, "MetalayerGateway")
    net.transact(A, era.functions.approve(gw.address, 10**18), DEV[2].address)
    net.transact(A, gw.functions.depositFee(poor, 10**18), DEV[2].address)
    pending = gw.functions.pendingFees().call()
    receipt = net.transact(A, era.functions.crosschainTransfer(to_b, 0), poor)
    (msg,) = net.messages_in(A, receipt)
    fee = _fee(net, A, B, len(msg.payload))
    assert gw.functions.feeBalance(poor).call() == 10**18 - fee
    assert gw.functions.pendingFees().call() == pending + fee


def test_examples_charge_the_caller_and_cannot_be_drained(net):
    counter = net.c(A, "CrossChainCounter")
    gw = net.c(A, "MetalayerGateway")
    poor = net.w3[A].to_checksum_address(POOR)
    assert gw.functions.feeBalance(counter.address).call() == 0
    assert net.revert_error(A, counter.functions.increment(net.chain_id[B], 1), poor) == "InsufficientFee"
    before = gw.functions.feeBalance(DEV[3].address).call()
    net.transact(A, counter.functions.increment(net.chain_id[B], 1), DEV[3].address)
    assert gw.functions.feeBalance(DEV[3].address).call() == before - _fee(net, A, B)

    pp = net.c(A, "PingPong")
    assert net.revert_error(A, pp.functions.start(net.chain_id[B], 1), poor) == "InsufficientFee"
    max_rounds = pp.functions.MAX_ROUNDS().call()
    assert net.revert_error(A, pp.functions.start(net.chain_id[B], max_rounds + 1)) == "TooManyRounds"
    assert net.revert_error(A, pp.functions.start(net.chain_id[B], 2**255)) == "TooManyRounds"
    float_before = gw.functions.feeBalance(pp.address).call()
    before = gw.functions.feeBalance(DEV[3].address).call()
    # a rally's returns would be paid from the floats: a third party may only serve a single ball
    assert net.revert_error(A, pp.functions.start(net.chain_id[B], 2), DEV[3].address) == "RallyNeedsOwner"
    receipt = net.transact(A, pp.functions.start(net.chain_id[B], 1), DEV[3].address)
    assert gw.functions.feeBalance(DEV[3].address).call() == before - _fee(net, A, B)
    (ball,) = net.messages_in(A, receipt)
    float_b = _float(net, B, pp.address)
    assert not net.messages_in(B, net.deliver(A, B, ball))  # no return: B's float pays nothing
    assert _float(net, B, pp.address) == float_b
    # the float moved from a prepaid balance (anyone's sends could use it) to ERA held by PingPong
    assert gw.functions.feeBalance(pp.address).call() == 0
    assert net.c(A, "EraToken").functions.balanceOf(pp.address).call() == float_before


def _float(net, chain, pp):
    """What PingPong can pay returns with: ERA it holds plus any prepaid balance."""
    era, gw = net.c(chain, "EraToken"), net.c(chain, "MetalayerGateway")
    return era.functions.balanceOf(pp).call() + gw.functions.feeBalance(pp).call()
