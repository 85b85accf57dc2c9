"""Issue 11, sizes that cannot halt anything: a burst of maximum-size messages in one source block
is delivered in full, and unrelated traffic to the same destination is not held behind it.

rollup-a runs with a 100M block gas limit (anvil_setBlockGasLimit) so that four maximum-size sends (~10.5M gas each:
anvil's calldata floor) fit in one block with sixteen small ones; the destination keeps
anvil's default 30M, so the relayer has to split the burst into several deliveries.
"""

from __future__ import annotations

import itertools
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
from web3 import Web3

from orchestrator.chains.rpc import rpc
from orchestrator.config import default_config
from orchestrator.pytest_plugin import free_port_offset
from orchestrator.testing import DevnetHandle, SentMessage
from services.common.abi import Abi
from services.protocol import MAX_PAYLOAD, load_artifact
from services.protocol.erc7930 import encode_evm
from tests.conftest import wait_for

BIG, SMALL = 4, 16
SOURCE_BLOCK_GAS = 100_000_000


@pytest.fixture(scope="module")
def net() -> Iterator[DevnetHandle]:
    base = default_config()
    with tempfile.TemporaryDirectory(prefix="devnet-liveness-") as tmp:
        config = replace(base.with_port_offset(free_port_offset(base, start=1200)), state_dir=tmp)
        with DevnetHandle.start(config) as handle:
            # not anvil's --gas-limit: a devnet deployed from cached state takes the dump's limit
            rpc(handle.chain("rollup-a").rpc_url, "anvil_setBlockGasLimit", [hex(SOURCE_BLOCK_GAS)])
            rpc(handle.chain("rollup-a").rpc_url, "evm_mine")  # the limit holds from the next block
            yield handle


def submit(net: DevnetHandle, source: str, payload: bytes, account: int) -> bytes:
    """sendMessage source -> rollup-b without waiting for it to be mined (automine is off)."""
    gw = net.contract(source, "MetalayerGateway")
    recipient = encode_evm(net.chain("rollup-b").chain_id, net.manifest.address("CrossChainCounter"))
    gas = 12_000_000 if len(payload) > 1024 else 500_000
    return gw.functions.sendMessage(recipient, payload, []).transact(
        {"from": net.accounts[account].address, "gas": gas}
    )


def delivery_positions(net: DevnetHandle) -> dict[str, list[tuple[int, int]]]:
    """Every MessageDelivered on rollup-b: message id -> [(block, transaction index)], in chain order."""
    topic = Abi(load_artifact("MetalayerGateway")["abi"]).topic("MessageDelivered")
    gateway = Web3.to_checksum_address(net.addresses["MetalayerGateway"])
    logs = net.w3["rollup-b"].eth.get_logs({"address": gateway, "topics": [topic], "fromBlock": 0, "toBlock": "latest"})
    found: dict[str, list[tuple[int, int]]] = {}
    for lg in logs:
        found.setdefault("0x" + bytes(lg["topics"][1]).hex(), []).append((lg["blockNumber"], lg["transactionIndex"]))
    return found


def settled_traces(net: DevnetHandle, sent: list[SentMessage]) -> list[dict] | None:
    """The relayer's traces once it has settled every message (a moment after the chain has them)."""
    traces = [net.trace(s.id) for s in sent]
    return traces if all(t and t["delivered"] for t in traces) else None


def positions_of(net: DevnetHandle, message_id: str) -> bool:
    return bool(
        net.contract("rollup-b", "MetalayerGateway")
        .events.MessageDelivered()
        .get_logs(from_block=0, argument_filters={"messageId": message_id})
    )


