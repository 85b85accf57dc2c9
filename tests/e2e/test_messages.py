"""Messages move by themselves: no test code relays anything here."""

from __future__ import annotations

import threading
import time

import httpx

from orchestrator.client import send_message
from services.api.traces import format_trace


def test_message_a_to_b_is_delivered_and_traced(net):
    counter_b = net.contract("rollup-b", "CrossChainCounter")
    before = counter_b.functions.count().call()
    msg = net.send("rollup-a", "rollup-b", b"")
    net.wait_delivered(msg, timeout=20)
    assert counter_b.functions.count().call() == before + 1
    trace = net.wait_for("trace delivered", lambda: (t := net.trace(msg.id)) and t["status"] == "delivered" and t)
    assert trace["source"]["name"] == "rollup-a" and trace["destination"]["name"] == "rollup-b"
    assert trace["sent"]["block"] == msg.block and trace["sent"]["tx"] == msg.tx
    assert trace["attested"]["block"] >= msg.block
    assert trace["delivered"]["tx"].startswith("0x") and trace["delivered"]["block"] > 0
    for stage in ("attest_ms", "prove_ms", "submit_ms", "confirm_ms", "total_ms"):
        assert trace["stages"][stage] is not None and trace["stages"][stage] >= 0, stage
    assert "delivered" in format_trace(trace)


def test_pingpong_round_trip(net):
    pp_a = net.contract("rollup-a", "PingPong")
    pp_b = net.contract("rollup-b", "PingPong")
    a0, b0 = pp_a.functions.received().call(), pp_b.functions.received().call()
    net.transact_as_owner("rollup-a", pp_a.functions.start(net.manifest.chain("rollup-b").chain_id, 2))
    net.wait_for("the ball to reach rollup-b", lambda: pp_b.functions.received().call() == b0 + 1, timeout=20)
    net.wait_for("the ball to come back to rollup-a", lambda: pp_a.functions.received().call() == a0 + 1, timeout=20)


def test_100_messages_both_directions_exactly_once(net):
    counters = {c: net.contract(c, "CrossChainCounter") for c in ("rollup-a", "rollup-b")}
    before = {c: k.functions.count().call() for c, k in counters.items()}
    sent = {"rollup-a": [], "rollup-b": []}

    def send_many(src: str, dst: str, account: int) -> None:
        for _ in range(50):
            sent[dst].append(send_message(net.manifest, src, dst, b"", account=account))

    threads = [
        threading.Thread(target=send_many, args=("rollup-a", "rollup-b", 1)),
        threading.Thread(target=send_many, args=("rollup-b", "rollup-a", 2)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    all_msgs = sent["rollup-a"] + sent["rollup-b"]
    assert len({m.id for m in all_msgs}) == 100
    net.wait_delivered(all_msgs, timeout=60)
    for dst, msgs in sent.items():
        counts = net.delivered_counts(dst)
        assert all(counts[m.id] == 1 for m in msgs), "a message was delivered more than once (or not at all)"
        assert counters[dst].functions.count().call() == before[dst] + 50

    # the relayer's own record agrees (it settles from the receipt, a moment after the chain)
    def recorded() -> bool:
        listed = httpx.get(f"{net.api}/v1/messages", params={"status": "delivered", "limit": 1000}).json()
        ids = {m["id"] for m in listed["messages"]}
        return all(m.id in ids for m in all_msgs)

    net.wait_for("the relayer to record every delivery", recorded, timeout=10)


def test_one_guardian_down_delivery_continues(guardians_restored):
    net = guardians_restored
    net.supervisor.stop_service("guardian-0")
    msg = net.send("rollup-a", "rollup-b")
    net.wait_delivered(msg, timeout=20)
    back = net.send("rollup-b", "hub")
    net.wait_delivered(back, timeout=20)


def test_two_guardians_down_messages_wait_then_deliver(guardians_restored):
    net = guardians_restored
    net.supervisor.stop_service("guardian-0")
    net.supervisor.stop_service("guardian-1")
    msgs = [net.send("rollup-a", "rollup-b"), net.send("hub", "rollup-a")]
    time.sleep(2.0)
    assert not any(net.is_delivered(m) for m in msgs), "delivered without a quorum"
    trace = net.trace(msgs[0].id)
    assert trace["status"] in ("pending", "failed") and "quorum" in (trace["last_error"] or "")
    net.supervisor.start_service("guardian-1")
    net.wait_delivered(msgs, timeout=30)


def test_relayer_kill9_mid_stream_no_loss_no_duplicate(net):
    """kill -9 three times while messages stream in both directions; count deliveries on chain."""
    counters = {c: net.contract(c, "CrossChainCounter") for c in ("rollup-a", "rollup-b")}
    before = {c: k.functions.count().call() for c, k in counters.items()}
    sent: dict[str, list] = {"rollup-a": [], "rollup-b": []}

    def sender(src: str, dst: str, account: int) -> None:
        for _ in range(45):
            sent[dst].append(send_message(net.manifest, src, dst, b"", account=account))
            time.sleep(0.01)

    threads = [
        threading.Thread(target=sender, args=("rollup-a", "rollup-b", 3)),
        threading.Thread(target=sender, args=("rollup-b", "rollup-a", 3)),
    ]
    for t in threads:
        t.start()
    for kill_at in (10, 40, 70):
        net.wait_for(
            f"{kill_at} messages sent",
            lambda k=kill_at: len(sent["rollup-a"]) + len(sent["rollup-b"]) >= k,
            timeout=30,
            interval=0.005,
        )
        old_pid = net.supervisor.pids()["relayer"]
        net.supervisor.kill("relayer")  # SIGKILL, as a crash; the supervisor restarts it
        net.wait_for(
            "the relayer to be back",
            lambda old=old_pid: net.supervisor.pids().get("relayer") not in (None, old),
            timeout=30,
            interval=0.02,
        )
    for t in threads:
        t.join()
    all_msgs = sent["rollup-a"] + sent["rollup-b"]
    net.wait_delivered(all_msgs, timeout=60)
    for dst, msgs in sent.items():
        counts = net.delivered_counts(dst)
        assert [counts[m.id] for m in msgs] == [1] * len(msgs), f"lost or duplicated on {dst}"
        assert counters[dst].functions.count().call() == before[dst] + len(msgs)
    log = (net.devnet.log_dir / "relayer.log").read_text()
    assert log.count("restarting") >= 3
