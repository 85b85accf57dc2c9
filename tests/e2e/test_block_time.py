"""With one block per second: deliveries take about one block, and a relayer crash while its
transactions sit in the mempool still loses and duplicates nothing."""

from __future__ import annotations

import threading

from orchestrator.client import send_message


def test_interval_mining_delivery_and_crash_with_pending_transactions(interval_net):
    net = interval_net
    first = net.send("rollup-a", "rollup-b")
    net.wait_delivered(first, timeout=15)
    t = net.wait_for("trace", lambda: (x := net.trace(first.id)) and x["status"] == "delivered" and x)
    assert t["stages"]["total_ms"] < 2500  # about one block of the destination

    sent = []

    def sender() -> None:
        for i in range(12):
            src, dst = ("rollup-a", "rollup-b") if i % 2 else ("rollup-b", "hub")
            sent.append(send_message(net.manifest, src, dst, b"", account=6))

    th = threading.Thread(target=sender)
    th.start()
    # kill while deliveries are broadcast but not yet mined (they wait for the next block)
    net.wait_for(
        "a delivery in flight",
        lambda: any(net.relayer_health()["chains"][c]["inflight"] for c in net.relayer_health()["chains"]),
        timeout=30,
        interval=0.01,
    )
    net.supervisor.kill("relayer")
    th.join()
    net.wait_delivered(sent, timeout=60)
    for dst in ("rollup-b", "hub"):
        counts = net.delivered_counts(dst)
        assert all(counts[m.id] == 1 for m in sent if net.manifest.chain(m.destination).name == dst)
