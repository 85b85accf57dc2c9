"""Issue 9, "Done when", against one running devnet (real anvil, guardians, relayer process, API).

Nothing here relays except where a test shows what a starving relayer would get; the relayer
runs with a small `[relayer] max_attempts` so final failures come quickly.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import rlp
from eth_utils import keccak, to_canonical_address, to_checksum_address
from web3 import Web3
from web3.exceptions import ContractCustomError
from web3.logs import DISCARD

from orchestrator.config import default_config
from orchestrator.services import pidfile
from orchestrator.testing import DeliveryFailed, SentMessage
from services.protocol import Message, fetch_message_proofs, load_artifact
from services.protocol.erc7930 import encode_evm
from services.protocol.messages import request_relay
from tests.conftest import SEND_A_TO_B, free_config
from tests.e2e.conftest import Net

REPO = Path(__file__).resolve().parents[2]
MAX_ATTEMPTS = 3
INSUFFICIENT_GAS = Web3.keccak(text="InsufficientGas(bytes32,uint256,uint256)")[:4]


@pytest.fixture(scope="module")
def dnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    base = default_config()
    base = replace(base, relayer=replace(base.relayer, max_attempts=MAX_ATTEMPTS))
    config = free_config(1000, base, tmp_path_factory.mktemp("issue9") / "state")
    with Net.start(config) as n:
        # this process runs the devnet: the pid file is how the `devnet` CLI finds a running one
        pidfile.write(n.devnet.config.state.pid_file, pidfile.Recorded.of(os.getpid()))
        yield n


def submit(
    net: Net,
    src: str,
    dst: str,
    recipient: str,
    payload: bytes = b"",
    attributes: tuple[bytes, ...] = (),
    account: int = 0,
) -> bytes:
    """sendMessage from a dev account without waiting for it to be mined (bursts mine later)."""
    gw = net.contract(src, "MetalayerGateway")
    fn = gw.functions.sendMessage(encode_evm(net.chain(dst).chain_id, recipient), payload, list(attributes))
    return fn.transact({"from": net.account(account), "gas": 1_000_000})


def trace_with(net: Net, mid: str, status: str, timeout: float = 60.0) -> dict[str, Any]:
    return net.wait_for(
        f"{mid} {status}", lambda: (t := net.trace(mid)) and t["status"] == status and t, timeout=timeout
    )


def delivery_call(net: Net, sent: SentMessage) -> Any:
    """The relayer's own transaction for one message, built by hand (to choose its gas)."""
    src, dst = net.chain(sent.source).name, net.chain(sent.destination).name
    msg = Message(sent.source, sent.destination, sent.nonce, sent.sender, sent.recipient, sent.payload)
    att, sigs = net.attest(src, sent.block)
    account_proof, storage_proofs = fetch_message_proofs(
        net.w3[src], net.manifest.address("MetalayerGateway"), [msg], sent.block
    )
    gw = net.contract(dst, "MetalayerGateway")
    return gw.functions.attestAndDeliverBatch(att.as_tuple(), sigs, account_proof, [msg.as_tuple()], storage_proofs)


def relayer_nonce(net: Net, chain: str) -> int:
    return net.w3[chain].eth.get_transaction_count(net.manifest.keys.relayer.address)


