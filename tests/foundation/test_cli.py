"""The `devnet` command: detached lifecycle and one-line errors."""

import json
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from orchestrator.chains.rpc import chain_id_of
from orchestrator.config import to_toml
from orchestrator.services import pidfile
from orchestrator.services.procs import pid_alive

REPO = Path(__file__).resolve().parents[2]


def devnet(*args, cwd, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def config(tmp_path, ports_config):
    return replace(ports_config, state_dir=str(tmp_path / "state"))


@pytest.fixture
def workdir(tmp_path, config):
    """A directory with a devnet.toml on free ports; any devnet left running is stopped."""
    (tmp_path / "devnet.toml").write_text(to_toml(config))
    yield tmp_path
    devnet("down", cwd=tmp_path)


def test_detached_up_status_down(workdir, config):
    up = devnet("up", "--detach", "--no-deploy", cwd=workdir)
    assert up.returncode == 0, up.stderr
    assert config.chain("rollup-a").rpc_url in up.stdout and "rollup-b" in up.stdout
    manifest = json.loads((workdir / "state" / "manifest.json").read_text())
    assert [c["chain_id"] for c in manifest["chains"]] == [900, 901, 902]
    assert manifest["chains"][1]["ws_url"] == config.chain("rollup-a").ws_url
    assert len(manifest["accounts"]) == 10
    for chain in manifest["chains"]:
        assert chain_id_of(chain["rpc_url"]) == chain["chain_id"]
    pid = pidfile.read(workdir / "state" / "devnet.pid").pid
    assert pid_alive(pid)

    status = devnet("status", cwd=workdir)
    assert status.returncode == 0, status.stdout
    assert status.stdout.count(" up") >= 3

    again = devnet("up", "--detach", "--no-deploy", cwd=workdir)
    assert again.returncode == 1
    assert again.stderr.strip() == f"error: a devnet is already running (pid {pid}); stop it with `devnet down`"

    down = devnet("down", cwd=workdir)
    assert down.returncode == 0 and f"pid {pid}" in down.stdout
    assert not pid_alive(pid)
    time.sleep(0.2)
    assert all(chain_id_of(c["rpc_url"], timeout=0.2) is None for c in manifest["chains"])
    assert devnet("status", cwd=workdir).returncode == 1


def test_port_taken_is_one_clear_line(workdir, config):
    port = config.chain("rollup-a").port
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.0.1", port))
    blocker.listen()
    try:
        result = devnet("up", "--detach", "--no-deploy", cwd=workdir)
    finally:
        blocker.close()
    assert result.returncode == 1
    assert f"chain rollup-a: port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (workdir / "state" / "devnet.pid").exists() or not pid_alive(
        pidfile.read(workdir / "state" / "devnet.pid").pid
    )


def test_bad_config_is_one_clear_line(tmp_path):
    (tmp_path / "devnet.toml").write_text("[guardians]\ncount = 2\nthreshold = 5\n")
    result = devnet("up", "--no-deploy", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: guardians.threshold: must be between 1 and guardians.count (2), got 5"
    ]


def test_down_without_devnet(tmp_path):
    result = devnet("down", cwd=tmp_path)
    assert result.returncode == 0 and "No devnet is running" in result.stdout


def children_of(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def test_foreground_up_shows_stages_and_ctrl_c_stops_everything(workdir, config):
    import signal

    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestrator.cli", "up"],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 120
        while not any("Press Ctrl-C" in line for line in lines):
            line = proc.stdout.readline()
            assert line or proc.poll() is None, "devnet up exited early:\n" + "".join(lines)
            lines.append(line)
            assert time.monotonic() < deadline, "devnet up not ready:\n" + "".join(lines)
        output = "".join(lines)
        for stage in ("toolchain", "compile", "chains", "deploy", "services"):
            assert f"\u2713 {stage}" in output
        for expected in (config.chain("rollup-b").rpc_url, "MetalayerGateway", "guardian-2", "Ready in"):
            assert expected in output
        children = children_of(proc.pid)
        assert len(children) == len(config.chains) + config.guardians.count + 2 + config.solvers.count  # relayer, api
        proc.send_signal(signal.SIGINT)  # what Ctrl-C delivers to the foreground process
        rest, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert "Stopped: every devnet process has exited." in rest
    assert not any(pid_alive(p) for p in children)
    assert not (workdir / "state" / "devnet.pid").exists()
