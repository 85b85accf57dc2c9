"""Unmodified OpenZeppelin ERC-7786 clients (constructor-only subclasses of ERC20Crosschain,
BridgeERC20 and CrosschainRemoteExecutor) between two chains: no setup call besides their
deployment and links; fees are paid by the account that sends the transaction (sponsor rule)."""

from __future__ import annotations

import rlp
from eth_utils import keccak, to_canonical_address, to_checksum_address

from web3.logs import DISCARD

from services.protocol import encode_evm
from tests.contracts.conftest import DEV

A, B = "rollup-a", "rollup-b"


def _fresh_deployer(net, tag: str) -> str:
    """An account with nonce 0 on every chain, so its CREATE addresses are known in advance."""
    addr = to_checksum_address(keccak(text=f"oz-clients-{tag}")[:20])
    for chain in (A, B):
        net._impersonate(chain, addr)
    return addr


def _deploy_as(net, chain: str, deployer: str, name: str, *args):
    w3 = net.w3[chain]
    factory = w3.eth.contract(abi=net.artifacts[name].abi, bytecode=net.artifacts[name].bytecode)
    receipt = w3.eth.wait_for_transaction_receipt(factory.constructor(*args).transact({"from": deployer}))
    assert receipt.status == 1
    return net.c(chain, name, receipt.contractAddress)


def _at(deployer: str, nonce: int) -> str:
    """The CREATE address of `deployer`'s transaction with `nonce`."""
    return to_checksum_address(keccak(rlp.encode([to_canonical_address(deployer), nonce]))[12:])


def _link(net, chain: str, address: str):
    return (net.addr["MetalayerGateway"], encode_evm(net.chain_id[chain], address))


def _relay(net, src: str, dst: str, receipt) -> None:
    msgs = net.messages_in(src, receipt)
    assert msgs, "the client sent no message"
    for msg in msgs:
        delivery = net.deliver(src, dst, msg)
        gw = net.c(dst, "MetalayerGateway")
        assert len(gw.events.MessageDelivered().process_receipt(delivery, errors=DISCARD)) == 1


def _fee_balance(net, chain: str, account: str) -> int:
    return net.c(chain, "MetalayerGateway").functions.feeBalance(account).call()


def test_erc20_crosschain_moves_tokens_both_ways(net):
    deployer = _fresh_deployer(net, "erc20")
    token_addr = _at(deployer, 0)  # same address on both chains
    alice, bob = DEV[1].address, DEV[2].address
    supply = 1_000 * 10**18
    token = {
        A: _deploy_as(net, A, deployer, "OzCrosschainToken", [_link(net, B, token_addr)], alice, supply),
        B: _deploy_as(net, B, deployer, "OzCrosschainToken", [_link(net, A, token_addr)], alice, 0),
    }
    assert token[A].address == token[B].address == token_addr
    total = lambda: sum(t.functions.totalSupply().call() for t in token.values())  # noqa: E731
    fee_before = _fee_balance(net, A, alice)
    receipt = net.transact(A, token[A].functions.crosschainTransfer(encode_evm(net.chain_id[B], bob), 300), alice)
    assert _fee_balance(net, A, alice) < fee_before  # alice (tx.origin) sponsored the token's message
    _relay(net, A, B, receipt)
    assert token[B].functions.balanceOf(bob).call() == 300 and total() == supply
    receipt = net.transact(B, token[B].functions.crosschainTransfer(encode_evm(net.chain_id[A], bob), 100), bob)
    _relay(net, B, A, receipt)
    assert token[A].functions.balanceOf(bob).call() == 100
    assert token[B].functions.balanceOf(bob).call() == 200 and total() == supply


def test_bridge_erc20_locks_and_releases(net):
    deployer = _fresh_deployer(net, "bridge")
    alice, bob = DEV[3].address, DEV[4].address
    # rollup-a: plain token (nonce 0) + lock bridge (nonce 1); rollup-b: crosschain token at nonce 0, then 1
    plain = _deploy_as(net, A, deployer, "OzPlainToken", alice, 10**21)
    bridge_addr = _at(deployer, 1)
    _deploy_as(net, B, deployer, "OzPlainToken", alice, 1)  # burn nonce 0 on B
    wrapped_addr = _at(deployer, 1)
    bridge = _deploy_as(net, A, deployer, "OzTokenBridge", [_link(net, B, wrapped_addr)], plain.address)
    wrapped = _deploy_as(net, B, deployer, "OzCrosschainToken", [_link(net, A, bridge_addr)], alice, 0)
    assert bridge.address == bridge_addr and wrapped.address == wrapped_addr
    net.transact(A, plain.functions.approve(bridge.address, 500), alice)
    receipt = net.transact(A, bridge.functions.crosschainTransfer(encode_evm(net.chain_id[B], bob), 500), alice)
    _relay(net, A, B, receipt)
    assert plain.functions.balanceOf(bridge.address).call() == 500
    assert wrapped.functions.balanceOf(bob).call() == 500
    receipt = net.transact(B, wrapped.functions.crosschainTransfer(encode_evm(net.chain_id[A], bob), 200), bob)
    _relay(net, B, A, receipt)
    assert plain.functions.balanceOf(bob).call() == 200
    # conserved: what is locked on A is exactly what exists on B
    assert plain.functions.balanceOf(bridge.address).call() == wrapped.functions.totalSupply().call() == 300


def test_remote_executor_runs_a_call_from_its_controller(net):
    controller = DEV[5].address
    executor = net.deploy(B, "OzRemoteExecutor", net.addr["MetalayerGateway"], encode_evm(net.chain_id[A], controller))
    fixture = net.deploy(B, "StorageFixture")
    slot, value = keccak(text="remote"), keccak(text="executed")
    call = fixture.functions.set(slot, value)._encode_transaction_data()
    # ERC-7579 single call, default exec type: mode (32 zero bytes) | target | value | calldata
    payload = b"\0" * 32 + bytes.fromhex(fixture.address[2:]) + (0).to_bytes(32, "big") + bytes.fromhex(call[2:])
    msg, _ = net.send_message(A, B, executor.address, payload, controller)
    delivery = net.deliver(A, B, msg)
    assert len(net.c(B, "MetalayerGateway").events.MessageDelivered().process_receipt(delivery, errors=DISCARD)) == 1
    assert fixture.functions.get(slot).call() == value
    # anyone else is refused by the executor (MessageFailed, nothing executed)
    other, _ = net.send_message(A, B, executor.address, payload[:-32] + b"\1" * 32, DEV[6].address)
    delivery = net.deliver(A, B, other)
    assert len(net.c(B, "MetalayerGateway").events.MessageFailed().process_receipt(delivery, errors=DISCARD)) == 1
    assert fixture.functions.get(slot).call() == value
