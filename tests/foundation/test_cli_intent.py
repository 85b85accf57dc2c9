"""`devnet intent` through the real CLI and the devnet's API, solver and relayer: one devnet started
the way `devnet up` starts it (USDC, settlers, solver-0 supervised) shared by the module."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from eth_account import Account

from orchestrator.cli.main import main
from orchestrator.paths import REPO_ROOT
from orchestrator.summary import render_summary, service_rows
from orchestrator.testing import DevnetHandle
from tests.conftest import free_config

A, B = "rollup-a", "rollup-b"
USDC = 10**6


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevnetHandle]:
    config = free_config(4400, state_dir=tmp_path_factory.mktemp("cli-intent") / "state")
    with DevnetHandle.start(config) as handle:
        yield handle


def _manifest(net: DevnetHandle) -> str:
    return str(net.devnet.manifest_path)


def _usdc(net: DevnetHandle, chain: str, who: str) -> int:
    return net.contract(chain, "USDC").functions.balanceOf(who).call()


def test_up_lists_and_runs_the_solver(net: DevnetHandle):
    summary = render_summary(net.manifest)
    solver = net.manifest.intents.solvers[0]  # type: ignore[union-attr]
    for word in ("USDC", "OriginSettler", "DestinationSettler", "solver-0", solver.address):
        assert word in summary
    rows = dict(service_rows(net.manifest))
    assert rows["solver-0"] == solver.url
    assert httpx.get(f"{solver.url}/health", timeout=5).json()["ready"] is True


def test_move_with_flags_reaches_the_recipient(net: DevnetHandle, capsys: pytest.CaptureFixture[str]):
    recipient = Account.create().address
    argv = ["intent", "move", "100", "USDC", "--from", A, "--to", B, "--recipient", recipient]
    assert main([*argv, "--manifest", _manifest(net)]) == 0
    out = capsys.readouterr().out
    assert "route    solver: solver 0 holds enough USDC on rollup-b" in out
    assert "solver fee 0.05 USDC" in out and "ERA message fee" in out and "expected" in out
    lines = [line.split()[0] for line in out.splitlines() if line.split()]
    assert lines[-3:] == ["opened", "filled", "settled"], out
    assert _usdc(net, B, recipient) == 100 * USDC


def test_sentence_form_with_json(net: DevnetHandle):
    recipient = Account.create().address
    sentence = f"move 100 USDC from {A} to {recipient} on {B}"
    cmd = [sys.executable, "-m", "orchestrator.cli", "intent", sentence, "--json", "--manifest", _manifest(net)]
    done = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["status"] == "settled" and doc["route"] == "solver"
    assert {"opened", "filled", "settled"} <= set(doc["stages"])
    assert _usdc(net, B, recipient) == 100 * USDC


def test_canonical_route_when_the_solver_lacks_liquidity(net: DevnetHandle, capsys: pytest.CaptureFixture[str]):
    recipient = Account.create().address
    argv = ["intent", f"move 150000 USDC from {A} to {recipient} on {B}", "--manifest", _manifest(net)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "route    canonical: no solver holds 150000.0 USDC on rollup-b" in out
    assert "settled" in out
    assert _usdc(net, B, recipient) == 150_000 * USDC


GOOD = Account.create().address


@pytest.mark.parametrize(
    "words, flags, message",
    [
        (["move", "100", "DAI"], [], "unknown token 'DAI'"),
        (["move", "100", "USDC"], ["--from", "rollup-z"], "unknown chain 'rollup-z'"),
        (["move", "0", "USDC"], [], "amount must be positive"),
        (["move", "-5", "USDC"], [], "amount must be positive"),
        (["move", "5000000", "USDC"], [], "the intent needs 5000000.0"),
        (["move", "100", "USDC"], ["--deadline", "1000"], "deadline 1000 is in the past"),
        (["move", "100", "USDC"], ["--recipient", "0x12345"], "recipient is not an address"),
        ([f"move 100 USDC to {GOOD}"], ["--recipient", Account.create().address], "recipient given twice"),
        (["send", "money", "please"], [], "cannot read"),
        (["move", "100", "USDC"], ["--to", A], "same chain"),
    ],
)
def test_bad_input_is_one_line_and_sends_nothing(net: DevnetHandle, capsys, words, flags, message):
    payer = net.accounts[0].address
    nonce = net.w3[A].eth.get_transaction_count(payer)
    defaults = {"--from": A, "--to": B, "--recipient": GOOD}
    for flag, value in defaults.items():
        if flag not in flags and not (flag == "--recipient" and any(GOOD in w for w in words)):
            flags = [*flags, flag, value]
    assert main(["intent", *words, *flags, "--manifest", _manifest(net)]) == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], captured
    assert captured.out == ""
    assert net.w3[A].eth.get_transaction_count(payer) == nonce


def test_a_deadline_the_solver_would_skip_is_one_line(net: DevnetHandle, capsys: pytest.CaptureFixture[str]):
    """The same refusal as POST /v1/intents: the solver would skip the order and lock the escrow."""
    payer = net.accounts[0].address
    nonce = net.w3[A].eth.get_transaction_count(payer)
    soon = str(net.w3[A].eth.get_block("latest").timestamp + 4)
    argv = ["intent", "move", "5", "USDC", "--from", A, "--to", B, "--recipient", GOOD, "--deadline", soon]
    assert main([*argv, "--manifest", _manifest(net)]) == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "too close for the solver route" in lines[0] and "at least" in lines[0], captured
    assert captured.out == "" and net.w3[A].eth.get_transaction_count(payer) == nonce


def test_no_api_is_one_line(tmp_path: Path, net: DevnetHandle, capsys: pytest.CaptureFixture[str]):
    doc = json.loads(Path(_manifest(net)).read_text())
    doc["services"]["api"] = "http://127.0.0.1:9"  # nothing listens on the discard port
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(doc))
    assert (
        main(["intent", "move", "1", "USDC", "--from", A, "--to", B, "--recipient", GOOD, "--manifest", str(path)]) == 1
    )
    assert "does not answer" in capsys.readouterr().err


def test_found_from_any_directory(net: DevnetHandle, tmp_path: Path, monkeypatch, capsys):
    """Seen: without --manifest, `devnet intent` looked only in ./.devnet ('no manifest at
    /tmp/.devnet/manifest.json'), where every other command finds the running devnet."""
    from orchestrator import registry

    monkeypatch.setenv("DEVNET_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    registry.register(net.devnet.state_dir, os.getpid())  # what `devnet up` does
    argv = ["intent", "move", "1", "USDC", "--from", A, "--to", B, "--recipient", GOOD, "--no-wait"]
    assert main(argv) == 0, capsys.readouterr().err
    assert "route    solver" in capsys.readouterr().out


def test_to_a_chain_pays_the_sender_there(net: DevnetHandle, capsys: pytest.CaptureFixture[str]):
    """Seen: "move 2 USDC from rollup-a to rollup-b" read rollup-b as the recipient and said
    'missing to chain'. A chain after `to` is the destination; the recipient is then the sender."""
    payer = net.accounts[1].address
    before = _usdc(net, B, payer)
    argv = ["intent", f"move 2 USDC from {A} to {B}", "--account", "1", "--manifest", _manifest(net)]
    assert main(argv) == 0, capsys.readouterr().err
    assert _usdc(net, B, payer) == before + 2 * USDC
