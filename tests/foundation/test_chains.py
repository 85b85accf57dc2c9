"""Chain supervisor: parallel start, health, and no process left behind, ever."""

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from orchestrator.chains.anvil import ChainStartError, apply_block_times, start_chains
from orchestrator.chains.rpc import chain_id_of, rpc
from orchestrator.config import ChainConfig, default_config
from orchestrator.pytest_plugin import free_port_offset
from orchestrator.services.procs import pid_alive
from tests.processes import wait_gone

REPO = Path(__file__).resolve().parents[2]


def test_start_answer_and_stop(tmp_path, ports_config):
    config = ports_config
    with start_chains(config.chains, tmp_path / "logs") as group:
        pids = group.pids()
        assert len(pids) == 3 and all(pid_alive(p) for p in pids)
        for chain in config.chains:
            assert chain_id_of(chain.rpc_url) == chain.chain_id
            assert (tmp_path / "logs" / f"{chain.name}.log").is_file()
    assert wait_gone(pids)
    assert all(chain_id_of(c.rpc_url, timeout=0.2) is None for c in config.chains)


def test_port_taken_names_chain_and_port_and_starts_nothing(tmp_path, ports_config):
    config = ports_config
    port = config.chain("rollup-b").port
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.0.1", config.chain("rollup-b").port))
    blocker.listen()
    try:
        with pytest.raises(ChainStartError, match=rf"chain rollup-b: port {port} .* already in use"):
            start_chains(config.chains, tmp_path / "logs")
    finally:
        blocker.close()
    # no chain of the group may be left answering
    assert all(chain_id_of(c.rpc_url, timeout=0.2) is None for c in config.chains[:2])


def test_chain_dying_at_start_stops_the_others(tmp_path, ports_config):
    config = ports_config
    bad = ChainConfig(name="broken", chain_id=999, port=config.chains[-1].port + 1, anvil_args=("--no-such-flag",))
    with pytest.raises(ChainStartError, match=rf"chain broken \(port {bad.port}\) exited at start"):
        start_chains((*config.chains, bad), tmp_path / "logs")
    assert all(chain_id_of(c.rpc_url, timeout=0.2) is None for c in config.chains)


def test_block_time_switches_to_interval_mining(tmp_path, ports_config):
    config = ports_config.with_block_time(1)
    hub = config.hub
    with start_chains([hub], tmp_path / "logs"):
        assert rpc(hub.rpc_url, "eth_blockNumber") == "0x0"
        apply_block_times([hub])
        time.sleep(2.3)
        assert int(str(rpc(hub.rpc_url, "eth_blockNumber")), 16) >= 2


INNER_TEST = textwrap.dedent(
    """
    import json, os
    from pathlib import Path
    import pytest
    from orchestrator.chains.anvil import start_chains
    from orchestrator.config import default_config

    @pytest.fixture
    def chains(tmp_path):
        config = default_config().with_port_offset(int(os.environ["PORT_OFFSET"]))
        with start_chains(config.chains, tmp_path / "logs") as group:
            yield group

    def test_fails_midway(chains):
        Path(os.environ["PIDS_FILE"]).write_text(json.dumps(chains.pids()))
        assert False, "deliberate failure"
    """
)


def test_failing_test_still_stops_its_chains(tmp_path):
    test_file = tmp_path / "test_inner.py"
    test_file.write_text(INNER_TEST)
    pids_file = tmp_path / "pids.json"
    env = {**os.environ, "PIDS_FILE": str(pids_file), "PORT_OFFSET": str(free_port_offset(default_config()))}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "deliberate failure" in proc.stdout
    pids = json.loads(pids_file.read_text())
    assert len(pids) == 3
    assert wait_gone(pids)


def test_killed_parent_takes_its_chains_along(tmp_path):
    script = textwrap.dedent(
        """
        import json, sys, time
        from pathlib import Path
        from orchestrator.chains.anvil import start_chains
        from orchestrator.config import default_config
        group = start_chains(default_config().with_port_offset(int(sys.argv[2])).chains, Path(sys.argv[1]))
        print(json.dumps(group.pids()), flush=True)
        time.sleep(60)
        """
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path), str(free_port_offset(default_config()))],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        pids = json.loads(parent.stdout.readline())
        assert all(pid_alive(p) for p in pids)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        assert wait_gone(pids), "anvil outlived a SIGKILLed orchestrator"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def test_older_states_stay_in_the_devnets_folder_and_go_with_the_chain(tmp_path, ports_config):
    """anvil writes older blocks' states to disk; a killed anvil never deletes them (70 GB had piled
    up in ~/.foundry/anvil/tmp). They go to the devnet's own folder, deleted when the chain stops,
    killed or not."""
    home_tmp = Path.home() / ".foundry" / "anvil" / "tmp"
    before = set(home_tmp.iterdir()) if home_tmp.is_dir() else set()
    hub, rollup = ports_config.chains[0], ports_config.chains[1]
    group = start_chains([hub, rollup], tmp_path / "logs")
    try:
        for chain in (hub, rollup):
            rpc(chain.rpc_url, "anvil_mine", [hex(560)])  # anvil keeps the newest 500 in memory
        caches = {name: c.cache_path for name, c in group.chains.items()}
        assert all(p is not None and p.parent == tmp_path / "anvil-cache" for p in caches.values())
        deadline = time.monotonic() + 10
        while not all(any(p.rglob("*.json")) for p in caches.values()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert all(any(p.rglob("*.json")) for p in caches.values())  # states were written, here
        killed = group.chains[rollup.name]
        os.kill(killed.pid, signal.SIGKILL)
        killed.process.wait()
        assert any(caches[rollup.name].rglob("*.json"))  # anvil left them behind
        killed.drop_cache()  # what the supervisor does before a restart
        assert not caches[rollup.name].exists()
    finally:
        group.stop()
    assert not caches[hub.name].exists()  # a clean stop deletes them too
    after = set(home_tmp.iterdir()) if home_tmp.is_dir() else set()
    assert after - before == set()  # nothing in the user's home
