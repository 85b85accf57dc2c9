"""The daily `devnet` surface through the real CLI against one detached devnet: found from any
directory, --json parsed, --sig calls, payloads from files and stdin, failures with their reason,
messages, retry, logs without anvil's RPC chatter."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from eth_abi import encode
from eth_utils import keccak

from orchestrator.chains.rpc import rpc
from orchestrator.config import to_toml
from tests.conftest import SEND_A_TO_B, free_config, one_error_line

REPO = Path(__file__).resolve().parents[2]
DEVNET = str(REPO / ".venv" / "bin" / "devnet")


def cli(
    *args: str, cwd: Path, home: Path, stdin: bytes | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    env = {**os.environ, "DEVNET_HOME": str(home)}
    env.pop("NO_COLOR", None)
    result = subprocess.run([DEVNET, *args], cwd=cwd, env=env, input=stdin, capture_output=True, timeout=timeout)
    result.stdout, result.stderr = result.stdout.decode(), result.stderr.decode()  # type: ignore[assignment]
    return result


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    """One detached devnet (a failing delivery is final after 1 attempt), started from `work`."""
    root = tmp_path_factory.mktemp("daily")
    work, home, elsewhere = root / "work", root / "home", root / "elsewhere"
    for d in (work, home, elsewhere):
        d.mkdir()
    config = free_config()
    config = replace(config, state_dir=str(root / "state"), relayer=replace(config.relayer, max_attempts=1))
    (work / "devnet.toml").write_text(to_toml(config))
    up = cli("up", "--detach", "--json", cwd=work, home=home)
    assert up.returncode == 0, up.stderr
    summary = json.loads(up.stdout)

    class Net:
        pass

    n = Net()
    n.root, n.work, n.home, n.elsewhere, n.config, n.summary = root, work, home, elsewhere, config, summary
    n.run = lambda *a, stdin=None, cwd=elsewhere: cli(*a, cwd=cwd, home=home, stdin=stdin)
    yield n
    cli("down", "--state-dir", str(root / "state"), cwd=root, home=home)


def counter_value(net, chain: str) -> int:
    url = net.config.chain(chain).rpc_url
    address = net.summary["contracts"]["CrossChainCounter"]["address"]
    out = rpc(url, "eth_call", [{"to": address, "data": "0x" + keccak(text="count()")[:4].hex()}, "latest"])
    return int(str(out), 16)


def test_up_json_summary_has_abis_and_absolute_artifacts(net):
    doc = net.summary
    assert [c["name"] for c in doc["chains"]] == ["hub", "rollup-a", "rollup-b"]
    gateway = doc["contracts"]["MetalayerGateway"]
    assert Path(gateway["artifact"]).is_absolute() and Path(gateway["artifact"]).is_file()
    assert any(item.get("name") == "sendMessage" for item in gateway["abi"])
    assert doc["services"]["api"] == f"http://127.0.0.1:{net.config.api.port}"
    assert doc["state_dir"] == str(net.root / "state") and isinstance(doc["pid"], int)


def test_status_json_from_another_directory(net):
    result = net.run("status", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    doc = json.loads(result.stdout)
    assert doc["running"] and doc["healthy"] and doc["state_dir"] == str(net.root / "state")
    assert {c["name"]: c["up"] for c in doc["chains"]} == {"hub": True, "rollup-a": True, "rollup-b": True}
    assert {s["name"] for s in doc["services"]} >= {"api", "relayer", "guardian-0"}


def test_a_broken_devnet_toml_beside_a_running_devnet_only_matters_to_up(net, tmp_path):
    (tmp_path / "devnet.toml").write_text("[guardians\ncount = ")
    status = net.run("status", cwd=tmp_path)
    assert status.returncode == 0 and "Devnet running" in status.stdout, status.stderr
    assert net.run("logs", "-n", "1", cwd=tmp_path).returncode == 0
    sent = net.run("send", "--from", "rollup-a", "--to", "rollup-b", "--json", cwd=tmp_path)
    assert sent.returncode == 0, sent.stderr
    assert "invalid TOML" in one_error_line(net.run("up", "--detach", cwd=tmp_path))


def test_sig_delivers_increment_7_to_the_counter(net):
    before = counter_value(net, "rollup-b")
    counter = net.summary["contracts"]["CrossChainCounter"]["address"]
    result = net.run(
        *SEND_A_TO_B,
        "--recipient",
        counter,
        "--sig",
        "increment(uint256)",
        "7",
        "--wait",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    expected = keccak(text="increment(uint256)")[:4] + encode(["uint256"], [7])
    assert doc["status"] == "delivered" and doc["trace"]["payload"] == "0x" + expected.hex()
    assert [a["outcome"] for a in doc["trace"]["attempt_log"]] == ["delivered"]
    assert counter_value(net, "rollup-b") == before + 7


def test_sig_without_parameters_is_the_selector_alone(net):
    before = counter_value(net, "rollup-b")
    counter = net.summary["contracts"]["CrossChainCounter"]["address"]
    result = net.run(*SEND_A_TO_B, "--recipient", counter, "--sig", "f()", "--wait", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["trace"]["payload"] == "0x" + keccak(text="f()")[:4].hex()
    assert counter_value(net, "rollup-b") == before + 1  # a payload shorter than a word counts as 1


def test_a_200_kb_payload_from_a_file(net, tmp_path):
    data = os.urandom(200 * 1024)
    (tmp_path / "payload.bin").write_bytes(data)
    result = net.run(
        *SEND_A_TO_B,
        "--payload",
        f"@{tmp_path / 'payload.bin'}",
        "--wait",
        "--json",
        "--timeout",
        "60",
    )
    if result.returncode != 0 and "the gateway accepts at most" in result.stderr:
        limit = int(one_error_line(result).rsplit(" ", 1)[1])  # a gateway with a smaller MAX_PAYLOAD
        assert limit < len(data)
        return
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["status"] == "delivered" and doc["payload_bytes"] == len(data)
    assert doc["trace"]["payload"] == "0x" + data.hex()


def test_payload_from_stdin_hex_or_bytes(net):
    for stdin, expected in ((b"0xC0FFEE\n", "0xc0ffee"), (b"raw \x00 bytes", "0x" + b"raw \x00 bytes".hex())):
        result = net.run("send", "--from", "hub", "--to", "rollup-a", "--payload", "-", "--wait", "--json", stdin=stdin)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["trace"]["payload"] == expected


def test_a_failing_message_ends_wait_with_its_reason_and_can_be_listed_traced_and_retried(net):
    era = net.summary["contracts"]["EraToken"]["address"]  # not a recipient the gateway may call
    result = net.run(
        *SEND_A_TO_B,
        "--recipient",
        era,
        "--payload",
        "x",
        "--wait",
        "--timeout",
        "60",
    )
    line = one_error_line(result)
    assert line.startswith("error: message failed: ") and len(line) > len("error: message failed: ")
    mid = result.stdout.split()[1]
    assert "attempts" in result.stdout and "#1" in result.stdout  # every attempt shown

    trace = net.run("trace", mid, "--json")
    assert trace.returncode == 0, trace.stderr
    doc = json.loads(trace.stdout)
    assert doc["status"] == "failed" and doc["attempt_log"][0]["reason"]
    assert doc["attempt_log"][0]["reason"] in line

    listed = json.loads(net.run("messages", "--status", "failed", "--from", "rollup-a", "--json").stdout)
    assert mid in [m["id"] for m in listed["messages"]]
    assert all(m["status"] == "failed" for m in listed["messages"])
    none = json.loads(net.run("messages", "--status", "failed", "--from", "hub", "--json").stdout)
    assert mid not in [m["id"] for m in none["messages"]]

    retried = net.run("retry", mid, "--json")
    assert retried.returncode == 0, retried.stderr
    assert json.loads(retried.stdout) == {"id": mid, "status": "pending"}


def reverting_with(net, chain: str, reason: str) -> str:
    """A contract whose every call reverts with Error(reason), deployed from an anvil-unlocked dev account."""
    data = keccak(text="Error(string)")[:4] + encode(["string"], [reason])
    # runtime: CODECOPY(0, 15, n) REVERT(0, n), then the revert data
    runtime = bytes.fromhex(f"61{len(data):04x}61000f60003961{len(data):04x}6000fd") + data
    # init: CODECOPY(0, 15, len) RETURN(0, len), then the runtime
    init = bytes.fromhex(f"61{len(runtime):04x}61000f60003961{len(runtime):04x}6000f3") + runtime
    url = net.config.chain(chain).rpc_url
    sender = net.summary["accounts"][9]["address"]
    tx = rpc(url, "eth_sendTransaction", [{"from": sender, "data": "0x" + init.hex(), "gas": hex(500_000)}])
    while (receipt := rpc(url, "eth_getTransactionReceipt", [tx])) is None:
        pass
    return str(receipt["contractAddress"])


def test_control_characters_of_a_revert_string_are_escaped(net):
    evil = reverting_with(net, "rollup-b", "first line\nsecond line \x1b[31mRED\x1b[0m")
    result = net.run("send", "--from", "hub", "--to", "rollup-b", "--recipient", evil, "--wait", "--timeout", "60")
    line = one_error_line(result)  # one line, however many the revert string has
    assert "first line\\nsecond line \\x1b[31mRED\\x1b[0m" in line, line
    assert "\x1b" not in result.stdout + result.stderr  # piped: nothing styles the output, the chain least
    attempt = next(t for t in result.stdout.splitlines() if t.strip().startswith("#1"))
    assert "first line\\nsecond line \\x1b[31mRED" in attempt
    trace = net.run("trace", result.stdout.split()[1])
    assert "\x1b" not in trace.stdout and "second line \\x1b[31mRED" in trace.stdout


def test_messages_limit_and_text_table(net):
    net.run("send", "--from", "hub", "--to", "rollup-b", "--wait")
    doc = json.loads(net.run("messages", "-n", "1", "--json").stdout)
    assert len(doc["messages"]) == 1 and doc["total"] >= 1
    text = net.run("messages", "--to", "rollup-b")
    assert text.returncode == 0 and "rollup-b" in text.stdout and "\x1b[" not in text.stdout  # piped: plain


def test_unknown_ids_and_bad_sig_are_one_line(net):
    assert "unknown message id" in one_error_line(net.run("trace", "0x" + "ab" * 32))
    assert "malformed message id" in one_error_line(net.run("trace", "0x12"))
    assert "unknown message id" in one_error_line(net.run("retry", "0x" + "ab" * 32))
    bad = net.run("send", "--from", "rollup-a", "--to", "rollup-b", "--sig", "increment(uint8)", "300")
    assert "increment(uint8)" in one_error_line(bad)
    missing = net.run("send", "--from", "rollup-a", "--to", "rollup-b", "--payload", "@/nonexistent/file")
    assert "/nonexistent/file" in one_error_line(missing)
    # a wrong EIP-55 checksum is a typo, as `devnet intent` and the API say; one case is no checksum
    typo = net.run(*SEND_A_TO_B, "--recipient", "0x5aaeb6053F3E94C9b9A09f33669435E7Ef1BeAed")
    assert "bad EIP-55 checksum" in one_error_line(typo)
    lower = net.run(*SEND_A_TO_B, "--recipient", net.summary["contracts"]["CrossChainCounter"]["address"].lower())
    assert lower.returncode == 0, lower.stderr


def test_logs_leave_anvil_rpc_chatter_out_unless_verbose(net):
    merged = net.run("logs", "-n", "2000")
    assert merged.returncode == 0
    chain_lines = [line for line in merged.stdout.splitlines() if line.startswith(("hub ", "rollup-a "))]
    assert not [line for line in chain_lines if line.split("| ", 1)[1].startswith("eth_")]
    verbose = net.run("logs", "-n", "2000", "--verbose")
    assert any(line.split("| ", 1)[1].startswith("eth_") for line in verbose.stdout.splitlines() if "| " in line)
