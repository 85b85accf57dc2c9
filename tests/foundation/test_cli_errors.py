"""The real `devnet` CLI without a devnet (or with a dead one): one clear line for every mistake,
a taken port named with its owner, stale state recognised, colour only on a terminal."""

from __future__ import annotations

import json
import os
import pty
import socket
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pytest

from orchestrator import registry
from orchestrator.config import default_config, to_toml
from orchestrator.services import pidfile
from orchestrator.services.logs import rotate_logs
from tests.conftest import SEND_A_TO_B, free_config, one_error_line

REPO = Path(__file__).resolve().parents[2]
DEVNET = str(REPO / ".venv" / "bin" / "devnet")
MID = "0x" + "ab" * 32


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("DEVNET_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def cli(*args: str, cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([DEVNET, *args], cwd=cwd, capture_output=True, text=True, timeout=60, **kwargs)


def test_version(tmp_path):
    result = cli("--version", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.startswith("devnet ") and result.stdout.split()[1][0].isdigit()


@pytest.mark.parametrize(
    "args,expected",
    [
        (["up", "--block-time", "-1"], "--block-time: must be 0 (instant) or a positive number of seconds, got -1"),
        (["up", "--block-time", "0.001"], "--block-time: 0.001 is below the minimum of 0.1 seconds"),
        (["up", "--block-time", "nan"], "--block-time: expected a finite number"),
        (["up", "--block-time", "1e12"], "--block-time: 1e12 is above the maximum of 3600 seconds"),
        (["up", "--timeout", "-5"], "--timeout: must be a positive number of seconds, got -5"),
        (["up", "--timeout", "0"], "--timeout: must be a positive number of seconds, got 0"),
        (["down", "--timeout", "-1"], "--timeout: must be a positive number of seconds"),
        (["logs", "-n", "-3"], "--lines/-n: must be at least 0, got -3"),
        (["messages", "-n", "0"], "-n/--limit: must be between 1 and 1000, got 0"),
        (["send", "--from", "a", "--to", "b", "--timeout", "-5"], "--timeout: must be a positive number"),
        (["send", "--from", "a", "--to", "b", "--account", "-1"], "--account: must be at least 0, got -1"),
        (["deploy", "--timeout", "x"], "--timeout: expected a number, got 'x'"),
        (["messages", "--status", "lost"], "--status: invalid choice: 'lost'"),
    ],
)
def test_every_bad_numeric_flag_is_one_line(tmp_path, home, args, expected):
    line = one_error_line(cli(*args, cwd=tmp_path))
    assert expected in line


@pytest.mark.parametrize(
    "payload,expected",
    [
        ("0xzz", "--payload '0xzz' starts with 0x but is not hex"),  # was sent as the text "0xzz"
        ("0xc0ffeg", "--payload '0xc0ffeg' starts with 0x but is not hex"),
        ("0xabc", "--payload '0xabc' is hex with an odd number of digits"),
        (b"\xff\xfe", "--payload: not valid UTF-8 text (give raw bytes as 0x-hex or @FILE)"),  # was UnicodeEncodeError
    ],
)
def test_a_bad_payload_is_one_line_before_anything_is_sent(tmp_path, home, payload, expected):
    # checked before the devnet is looked for: none runs here
    assert one_error_line(cli(*SEND_A_TO_B, "--payload", payload, cwd=tmp_path)) == f"error: {expected}"


def test_flags_the_api_takes_or_refuses_the_cli_does_too(tmp_path, home):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    for args in (["status"], ["trace", MID], ["chaos", "list"], ["up"]):  # was NotADirectoryError: [Errno 20] ...
        line = one_error_line(cli(*args, "--state-dir", str(not_a_dir), cwd=tmp_path))
        assert line == f"error: --state-dir {not_a_dir} is not a directory", args
    # after the fault's name as before it (was "unrecognized arguments"), like `snapshot list --state-dir`
    line = one_error_line(cli("chaos", "list", "--state-dir", str(tmp_path / "none"), cwd=tmp_path))
    assert "no devnet is running" in line
    # 0X ids, as the API takes them: past the id check, to the missing devnet
    assert "no devnet is running" in one_error_line(cli("trace", "0X" + MID[2:].upper(), cwd=tmp_path))
    # a holder is a 20-byte address, as GET /v1/read says: 0x12 was padded into one
    read = cli("read", "--chain", "hub", "--address", "0x" + "12" * 20, "--erc20-balance", "0x12", cwd=tmp_path)
    assert one_error_line(read) == "error: ERC20 holder '0x12' is not a 20-byte 0x address"


def test_block_time_config_key_has_the_same_minimum(tmp_path):
    (tmp_path / "devnet.toml").write_text('[[rollups]]\nname = "r"\nblock_time = 0.001\n')
    line = one_error_line(cli("up", cwd=tmp_path))
    assert line == "error: rollups[0].block_time: 0.001 is below the minimum of 0.1 s"


def test_without_a_devnet_every_command_says_so_in_one_line(tmp_path, home):
    for args in (
        ["send", "--from", "rollup-a", "--to", "rollup-b"],
        ["trace", MID],
        ["messages"],
        ["retry", MID],
    ):
        line = one_error_line(cli(*args, cwd=tmp_path))
        assert line == "error: no devnet is running (start one with `devnet up`)", args
    # logs read a stopped devnet's too: here there are none
    assert one_error_line(cli("logs", cwd=tmp_path)).startswith("error: no logs in ")
    status = cli("status", cwd=tmp_path)
    assert status.returncode == 1 and status.stdout.strip() == "No devnet is running (start one with `devnet up`)."
    assert json.loads(cli("status", "--json", cwd=tmp_path).stdout) == {"running": False}


def write_state(state: Path, pid: int, api_port: int) -> None:
    """A state directory as a devnet leaves it: pid file and a manifest whose API is `api_port`."""
    state.mkdir(parents=True)
    pidfile.write(state / "devnet.pid", pidfile.Recorded.of(pid))
    config = free_config()
    manifest = {
        "chains": [
            {
                "name": c.name,
                "chain_id": c.chain_id,
                "role": c.role,
                "port": c.port,
                "rpc_url": c.rpc_url,
                "ws_url": c.ws_url,
            }
            for c in config.chains
        ],
        "keys": {"relayer": {"address": "0x" + "11" * 20, "private_key": "0x" + "22" * 32}},
        "guardians": {"threshold": 1, "members": []},
        "accounts": [{"address": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "private_key": "0x" + "33" * 32}],
        "contracts": {"MetalayerGateway": {"address": "0x" + "44" * 20}},
        "services": {"api": f"http://127.0.0.1:{api_port}", "relayer": f"http://127.0.0.1:{api_port}"},
        "state_dir": str(state),
    }
    (state / "manifest.json").write_text(json.dumps(manifest))


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_stale_manifest_is_no_devnet(tmp_path, home):
    write_state(tmp_path / ".devnet", dead_pid(), closed_port())
    registry.register(tmp_path / ".devnet", dead_pid())
    status = cli("status", cwd=tmp_path)
    assert status.returncode == 1 and "No devnet is running (start one with `devnet up`)" in status.stdout
    line = one_error_line(cli("send", "--from", "rollup-a", "--to", "rollup-b", cwd=tmp_path))
    assert line == "error: no devnet is running (start one with `devnet up`)"
    explicit = one_error_line(cli("trace", MID, "--state-dir", str(tmp_path / ".devnet"), cwd=REPO))
    assert "no devnet is running" in explicit and str(tmp_path / ".devnet") in explicit
    assert registry.running() == []  # the stale entry is gone
    assert not list((home / "devnets").glob("*.json"))


def test_api_not_answering_is_never_unknown_id(tmp_path, home):
    # a live process owns the state (this test), but nothing answers on the API's port
    write_state(tmp_path / "state", os.getpid(), closed_port())
    line = one_error_line(cli("trace", MID, "--state-dir", str(tmp_path / "state"), cwd=tmp_path))
    assert "unknown message id" not in line and "does not answer" in line
    retry = one_error_line(cli("retry", MID, "--state-dir", str(tmp_path / "state"), cwd=tmp_path))
    assert "unknown message id" not in retry and "answers" in retry
    send = one_error_line(
        cli(
            *SEND_A_TO_B,
            "--recipient",
            "0x" + "11" * 20,
            "--state-dir",
            str(tmp_path / "state"),
            cwd=tmp_path,
        )
    )
    assert "does not answer" in send and "URLError" not in send and "Errno" not in send


@pytest.mark.parametrize("service", ["api", "relayer", "guardian-1"])
def test_a_taken_service_port_names_the_port_and_its_owner(tmp_path, home, service):
    config = replace(free_config(), state_dir=str(tmp_path / "state"))
    (tmp_path / "devnet.toml").write_text(to_toml(config))
    port = config.service_ports()[service]
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.0.1", port))
    blocker.listen()
    try:
        result = cli("up", "--detach", cwd=tmp_path)
    finally:
        blocker.close()
    line = one_error_line(result)
    assert line.startswith(
        f"error: service {service}: port {port} on 127.0.0.1 is already in use by pid {os.getpid()} ("
    )
    assert not (tmp_path / "state" / "logs" / "hub.log").exists()  # nothing started


def test_colour_on_a_terminal_only(tmp_path, home):
    def on_tty(*args: str, env: dict[str, str]) -> str:
        leader, follower = pty.openpty()
        proc = subprocess.Popen(
            [DEVNET, *args],
            cwd=tmp_path,
            stdout=follower,
            stderr=follower,
            env={**os.environ, "TERM": "xterm-256color", **env},
        )
        os.close(follower)
        chunks = []
        while True:
            try:
                data = os.read(leader, 4096)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        proc.wait(timeout=30)
        os.close(leader)
        return b"".join(chunks).decode(errors="replace")

    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    coloured = on_tty("logs", "-n", "-1", env={**env, "NO_COLOR": ""})
    assert "\x1b[" in coloured and "must be at least 0" in coloured
    plain = on_tty("logs", "-n", "-1", env={"NO_COLOR": "1"})
    assert "\x1b[" not in plain and "error: logs: argument --lines/-n" in plain
    piped = cli("logs", "-n", "-1", cwd=tmp_path)
    assert "\x1b[" not in piped.stderr


def test_logs_of_earlier_runs_are_kept_apart_and_bounded(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    for run in range(7):
        (logs / "relayer.log").write_text(f"run {run}\n")
        (logs / "hub.log").write_text(f"run {run}\n")
        os.utime(logs / "relayer.log", (time.time() - 1000 + run * 10,) * 2)
        archived = rotate_logs(logs, keep=3)
        assert archived is not None and (archived / "relayer.log").read_text() == f"run {run}\n"
        assert not list(logs.glob("*.log"))
    runs = sorted(p for p in logs.iterdir() if p.is_dir())
    assert len(runs) == 3
    assert [(p / "hub.log").read_text() for p in runs] == ["run 4\n", "run 5\n", "run 6\n"]
    assert rotate_logs(logs, keep=3) is None  # nothing new to archive


def test_registry_finds_a_devnet_and_forgets_it(tmp_path, home):
    state = tmp_path / "somewhere" / ".devnet"
    registry.register(state, os.getpid())
    assert [e.state_dir for e in registry.running()] == [state.resolve()]
    registry.unregister(state, pid=os.getpid() + 1)  # another devnet's stop leaves this entry alone
    assert len(registry.running()) == 1
    registry.unregister(state, pid=os.getpid())
    assert registry.running() == []
    assert default_config().state_dir == ".devnet"


def test_logs_of_a_stopped_devnet_are_readable(tmp_path, home):
    """Seen: after a kill -9 (or `down`), `devnet logs relayer --state-dir S` said 'no devnet is
    running': the last run's logs, wanted most after a crash, were out of the CLI's reach."""
    state = tmp_path / "state"
    (state / "logs").mkdir(parents=True)
    (state / "logs" / "relayer.log").write_text("one\ntwo\nthree\n")
    shown = cli("logs", "relayer", "-n", "2", "--state-dir", str(state), cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines() == ["relayer | two", "relayer | three"]
    empty = cli("logs", "--state-dir", str(tmp_path / "none"), cwd=tmp_path)
    assert "no logs in" in one_error_line(empty)


@pytest.mark.parametrize(
    "output, problem",
    [
        (".", "is a directory"),  # seen: 'IsADirectoryError: [Errno 21] Is a directory'
        ("", "is a directory"),  # '' is the working directory
        ("no/such/dir/x.yml", "its directory does not exist"),  # seen: '[Errno 2] No such file or directory'
    ],
)
def test_compose_output_that_cannot_be_written_is_one_clear_line(tmp_path, output, problem):
    line = one_error_line(cli("compose", "-o", output, cwd=tmp_path))
    assert line.startswith(f"error: --output {output!r}: {problem}"), line
