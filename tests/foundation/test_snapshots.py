"""Whole-devnet snapshots: messages in flight at save time are delivered after load, exactly once."""

import json
import subprocess
import sys
import time
from dataclasses import replace

import pytest

from orchestrator.config import to_toml
from orchestrator.snapshots import store
from orchestrator.testing import DevnetHandle
from services.relayer.queue import QueueReader

IN_FLIGHT = 50


def devnet_cli(*args, cwd, timeout=180):
    return subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def delivered_counts(handle, ids):
    gateway = handle.contract("rollup-b", "MetalayerGateway")
    logs = gateway.events.MessageDelivered().get_logs(from_block=0)
    counts = dict.fromkeys(ids, 0)
    for lg in logs:
        mid = "0x" + bytes(lg.args.messageId).hex()
        if mid in counts:
            counts[mid] += 1
    return counts


def wait_queued(queue, ids, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = [queue.get(i) for i in ids]
        if all(r is not None for r in rows):
            return rows
        time.sleep(0.05)
    raise AssertionError("the relayer did not queue every message")


def test_fifty_in_flight_delivered_once_after_load(tmp_path, ports_config):
    config = replace(ports_config, state_dir=str(tmp_path / "state"))
    with DevnetHandle.start(config) as handle:
        for i in range(config.guardians.count):  # no quorum: the relayer queues but cannot deliver
            handle.supervisor.stop_service(f"guardian-{i}")
        sent = [handle.send("rollup-a", "rollup-b", f"m{i}") for i in range(IN_FLIGHT)]
        ids = [s.id for s in sent]
        rows = wait_queued(QueueReader(config.state.run / "relayer.sqlite"), ids)
        assert {r["status"] for r in rows} <= {"pending", "retrying"}
        assert not any(handle.is_delivered(s) for s in sent)
        snap = handle.save_snapshot("inflight")
        old_instance = handle.manifest.instance_id
    assert [s.name for s in store.listing(config.state.root)] == ["inflight"]
    assert (snap.directory / "run" / "relayer.sqlite").is_file()

    with DevnetHandle.start(config, snapshot=store.lookup(config.state.root, "inflight")) as loaded:
        assert loaded.manifest.instance_id != old_instance  # re-bound: old signatures are worthless
        loaded.wait_delivered(sent, timeout=60)
        time.sleep(1.0)  # a duplicate delivery would land within the relayer's next rounds
        counts = delivered_counts(loaded, ids)
        assert set(counts.values()) == {1}, counts
        counter = loaded.contract("rollup-b", "CrossChainCounter")
        assert counter.functions.count().call() >= 0  # the destination chain kept its deployed state


def test_snapshot_names_and_topology_are_checked(tmp_path, ports_config):
    config = replace(ports_config, state_dir=str(tmp_path / "state"))
    with pytest.raises(store.SnapshotError, match="snapshot name"):
        store.check_name("../etc")
    with pytest.raises(store.SnapshotError, match="no snapshot 'nope'"):
        store.lookup(config.state.root, "nope")
    fake = tmp_path / "state" / "snapshots" / "other"
    fake.mkdir(parents=True)
    (fake / "meta.json").write_text(
        json.dumps({"created": 0, "guardians": 3, "chains": [{"name": "x", "chain_id": 1, "block": 0}]})
    )
    with pytest.raises(store.SnapshotError, match="has chains"):
        store.check_topology(config, store.lookup(config.state.root, "other"))


def test_up_persist_after_down_knows_old_ids(tmp_path, ports_config):
    config = replace(ports_config, state_dir=str(tmp_path / "state"))
    (tmp_path / "devnet.toml").write_text(to_toml(config))
    try:
        up = devnet_cli("up", "--detach", "--persist", cwd=tmp_path)
        assert up.returncode == 0, up.stderr
        send = devnet_cli("send", "--from", "rollup-a", "--to", "rollup-b", "--payload", "kept", "--wait", cwd=tmp_path)
        assert send.returncode == 0, send.stderr
        message_id = next(w for w in send.stdout.split() if w.startswith("0x") and len(w) == 66)
        saved = devnet_cli("snapshot", "save", "one", cwd=tmp_path)
        assert saved.returncode == 0 and "Saved snapshot 'one'" in saved.stdout, saved.stderr
        again = devnet_cli("snapshot", "save", "one", "--json", cwd=tmp_path)  # seen: no --json
        assert again.returncode == 0 and json.loads(again.stdout)["name"] == "one", again.stderr
        busy = devnet_cli("snapshot", "load", "one", cwd=tmp_path)
        assert busy.returncode == 1 and busy.stderr.startswith("error: a devnet is running")
        assert devnet_cli("down", cwd=tmp_path).returncode == 0

        again = devnet_cli("up", "--detach", "--persist", cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        trace = devnet_cli("trace", message_id, cwd=tmp_path)
        assert trace.returncode == 0 and "delivered" in trace.stdout, trace.stdout + trace.stderr
        listed = devnet_cli("snapshot", "list", cwd=tmp_path)
        assert listed.stdout.startswith("one ") and "rollup-a@" in listed.stdout
        assert devnet_cli("down", cwd=tmp_path).returncode == 0

        loaded = devnet_cli("snapshot", "load", "one", cwd=tmp_path)
        assert loaded.returncode == 0, loaded.stderr
        trace = devnet_cli("trace", message_id, cwd=tmp_path)
        assert trace.returncode == 0 and "delivered" in trace.stdout, trace.stdout + trace.stderr
    finally:
        devnet_cli("down", cwd=tmp_path)
