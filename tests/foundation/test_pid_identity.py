"""A pid read from a file is signalled only while it still names the process that was recorded:
`devnet status`/`down`, `devnet chaos` and the registry never take a reused pid for the devnet's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator import registry
from orchestrator.chaos.actions import Chaos, ChaosError
from orchestrator.paths import StateDir
from orchestrator.services import pidfile, procs
from tests.foundation.test_cli_errors import closed_port, write_state


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("DEVNET_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def stranger() -> Iterator[subprocess.Popen[bytes]]:
    """An unrelated process, as a reused pid would name."""
    proc = subprocess.Popen(["sleep", "1000"])
    try:
        yield proc
    finally:
        procs.stop(proc, timeout=1)


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "orchestrator.cli", *args]
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=60)


def state_naming(tmp_path: Path, pid: int) -> Path:
    state = tmp_path / "state"
    write_state(state, pid, closed_port())
    return state


def state_of(proc: subprocess.Popen[bytes]) -> str:
    return Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


@pytest.mark.parametrize("recorded", ["bare pid", "other start time"])
def test_status_and_down_leave_a_process_that_reused_the_pid_alone(tmp_path, home, stranger, recorded):
    state = state_naming(tmp_path, stranger.pid)
    if recorded == "bare pid":  # as written before identities: trusted only for a `devnet up` command line
        (state / "devnet.pid").write_text(str(stranger.pid))
    else:  # the devnet's start time, and a new process on its pid since
        pidfile.write(state / "devnet.pid", pidfile.Recorded(stranger.pid, pidfile.start_time(stranger.pid) - 1))

    status = cli("status", "--state-dir", str(state), cwd=tmp_path)
    assert status.returncode == 1, status.stdout
    assert "No devnet is running" in status.stdout and f"stale pid file {state / 'devnet.pid'}" in status.stdout
    assert f"pid {stranger.pid}" in status.stdout and "Devnet running" not in status.stdout
    doc = json.loads(cli("status", "--json", "--state-dir", str(state), cwd=tmp_path).stdout)
    assert doc["running"] is False and "stale pid file" in doc["stale_pid_file"]
    assert (state / "devnet.pid").exists()  # status only reports it

    down = cli("down", "--state-dir", str(state), "--timeout", "2", cwd=tmp_path)
    assert down.returncode == 0, down.stderr
    assert down.stdout.startswith("No devnet is running (removed the stale pid file")
    assert stranger.poll() is None, "devnet down signalled a process that is not the devnet"
    assert not (state / "devnet.pid").exists()


def test_down_stops_the_recorded_process(tmp_path, home):
    """The positive side: a pid file with the process's identity, and a bare one (an older
    devnet's) whose command line is a `devnet up`, are both stopped."""
    script = tmp_path / "devnet"  # its command line reads `python .../devnet up`
    script.write_text("import time\ntime.sleep(1000)\n")
    for identity in (True, False):
        proc = subprocess.Popen([sys.executable, str(script), "up"])
        try:
            state = state_naming(tmp_path / str(identity), proc.pid)
            if not identity:
                (state / "devnet.pid").write_text(str(proc.pid))
            down = cli("down", "--state-dir", str(state), "--timeout", "5", cwd=tmp_path)
            assert down.returncode == 0 and f"Stopped the devnet (pid {proc.pid})" in down.stdout, down.stdout
            assert proc.wait(timeout=5) == -signal.SIGTERM
        finally:
            procs.stop(proc, timeout=1)


def test_identity_of_a_record():
    me = pidfile.Recorded.of(os.getpid())
    assert me.start is not None and me.stale(lambda argv: False) is None
    assert "another process" in (pidfile.Recorded(os.getpid(), me.start + 1).stale(lambda argv: True) or "")
    dead = subprocess.Popen(["true"])
    while dead.poll() is None:
        time.sleep(0.01)
    assert pidfile.Recorded(dead.pid, 1).stale(lambda argv: True) == f"pid {dead.pid} has exited"
    zombie = subprocess.Popen(["true"])
    time.sleep(0.3)  # exited, not yet reaped: a zombie is gone too
    try:
        assert "has exited" in (pidfile.Recorded(zombie.pid).stale(lambda argv: True) or "")
    finally:
        zombie.wait()
    assert pidfile.Recorded.parse(" 42\n") == pidfile.Recorded(42)
    assert pidfile.Recorded.parse({"pid": 42, "start": 7}) == pidfile.Recorded(42, 7)
    assert pidfile.devnet_argv(["/v/bin/python", "/v/bin/devnet", "up", "--detach"])
    assert pidfile.devnet_argv(["python", "-m", "orchestrator.cli", "up", "--detached-child"])
    assert not pidfile.devnet_argv(["sleep", "1000"])
    assert pidfile.service_argv(["/x/anvil", "--port", "1"])
    assert pidfile.service_argv(["python", "-m", "services.relayer"])
    assert not pidfile.service_argv(["sleep", "1000"])


def chaos_state(tmp_path: Path, pids: dict[str, object]) -> StateDir:
    state = StateDir(tmp_path / "state")
    write_state(state.root, os.getpid(), closed_port())
    state.run.mkdir(parents=True, exist_ok=True)
    state.pids.write_text(json.dumps(pids))
    return state


@pytest.mark.parametrize("kind", ["kill", "pause"])
def test_chaos_never_signals_a_reused_pid(tmp_path, stranger, kind):
    start = pidfile.start_time(stranger.pid)
    state = chaos_state(
        tmp_path,
        {
            "relayer": {"pid": stranger.pid, "start": start - 1},  # the relayer exited, its pid reused
            "guardian-0": stranger.pid,  # a bare pid (older pids.json) of a process that is no service
        },
    )
    chaos = Chaos.for_state(state)
    for target in ("relayer", "guardian-0"):
        with pytest.raises(ChaosError, match=f"{target} is not running as recorded"):
            chaos.apply(kind, target, duration=1)
    time.sleep(0.1)
    assert stranger.poll() is None and state_of(stranger) == "S"


def test_chaos_heal_does_not_resume_a_process_that_reused_the_pid(tmp_path, stranger):
    state = chaos_state(tmp_path, {"guardian-1": pidfile.Recorded.of(stranger.pid).as_json()})
    chaos = Chaos.for_state(state)
    fault = chaos.apply("pause", "guardian-1")
    try:
        assert state_of(stranger) == "T"
        # the paused process died meanwhile and its pid went to a process someone else stopped
        chaos.book.update(fault.id, args={**fault.args, "start": fault.args["start"] - 1})
        chaos.heal()
        time.sleep(0.1)
        assert state_of(stranger) == "T"
    finally:
        os.kill(stranger.pid, signal.SIGCONT)


def test_registry_forgets_an_entry_whose_pid_was_reused(tmp_path, home):
    state = tmp_path / "state"
    registry.register(state, os.getpid())
    assert [e.pid for e in registry.running()] == [os.getpid()]
    entry = next((home / "devnets").glob("*.json"))
    doc = json.loads(entry.read_text())
    entry.write_text(json.dumps({**doc, "start": doc["start"] - 1}))
    assert registry.running() == [] and not entry.exists()
