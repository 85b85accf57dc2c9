"""Each `devnet chaos` fault on one shared devnet: applied, its effect seen (on the processes and
in the trace of a message it touched: `GET /v1/messages/{id}` lists the faults in force during
the message's life), healed, and every message still delivered exactly once (receive counts
per id on the destination gateway).

An instant fault (kill, reorg, equivocate) touches the messages in flight at that moment; those
tests hold deliveries with a relayer delay first, so a message is in flight for certain.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from orchestrator.chains.rpc import rpc
from orchestrator.config import default_config
from orchestrator.testing import DevnetHandle, SentMessage
from services.common.faults import Fault
from tests.conftest import free_config
from tests.e2e.conftest import wait_for


@pytest.fixture(scope="module")
def net() -> Iterator[DevnetHandle]:
    base = default_config()
    with tempfile.TemporaryDirectory(prefix="devnet-chaos-") as tmp:
        config = free_config(800, base, tmp)
        with DevnetHandle.start(config, guardian_args=("--allow-equivocation-for-tests",)) as handle:
            yield handle


@pytest.fixture(autouse=True)
def healed(net: DevnetHandle) -> Iterator[None]:
    yield
    net.heal()


def send(net: DevnetHandle, n: int = 3) -> list[SentMessage]:
    return [net.send("rollup-a", "rollup-b", bytes([i])) for i in range(n)]


def assert_once(net: DevnetHandle, sent: list[SentMessage], timeout: float = 30.0) -> None:
    net.wait_delivered(sent, timeout=timeout)
    counts = net.receive_counts("rollup-b")
    assert [counts.get(s.id, 0) for s in sent] == [1] * len(sent)


def proc_state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]


def fault_in_trace(net: DevnetHandle, sent: SentMessage, fault: Fault, ended: bool | None = None) -> dict:
    """The fault as the message's trace lists it (once it does; `ended`: only once it shows ended / in force)."""
    found: dict = {}

    def listed() -> bool:
        spans = [f for f in (net.trace(sent.id) or {}).get("faults") or [] if f["id"] == fault.id]
        if spans and (ended is None or (spans[0]["ended_at"] is not None) == ended):
            found.update(spans[0])
        return bool(found)

    wait_for(f"fault #{fault.id} in the trace of {sent.id}", listed, 30)
    assert found["kind"] == fault.kind and found["target"] == fault.target
    assert found["started_at"] == pytest.approx(fault.started_at)
    return found


def cli_trace(net: DevnetHandle, sent: SentMessage, capsys: pytest.CaptureFixture[str]) -> str:
    """What `devnet trace ID` prints."""
    from orchestrator.cli.messages import trace

    capsys.readouterr()
    assert trace(argparse.Namespace(message_id=sent.id, json=False, manifest=net.devnet.config.state.manifest)) == 0
    return capsys.readouterr().out


def held(net: DevnetHandle) -> Fault:
    """Deliveries held (a relayer delay until healed): messages sent now stay in flight."""
    return net.chaos("delay", "relayer", seconds=600.0)


def relayer_nonce(net: DevnetHandle) -> int:
    return net.w3["rollup-b"].eth.get_transaction_count(net.manifest.keys.relayer.address)


def test_pause_stops_a_guardian_until_resume(net, capsys):
    pid = net.devnet.pids()["guardian-1"]
    fault = net.chaos("pause", "guardian-1")
    assert proc_state(pid) == "T" and fault.status == "active"
    sent = send(net)  # two of three guardians are a quorum
    assert_once(net, sent)
    span = fault_in_trace(net, sent[0], fault, ended=False)
    attempts = [a["attempt"] for a in net.trace(sent[0].id)["attempt_log"]]
    assert span["status"] == "active" and span["attempts"] == attempts != []  # in force during each
    assert "guardian-1 paused" in cli_trace(net, sent[0], capsys) and "(in force)" in cli_trace(net, sent[0], capsys)
    net.chaos("resume", "guardian-1")
    assert proc_state(pid) != "T"
    assert [f.status for f in net.faults() if f.id == fault.id] == ["healed"]
    span = fault_in_trace(net, sent[0], fault, ended=True)
    assert span["status"] == "healed" and span["ended_at"] >= span["started_at"]
    assert "(in force)" not in cli_trace(net, sent[0], capsys)
    later = send(net, 1)
    assert_once(net, later)
    assert not [f for f in net.trace(later[0].id)["faults"] if f["id"] == fault.id]  # it ended before