def test_four_max_size_and_sixteen_small_in_one_block_arrive_and_unrelated_traffic_waits_at_most_a_batch(net):
    # the counter adds the first word; the rest has no zero byte: the costliest calldata
    big = [(1).to_bytes(32, "big") + bytes([0xA0 + i]) * (MAX_PAYLOAD - 32) for i in range(BIG)]
    small = [bytes([0x10 + i]) * 8 for i in range(SMALL)]
    w3, hub = net.w3["rollup-a"], net.w3["hub"]
    assert w3.eth.get_block("latest").gasLimit == SOURCE_BLOCK_GAS
    for chain in (w3, hub):
        chain.provider.make_request("evm_setAutomine", [False])
    try:
        txs = [submit(net, "rollup-a", p, account=i % 9) for i, p in enumerate(big + small)]
        other = submit(net, "hub", b"unrelated", account=9)  # another source, the same destination
        w3.provider.make_request("evm_mine", [])  # the burst, then at once the unrelated send
        hub.provider.make_request("evm_mine", [])
    finally:
        for chain in (w3, hub):
            chain.provider.make_request("evm_setAutomine", [True])
    sent = [net.sent_message("rollup-a", tx, p) for tx, p in zip(txs, big + small, strict=True)]
    unrelated = net.sent_message("hub", other, b"unrelated")
    assert len({s.block for s in sent}) == 1, "the burst did not share one source block"
    assert [len(s.payload) for s in sent[:BIG]] == [MAX_PAYLOAD] * BIG

    net.wait_delivered([*sent, unrelated], timeout=90)
    time.sleep(1.0)  # a copy sent late would show now
    positions = delivery_positions(net)
    assert [len(positions.get(s.id, [])) for s in [*sent, unrelated]] == [1] * (BIG + SMALL + 1)  # exactly once
    deliveries = {p for s in sent for p in positions[s.id]}
    assert len(deliveries) > 1, "the burst went out in one transaction (more than a block's gas?)"
    first_small = min(positions[s.id][0] for s in sent[BIG:])
    heavy = sorted(positions[s.id][0] for s in sent[:BIG])
    # big messages go one at a time: the unrelated message is mined behind at most one of them,
    # and the burst's own small messages do not wait for its big ones
    assert len([p for p in heavy if p < positions[unrelated.id][0]]) <= 1, (positions[unrelated.id], heavy)
    assert first_small < heavy[1], (first_small, heavy)


def test_a_message_sent_while_a_burst_is_being_delivered_waits_at_most_one_heavy_delivery(net):
    big = [(1).to_bytes(32, "big") + bytes([0xB0 + i]) * (MAX_PAYLOAD - 32) for i in range(BIG)]
    w3, dst = net.w3["rollup-a"], net.w3["rollup-b"]
    w3.provider.make_request("evm_setAutomine", [False])
    try:
        txs = [submit(net, "rollup-a", p, account=i) for i, p in enumerate(big)]
        w3.provider.make_request("evm_mine", [])
    finally:
        w3.provider.make_request("evm_setAutomine", [True])
    sent = [net.sent_message("rollup-a", tx, p) for tx, p in zip(txs, big, strict=True)]
    # once the first of the burst is delivered (the others planned or on their way), unrelated
    # traffic to the same chain
    deadline = time.monotonic() + 60
    while not any(positions_of(net, s.id) for s in sent) and time.monotonic() < deadline:
        time.sleep(0.002)
    later = net.sent_message("hub", submit(net, "hub", b"sent during the burst", account=9), b"sent during the burst")
    # From the moment the relayer has seen it: rollup-b's head read just after can only be newer
    # than the head at that moment, so this never counts a delivery mined before it was seen.
    # (Counted from the send instead, a heavy delivery could finish and the next one start
    # before the relayer even saw the message: seen in CI under load.)
    wait_for("the relayer to see it", lambda: ((net.trace(later.id) or {}).get("sent") or {}).get("seen_at"), 30, 0.002)
    head_at_seen = dst.eth.block_number
    net.wait_delivered([*sent, later], timeout=90)
    positions = delivery_positions(net)
    assert [len(positions.get(s.id, [])) for s in [*sent, later]] == [1] * (BIG + 1)
    ahead = [s for s in sent if head_at_seen < positions[s.id][0][0] and positions[s.id][0] < positions[later.id][0]]
    # heavy messages go one at a time: the one in flight when it was seen may be mined first, no other
    assert len(ahead) <= 1, (head_at_seen, positions[later.id], sorted(positions[s.id][0] for s in sent))
    # one at a time, from the relayer's own clock: each heavy delivery is submitted only after the
    # previous one's receipt came back (several in flight would all be mined before a newcomer)
    traces = wait_for("the relayer's records", lambda: settled_traces(net, sent), 10)
    spans = sorted((t["submitted"]["at"], t["delivered"]["at"]) for t in traces)
    assert len(spans) == BIG and all(a[1] <= b[0] for a, b in itertools.pairwise(spans)), spans