def cli(net: Net, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", *args, "--state-dir", net.devnet.config.state_dir],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_a_heavy_recipient_is_delivered_and_a_2m_gas_request_is_honoured(dnet: Net) -> None:
    net = dnet
    gw_b = net.manifest.address("MetalayerGateway")
    heavy = net.deploy("rollup-b", "HeavyRecipient", gw_b, 1_500_000)
    plain = net.sent_message("rollup-a", submit(net, "rollup-a", "rollup-b", heavy.address, b"heavy"))
    net.wait_delivered(plain, timeout=60)
    assert heavy.functions.received().call() == 1 and heavy.functions.lastGasGiven().call() >= 1_500_000

    # with requestRelay(2M) the recipient's frame gets exactly the 2M (gasleft() at entry: minus the dispatch)
    probe = net.deploy("rollup-b", "BehaviourRecipient")
    net.transact("rollup-b", probe.functions.setMode(4, 1_500_000))
    asked = net.sent_message(
        "rollup-a", submit(net, "rollup-a", "rollup-b", probe.address, b"2M", (request_relay(2_000_000),)), b"2M"
    )
    net.wait_delivered(asked, timeout=60)
    assert probe.functions.calls().call() == 1
    assert 2_000_000 - 1_000 <= probe.functions.lastGas().call() <= 2_000_000
    assert net.delivered_counts("rollup-b")[asked.id] == 1


def test_a_delivery_forwarding_less_than_the_requested_gas_reverts(dnet: Net) -> None:
    net = dnet
    probe = net.deploy("rollup-b", "BehaviourRecipient")
    net.supervisor.stop_service("relayer")
    try:
        asked = net.sent_message(
            "rollup-a",
            submit(net, "rollup-a", "rollup-b", probe.address, b"starve", (request_relay(2_000_000),)),
            b"starve",
        )
        call = delivery_call(net, asked)
        for gas in (1_500_000, 2_050_000):  # below the request, and above it but short after the proof
            with pytest.raises(ContractCustomError) as err:
                call.call({"from": net.account(9), "gas": gas})
            assert bytes.fromhex(str(err.value.data)[2:])[:4] == INSUFFICIENT_GAS, err.value.data
        tx = call.transact({"from": net.account(9), "gas": 2_050_000})
        assert net.w3["rollup-b"].eth.wait_for_transaction_receipt(tx, timeout=30).status == 0
        assert not net.is_delivered(asked) and probe.functions.calls().call() == 0
    finally:
        net.supervisor.start_service("relayer")
    net.wait_delivered(asked, timeout=60)  # the relayer forwards what was asked
    assert probe.functions.calls().call() == 1 and probe.functions.lastGas().call() >= 2_000_000 - 1_000


@pytest.mark.parametrize("poison", ["out_of_gas", "reverting"])
def test_one_poisoned_message_in_a_block_of_20_good_ones(dnet: Net, poison: str) -> None:
    net = dnet
    gw_b = net.manifest.address("MetalayerGateway")
    if poison == "out_of_gas":
        bad_recipient = net.deploy("rollup-b", "GasBurnerRecipient", gw_b)
    else:
        bad_recipient = net.deploy("rollup-b", "ToggleRecipient", gw_b)
        net.transact("rollup-b", bad_recipient.functions.setFailing(True))
    counter = net.manifest.address("CrossChainCounter")
    w3 = net.w3["rollup-a"]
    w3.provider.make_request("evm_setAutomine", [False])
    try:
        txs = [submit(net, "rollup-a", "rollup-b", bad_recipient.address, b"poison", account=0)]
        txs += [submit(net, "rollup-a", "rollup-b", counter, b"", account=1 + i % 8) for i in range(20)]
        w3.provider.make_request("evm_mine", [])
    finally:
        w3.provider.make_request("evm_setAutomine", [True])
    bad, *good = [net.sent_message("rollup-a", tx) for tx in txs]
    assert {s.block for s in good} == {bad.block}, "the burst did not share one source block"
    assert bad.sender not in {g.sender for g in good}

    net.wait_delivered(good, timeout=60)
    counts = net.delivered_counts("rollup-b")
    assert all(counts[g.id] == 1 for g in good)
    # each good one went out on its first attempt: the poisoned one never held them back
    assert all(trace_with(net, g.id, "delivered")["attempts"] == 1 for g in good)

    failed = trace_with(net, bad.id, "failed")
    assert failed["attempts"] == MAX_ATTEMPTS and failed["revert_reason"]
    if poison == "reverting":
        assert "Refused(42)" in failed["revert_reason"]
    before = relayer_nonce(net, "rollup-b")
    time.sleep(5)  # the relayer's backoff would have retried several times in this window
    assert relayer_nonce(net, "rollup-b") == before, "the relayer still sends transactions"
    assert net.trace(bad.id)["status"] == "failed" and not net.is_delivered(bad)
    assert bad_recipient.functions.received().call() == 0


def test_a_recipient_that_starves_on_chain_but_not_in_simulation_blocks_nobody(dnet: Net) -> None:
    """It needs 20M gas left (as OZ's ERC2771Forwarder checks): its simulation, with a whole block's
    gas, passes and uses little, so the delivery sized from it reverts as a whole naming it
    (InsufficientGas). Its 5 neighbours in the source block are delivered at the next try; it goes
    alone with the block's gas and is delivered once; the relayer then sends nothing more."""
    net = dnet
    gated = net.deploy("rollup-b", "GasGatedRecipient", 20_000_000)
    counter = net.manifest.address("CrossChainCounter")
    w3 = net.w3["rollup-a"]
    w3.provider.make_request("evm_setAutomine", [False])
    try:
        txs = [submit(net, "rollup-a", "rollup-b", gated.address, b"gated", account=0)]
        txs += [submit(net, "rollup-a", "rollup-b", counter, b"", account=1 + i) for i in range(5)]
        w3.provider.make_request("evm_mine", [])
    finally:
        w3.provider.make_request("evm_setAutomine", [True])
    starved, *good = [net.sent_message("rollup-a", tx) for tx in txs]
    assert {s.block for s in good} == {starved.block}, "the burst did not share one source block"

    net.wait_delivered([*good, starved], timeout=60)
    counts = net.delivered_counts("rollup-b")
    assert all(counts[m.id] == 1 for m in [*good, starved]) and gated.functions.received().call() == 1
    assert all(trace_with(net, g.id, "delivered")["attempts"] <= 2 for g in good)
    trace = trace_with(net, starved.id, "delivered")
    assert trace["attempts"] == 2 and "InsufficientGas" in trace["attempt_log"][0]["reason"]
    before = relayer_nonce(net, "rollup-b")
    time.sleep(2)
    assert relayer_nonce(net, "rollup-b") == before, "the relayer still sends transactions"


def test_wrong_return_value_fails_without_side_effect_then_devnet_retry_delivers_once(dnet: Net) -> None:
    net = dnet
    wrong = net.deploy("rollup-b", "WrongReturnRecipient")
    sent = cli(
        net,
        *SEND_A_TO_B,
        "--recipient",
        wrong.address,
        "--payload",
        "wrong",
        "--wait",
        "--timeout",
        "600",
    )
    # --wait returns at the final failure (not the 600 s timeout) with the decoded reason on one line
    assert sent.returncode == 1, sent.stdout + sent.stderr
    last = sent.stderr.strip().splitlines()[-1]
    assert "message failed" in last and "InvalidRecipientReturn()" in last, last
    assert "0x6811ca2b" not in sent.stdout + sent.stderr
    mid = re.search(r"sent (0x[0-9a-f]{64})", sent.stdout).group(1)
    trace = trace_with(net, mid, "failed")
    assert trace["attempts"] == MAX_ATTEMPTS and "InvalidRecipientReturn()" in trace["revert_reason"]
    assert wrong.functions.sideEffects().call() == 0

    # the gateway itself rolls the side effect back when a delivery does reach it
    msg = net.sent_message("rollup-a", bytes.fromhex(trace["sent"]["tx"][2:]), b"wrong")
    receipt = net.relay(msg)
    gw = net.contract("rollup-b", "MetalayerGateway")
    failures = gw.events.MessageFailed().process_receipt(receipt, errors=DISCARD)
    assert receipt["status"] == 1 and ["0x" + bytes(f["args"]["messageId"]).hex() for f in failures] == [mid]
    assert wrong.functions.sideEffects().call() == 0 and not net.is_delivered(msg)

    net.transact("rollup-b", wrong.functions.setFixed(True))
    retried = cli(net, "retry", mid)
    assert retried.returncode == 0, retried.stderr
    net.wait_delivered(msg, timeout=60)
    time.sleep(2)  # room for a duplicate, were the relayer to send one
    assert wrong.functions.sideEffects().call() == 1
    assert net.delivered_counts("rollup-b")[mid] == 1
    assert trace_with(net, mid, "delivered")["status"] == "delivered"


def test_wait_delivered_raises_as_soon_as_the_message_finally_failed(dnet: Net) -> None:
    net = dnet
    wrong = net.deploy("rollup-b", "WrongReturnRecipient")
    msg = net.send("rollup-a", "rollup-b", b"never", recipient=wrong.address)
    with pytest.raises(DeliveryFailed) as err:
        net.wait_delivered(msg, timeout=120)
    assert err.value.message_id == msg.id and err.value.status == "failed"
    assert "InvalidRecipientReturn()" in str(err.value) and "0x6811ca2b" not in str(err.value)


# ---------------------------------------------------------------- unmodified OpenZeppelin clients


def _fresh_deployer(net: Net, tag: str) -> str:
    """An account with nonce 0 on both rollups, so its CREATE addresses are known in advance."""
    addr = to_checksum_address(keccak(text=f"issue9-oz-{tag}")[:20])
    for chain in ("rollup-a", "rollup-b"):
        net.w3[chain].provider.make_request("anvil_setBalance", [addr, hex(10**20)])
        net.w3[chain].provider.make_request("anvil_impersonateAccount", [addr])
    return addr


def _deploy_as(net: Net, chain: str, deployer: str, name: str, *args: Any) -> Any:
    art = load_artifact(name)
    factory = net.w3[chain].eth.contract(abi=art["abi"], bytecode=art["bytecode"])
    receipt = net.w3[chain].eth.wait_for_transaction_receipt(factory.constructor(*args).transact({"from": deployer}))
    assert receipt.status == 1
    return net.contract(chain, name, receipt.contractAddress)


def _at(deployer: str, nonce: int) -> str:
    return to_checksum_address(keccak(rlp.encode([to_canonical_address(deployer), nonce]))[12:])


def _link(net: Net, chain: str, address: str) -> tuple[str, bytes]:
    return (net.manifest.address("MetalayerGateway"), encode_evm(net.chain(chain).chain_id, address))


def test_oz_erc20_crosschain_and_bridge_move_tokens_with_supply_conserved(dnet: Net) -> None:
    net = dnet
    a, b = net.chain("rollup-a").chain_id, net.chain("rollup-b").chain_id
    alice, bob = net.account(1), net.account(2)
    deployer = _fresh_deployer(net, "erc20")
    addr = _at(deployer, 0)
    supply = 1_000 * 10**18
    tok_a = _deploy_as(net, "rollup-a", deployer, "OzCrosschainToken", [_link(net, "rollup-b", addr)], alice, supply)
    tok_b = _deploy_as(net, "rollup-b", deployer, "OzCrosschainToken", [_link(net, "rollup-a", addr)], alice, 0)
    net.transact("rollup-a", tok_a.functions.crosschainTransfer(encode_evm(b, bob), 300), account=1)
    net.wait_for("300 on rollup-b", lambda: tok_b.functions.balanceOf(bob).call() == 300, timeout=30)
    net.transact("rollup-b", tok_b.functions.crosschainTransfer(encode_evm(a, bob), 100), account=2)
    net.wait_for("100 back on rollup-a", lambda: tok_a.functions.balanceOf(bob).call() == 100, timeout=30)
    assert tok_a.functions.totalSupply().call() + tok_b.functions.totalSupply().call() == supply

    # BridgeERC20 locks a plain token on rollup-a; an ERC20Crosschain mints it on rollup-b
    deployer = _fresh_deployer(net, "bridge")
    plain = _deploy_as(net, "rollup-a", deployer, "OzPlainToken", alice, 10**21)
    _deploy_as(net, "rollup-b", deployer, "OzPlainToken", alice, 1)  # nonce 0 on rollup-b too
    bridge_addr, wrapped_addr = _at(deployer, 1), _at(deployer, 1)
    bridge = _deploy_as(
        net, "rollup-a", deployer, "OzTokenBridge", [_link(net, "rollup-b", wrapped_addr)], plain.address
    )
    wrapped = _deploy_as(
        net, "rollup-b", deployer, "OzCrosschainToken", [_link(net, "rollup-a", bridge_addr)], alice, 0
    )
    net.transact("rollup-a", plain.functions.approve(bridge.address, 500), account=1)
    net.transact("rollup-a", bridge.functions.crosschainTransfer(encode_evm(b, bob), 500), account=1)
    net.wait_for("500 minted on rollup-b", lambda: wrapped.functions.balanceOf(bob).call() == 500, timeout=30)
    net.transact("rollup-b", wrapped.functions.crosschainTransfer(encode_evm(a, bob), 200), account=2)
    net.wait_for("200 released on rollup-a", lambda: plain.functions.balanceOf(bob).call() == 200, timeout=30)
    assert plain.functions.balanceOf(bridge.address).call() == wrapped.functions.totalSupply().call() == 300


def test_oz_remote_executor_runs_its_controllers_call_and_refuses_others(dnet: Net) -> None:
    net = dnet
    controller = net.account(5)
    gw_b = net.manifest.address("MetalayerGateway")
    executor = net.deploy("rollup-b", "OzRemoteExecutor", gw_b, encode_evm(net.chain("rollup-a").chain_id, controller))
    fixture = net.deploy("rollup-b", "StorageFixture")
    slot, value = keccak(text="remote"), keccak(text="executed")
    call = bytes.fromhex(fixture.functions.set(slot, value)._encode_transaction_data()[2:])
    # ERC-7579 single call, default exec type: mode (32 zero bytes) | target | value | calldata
    payload = b"\0" * 32 + bytes.fromhex(fixture.address[2:]) + (0).to_bytes(32, "big") + call
    ok = net.sent_message(
        "rollup-a", submit(net, "rollup-a", "rollup-b", executor.address, payload, account=5), payload
    )
    net.wait_delivered(ok, timeout=30)
    assert fixture.functions.get(slot).call() == value
    other = payload[:-32] + b"\1" * 32
    bad_tx = submit(net, "rollup-a", "rollup-b", executor.address, other, account=6)
    bad = net.sent_message("rollup-a", bad_tx, other)
    with pytest.raises(DeliveryFailed):
        net.wait_delivered(bad, timeout=120)
    assert fixture.functions.get(slot).call() == value
