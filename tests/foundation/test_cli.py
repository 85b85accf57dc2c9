"""The `devnet` command: detached lifecycle and one-line errors."""

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dataclasses import replace

from orchestrator.config import to_toml

from orchestrator.chains import chain_id_of
from orchestrator.procs import pid_alive

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
    pid = int((workdir / "state" / "devnet.pid").read_text())
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
    assert not (workdir / "state" / "devnet.pid").exists() or not pid_alive(int((workdir / "state" / "devnet.pid").read_text()))


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