def test_partition_ends_on_its_own(net):
    pid = net.devnet.pids()["guardian-1"]
    fault = net.chaos("partition", "guardian-1", duration=3.0)
    assert proc_state(pid) == "T"
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{net.manifest.guardians.members[1].url}/health", timeout=0.5)
    sent = send(net)
    wait_for("the warden to end the partition", lambda: proc_state(pid) != "T", 10)
    assert [f.status for f in net.faults() if f.id == fault.id] == ["healed"]
    assert httpx.get(f"{net.manifest.guardians.members[1].url}/health", timeout=2).status_code == 200
    assert_once(net, sent)
    span = fault_in_trace(net, sent[0], fault, ended=True)
    assert span["ended_at"] - span["started_at"] == pytest.approx(3.0, abs=1.0)  # ended on its own


def test_delay_holds_deliveries_until_healed(net):
    fault = net.chaos("delay", "relayer", seconds=60.0)
    sent = send(net, 2)
    time.sleep(1.0)
    assert not any(net.is_delivered(s) for s in sent)  # held: 60 s per batch
    span = fault_in_trace(net, sent[0], fault, ended=False)
    assert span["args"]["seconds"] == 60.0
    net.heal()
    assert_once(net, sent)
    fault_in_trace(net, sent[0], fault, ended=True)


def test_drop_loses_deliveries_which_are_retried_after_heal(net):
    fault = net.chaos("drop", "relayer")
    sent = send(net, 2)
    wait_for("a dropped attempt in the trace", lambda: "chaos: delivery dropped" in str(net.trace(sent[0].id)))
    assert not net.is_delivered(sent[0])
    assert fault_in_trace(net, sent[0], fault, ended=False)["attempts"]  # the dropped attempt(s)
    net.heal()
    assert_once(net, sent, timeout=40)
    fault_in_trace(net, sent[0], fault, ended=True)


def test_duplicate_sends_each_delivery_twice_and_the_gateway_refuses_the_copy(net):
    before = relayer_nonce(net)
    fault = net.chaos("duplicate", "relayer", duration=30)
    sent = send(net, 1)
    assert_once(net, sent)
    wait_for("the duplicate transaction", lambda: relayer_nonce(net) >= before + 2)
    assert fault_in_trace(net, sent[0], fault, ended=False)["attempts"]
    net.heal()
    assert_once(net, sent)


def test_reorg_replaces_blocks_under_messages_in_flight_which_arrive_once(net):
    rollup_a = net.chain("rollup-a").rpc_url
    hold = held(net)
    in_flight = send(net)
    rpc(rollup_a, "anvil_mine", ["0x3"])  # the sends lie deeper than the reorg
    head = int(rpc(rollup_a, "eth_blockNumber"), 16)
    before = rpc(rollup_a, "eth_getBlockByNumber", [hex(head - 1), False])["hash"]
    fault = net.chaos("reorg", "rollup-a", depth=2)
    assert rpc(rollup_a, "eth_getBlockByNumber", [hex(head - 1), False])["hash"] != before
    assert "replaced" in fault.detail and fault.status == "healed"
    span = fault_in_trace(net, in_flight[0], fault)
    assert span["ended_at"] == pytest.approx(span["started_at"], abs=2.0)  # instant
    net.heal(hold.target)
    assert_once(net, in_flight + send(net))


def test_kill_relayer_is_restarted_and_loses_nothing(net, capsys):
    pid = net.devnet.pids()["relayer"]
    hold = held(net)
    sent = send(net, 5)
    # in flight as the relayer knows it (a kill before it saw the last send would be outside that
    # message's life: its trace starts when the relayer saw it)
    wait_for(
        "the relayer to see every send",
        lambda: all((net.trace(s.id) or {}).get("sent", {}).get("seen_at") for s in sent),
    )
    fault = net.chaos("kill", "relayer")
    wait_for("a new relayer", lambda: net.devnet.pids().get("relayer", pid) != pid)
    assert fault.detail == f"SIGKILL pid {pid}"
    fault_in_trace(net, sent[-1], fault)
    assert "relayer killed" in cli_trace(net, sent[-1], capsys)
    net.heal(hold.target)
    assert_once(net, sent + send(net, 2), timeout=40)


def test_a_killed_guardian_rejoins_the_relayers_live_feeds(net):
    """The relayer follows every guardian's live feed of signatures; a guardian killed and
    restarted is followed again, and deliveries go on meanwhile (asked for, or pushed by the others)."""

    def live() -> list[str]:
        try:
            return httpx.get(f"http://127.0.0.1:{net.manifest.relayer.port}/health", timeout=2).json()["live_feeds"]
        except (httpx.HTTPError, ValueError, KeyError):
            return []  # the relayer between two answers

    url = net.manifest.guardians.members[2].url
    wait_for("every live feed", lambda: len(live()) == 3, 15)
    pid = net.devnet.pids()["guardian-2"]
    net.chaos("kill", "guardian-2")
    wait_for("a new guardian-2", lambda: net.devnet.pids().get("guardian-2", pid) != pid)
    sent = send(net, 2)
    wait_for("guardian-2's feed followed again", lambda: url in live(), 15)
    assert_once(net, sent + send(net, 2))


