"""A `finalized` message with confirmations = 3 (instant mining, the depth miner supplying the
blocks): delivered only once the destination's registry holds a root of a source block at least
3 blocks after the one it was proven at, and that root is the source chain's own block."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from web3.logs import DISCARD

from orchestrator.config import default_config
from orchestrator.pytest_plugin import free_port_offset
from services.protocol import encode_evm, finality
from tests.e2e.conftest import Net

CONF = 3


@pytest.fixture
def deep_net(tmp_path: Path) -> Iterator[Net]:
    base = default_config()
    base = replace(base, guardians=replace(base.guardians, confirmations=CONF))
    config = replace(base.with_port_offset(free_port_offset(base, start=3500, step=100)), state_dir=str(tmp_path / "s"))
    with Net.start(config) as n:
        yield n


def _send(net: Net, level: str) -> tuple[str, int]:
    gw = net.contract("rollup-a", "MetalayerGateway")
    to = encode_evm(net.manifest.chain("rollup-b").chain_id, net.manifest.address("CrossChainCounter"))
    receipt = net.transact("rollup-a", gw.functions.sendMessage(to, b"", [finality(level)]))
    (committed,) = gw.events.MessageCommitted().process_receipt(receipt, errors=DISCARD)
    assert committed.args.finality == (1 if level == "finalized" else 0)
    return "0x" + bytes(committed.args.sendId).hex(), receipt.blockNumber


def test_finalized_message_waits_for_its_depth(deep_net):
    net = deep_net
    src = net.manifest.chain("rollup-a").chain_id
    assert net.contract("rollup-b", "MetalayerGateway").functions.confirmations().call() == CONF
    mid, sent = _send(net, "finalized")
    t = net.wait_for(
        "finalized delivery", lambda: (x := net.trace(mid)) and x["status"] == "delivered" and x, timeout=60
    )
    assert t["finality"] == "finalized"
    proven = t["attested"]["block"]
    assert proven >= sent
    registry = net.contract("rollup-b", "StateRootRegistry")
    latest = registry.functions.latestRoot(src).call(block_identifier=t["delivered"]["block"])[0]
    assert latest >= proven + CONF >= sent + CONF
    # that root is rollup-a's own block: the message's block was CONF deep on its source
    assert registry.functions.blockHashAt(src, latest).call() == net.w3["rollup-a"].eth.get_block(latest).hash

    soft, _ = _send(net, "soft")
    t = net.wait_for("soft delivery", lambda: (x := net.trace(soft)) and x["status"] == "delivered" and x, timeout=60)
    assert t["finality"] == "soft"
