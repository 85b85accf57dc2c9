"""Logs blooms decide when the relayer, the watchtower and the solver skip an eth_getLogs
(services/common/bloom.py): a bloom may say "maybe" for a block without the log, never "no" for
a block with it. Checked here against the chain itself, block by block, after real traffic."""

from __future__ import annotations

from services.common import bloom
from services.common.abi import Abi
from services.protocol import load_artifact
from services.protocol.evidence import ATTESTATION_SUBMITTED_TOPIC


def watched_topics() -> dict[str, str]:
    """The topics the relayer's scanner and watchtower read (the solver's are checked alike)."""
    gateway, registry = Abi(load_artifact("MetalayerGateway")["abi"]), Abi(load_artifact("StateRootRegistry")["abi"])
    return {
        "MessageSent": gateway.topic("MessageSent"),
        "MessageCommitted": gateway.topic("MessageCommitted"),
        "GuardianSetChanged": registry.topic("GuardianSetChanged"),
        "AttestationSubmitted": ATTESTATION_SUBMITTED_TOPIC,
    }


def test_a_bloom_never_rules_out_a_log_its_block_has(net):
    sent = [net.send("rollup-a", "rollup-b", bytes([i])) for i in range(5)] + [net.send("rollup-b", "hub", b"back")]
    net.wait_delivered(sent, timeout=30)
    topics = watched_topics()
    ruled_out = present = 0
    for chain in ("hub", "rollup-a", "rollup-b"):
        provider = net.w3[chain].provider
        head = net.w3[chain].eth.block_number
        for n in range(max(0, head - 80), head + 1):
            header = provider.make_request("eth_getBlockByNumber", [hex(n), False])["result"]
            logs = provider.make_request("eth_getLogs", [{"fromBlock": hex(n), "toBlock": hex(n)}])["result"]
            in_block = {lg["topics"][0] for lg in logs if lg["topics"]}
            for name, topic in topics.items():
                says_no = bloom.excludes_all(header["logsBloom"], bloom.topic_bits([topic]))
                assert not (says_no and topic in in_block), f"{chain} block {n}: the bloom rules out {name}"
                ruled_out += says_no
                present += topic in in_block
    assert present and ruled_out  # both cases were met: sends, deliveries, and blocks without them