def test_unknown_targets_are_refused_with_a_reason(net):
    from orchestrator.chaos.actions import ChaosError

    with pytest.raises(ChaosError, match="unknown process"):
        net.chaos("pause", "guardian-9")
    with pytest.raises(ChaosError, match="relayer"):
        net.chaos("drop", "guardian-0")
    with pytest.raises(ChaosError, match="depth"):
        net.chaos("reorg", "hub", depth=10**6)


def test_api_requests_faults_that_the_devnet_applies_and_heals(net):
    pid = net.devnet.pids()["guardian-0"]
    r = httpx.post(f"{net.api}/v1/chaos", json={"kind": "pause", "target": "guardian-0", "duration": 60}, timeout=5)
    assert r.status_code == 202 and r.json()["status"] == "requested"
    fault_id = r.json()["id"]
    fault = next(f for f in net.faults() if f.id == fault_id)

    def status() -> str:
        return next(f["status"] for f in httpx.get(f"{net.api}/v1/chaos", timeout=5).json() if f["id"] == fault_id)

    wait_for("the warden to apply the request", lambda: status() == "active", 10)
    assert proc_state(pid) == "T"
    sent = send(net, 2)
    assert httpx.post(f"{net.api}/v1/chaos/heal", timeout=5).status_code == 202
    wait_for("the heal", lambda: status() == "healed", 10)
    assert proc_state(pid) != "T"
    assert_once(net, sent)
    assert fault_in_trace(net, sent[0], fault, ended=True)["status"] == "healed"
    bad = httpx.post(f"{net.api}/v1/chaos", json={"kind": "meteor", "target": "hub"}, timeout=5)
    assert bad.status_code == 422
    r = httpx.post(f"{net.api}/v1/chaos", json={"kind": "pause", "target": "guardian-9"}, timeout=5)
    assert r.status_code == 422 and "unknown process 'guardian-9'" in r.json()["error"]["message"]


def test_cli_applies_lists_and_heals_faults_and_refuses_bad_ones_in_one_line(net, tmp_path, capsys):
    from orchestrator.cli.main import main
    from orchestrator.config import to_toml

    toml = tmp_path / "devnet.toml"
    toml.write_text(to_toml(net.devnet.config))
    pid = net.devnet.pids()["guardian-1"]
    assert main(["chaos", "--config", str(toml), "pause", "guardian-1", "--for", "30s"]) == 0
    assert "pause guardian-1 [active for" in capsys.readouterr().out
    assert proc_state(pid) == "T"
    assert main(["chaos", "--config", str(toml), "list"]) == 0
    assert "pause guardian-1" in capsys.readouterr().out
    assert main(["chaos", "--config", str(toml), "list", "--json"]) == 0  # seen: no --json
    listed = json.loads(capsys.readouterr().out)["faults"]
    assert any(f["kind"] == "pause" and f["target"] == "guardian-1" and f["status"] == "active" for f in listed)
    sent = send(net, 1)
    assert_once(net, sent)
    assert main(["chaos", "--config", str(toml), "heal", "guardian-1", "--json"]) == 0
    assert [f["target"] for f in json.loads(capsys.readouterr().out)["healed"]] == ["guardian-1"]
    assert proc_state(pid) != "T"
    text = cli_trace(net, sent[0], capsys)
    assert re.search(r"faults +#\d+ guardian-1 paused \S+–\S+ \(attempts? 1\b", text), text
    capsys.readouterr()
    assert main(["chaos", "--config", str(toml), "kill", "guardian-7"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: unknown process 'guardian-7'")
    with pytest.raises(SystemExit):
        main(["chaos", "--config", str(toml), "delay", "--relayer", "soon"])
    assert "not a duration" in capsys.readouterr().err
    assert_once(net, send(net, 1))


def test_equivocation_is_slashed_by_the_relayer(net):  # last: the slashed guardian leaves the set
    hold = held(net)
    in_flight = send(net)
    head = int(rpc(net.chain("hub").rpc_url, "eth_blockNumber"), 16)
    fault = net.chaos("equivocate", "guardian-2", chain="hub", block=head)
    assert fault.status == "healed" and "signed root" in fault.detail
    assert fault_in_trace(net, in_flight[0], fault)["kind"] == "equivocate"
    relayer = f"http://127.0.0.1:{net.manifest.relayer.port}/health"

    def slashed() -> bool:
        return any(s.get("status") == "slashed" for s in httpx.get(relayer, timeout=2).json().get("slashes", []))

    wait_for("the relayer to slash guardian-2", slashed, 30)
    net.heal(hold.target)
    assert_once(net, in_flight + send(net))
