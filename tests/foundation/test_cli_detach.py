"""`devnet up --detach` while the detached child is still starting: Ctrl-C stops that child."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from orchestrator.config import to_toml
from orchestrator.services import pidfile
from tests.conftest import free_config

REPO = Path(__file__).resolve().parents[2]
DEVNET = str(REPO / ".venv" / "bin" / "devnet")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_ctrl_c_during_detached_start_stops_the_child(tmp_path):
    config = free_config(state_dir=tmp_path / "state")
    (tmp_path / "devnet.toml").write_text(to_toml(config))
    env = {**os.environ, "DEVNET_HOME": str(tmp_path / "home")}
    parent = subprocess.Popen(
        [DEVNET, "up", "--detach", "--no-cache", "--config", "devnet.toml"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    pid_file = Path(config.state_dir) / "devnet.pid"
    deadline = time.monotonic() + 30
    rec = None
    while rec is None and time.monotonic() < deadline:
        time.sleep(0.02)
        rec = pidfile.read(pid_file) if pid_file.is_file() else None
    assert rec is not None, "the detached child never wrote its pid file"
    parent.send_signal(signal.SIGINT)
    _, stderr = parent.communicate(timeout=60)
    try:
        assert parent.returncode == 130
        assert stderr.strip().splitlines() == [
            f"error: interrupted: stopped the devnet that was starting (pid {rec.pid})"
        ]
        assert not _alive(rec.pid)
    finally:
        if _alive(rec.pid):
            os.kill(rec.pid, signal.SIGKILL)


def test_two_detached_ups_on_one_state_dir_start_one_devnet(tmp_path):
    """Both at the same moment: one starts, the other says so in one line and touches nothing of it
    (the loser used to delete the winner's pid file and run folder, leaving it running unseen)."""
    config = free_config(state_dir=tmp_path / "state")
    (tmp_path / "devnet.toml").write_text(to_toml(config))
    env = {**os.environ, "DEVNET_HOME": str(tmp_path / "home")}
    argv = [DEVNET, "up", "--detach", "--no-deploy", "--config", "devnet.toml"]
    both = [
        subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in both]
    rec = pidfile.read(Path(config.state_dir) / "devnet.pid")
    try:
        assert sorted(code for code, _ in results) == [0, 1], results
        loser = next(err for code, err in results if code == 1).strip().splitlines()
        assert len(loser) == 1 and loser[0].startswith("error: a devnet is "), loser
        assert rec is not None and _alive(rec.pid)  # the winner's pid file is still there
        status = subprocess.run([DEVNET, "status", "--config", "devnet.toml"], cwd=tmp_path, env=env)
        assert status.returncode == 0
    finally:
        subprocess.run([DEVNET, "down", "--config", "devnet.toml"], cwd=tmp_path, env=env, capture_output=True)
        if rec is not None and _alive(rec.pid):
            os.kill(rec.pid, signal.SIGKILL)
