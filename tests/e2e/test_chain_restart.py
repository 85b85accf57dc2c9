"""A source chain killed and restarted from its last dump (`--load-state`) keeps its blocks but
not the state of the older ones: the relayer proves a message sent before the crash at a newer
block (eth_getProof at its own block answers BlockOutOfRangeError)."""

from __future__ import annotations

from tests.e2e.conftest import Net


def test_a_message_sent_before_its_source_restarted_from_a_dump_is_delivered(fresh_net: Net) -> None:
    net = fresh_net
    sup = net.devnet.chain_supervisor
    net.supervisor.stop_service("relayer")
    try:
        sent = net.send("rollup-a", "rollup-b", b"sent before the crash")
        for _ in range(3):  # the dump's newest block is after the message's: its state is not kept
            net.w3["rollup-a"].provider.make_request("evm_mine", [])
        net.wait_for("a dump past the message", lambda: sup.records["rollup-a"].saved_block >= sent.block + 3)
        restarts = sup.records["rollup-a"].restarts
        net.chaos("kill", "rollup-a")
        net.wait_for("the restart", lambda: sup.records["rollup-a"].restarts > restarts, timeout=30)
        old = net.w3["rollup-a"].provider.make_request(
            "eth_getProof", [net.manifest.address("MetalayerGateway"), [], hex(sent.block)]
        )
        assert "BlockOutOfRange" in str(old.get("error")), old  # what the relayer meets
    finally:
        net.supervisor.start_service("relayer")
    net.wait_delivered(sent, timeout=60)
    assert net.delivered_counts("rollup-b")[sent.id] == 1
