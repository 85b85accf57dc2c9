"""devnet.toml values that used to pass validation and fail later (in bind(), anvil, or by deleting
files): each is refused by `parse_config` with one line naming the key, and by `devnet up` before
anything starts."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest

from orchestrator.config import ConfigError, parse_config
from orchestrator.config_toml import to_toml
from tests.conftest import one_error_line

REPO = Path(__file__).resolve().parents[2]
DEVNET = str(REPO / ".venv" / "bin" / "devnet")
ROLLUP = {"name": "a", "chain_id": 950, "port": 9001}


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"api": {"port": 99999}}, r"^api\.port: must be 1-65535, got 99999$"),
        ({"api": {"port": 0}}, r"^api\.port: must be 1-65535"),
        ({"relayer": {"port": 0}}, r"^relayer\.port: must be 1-65535, got 0$"),
        ({"relayer": {"port": 70000}}, r"^relayer\.port: must be 1-65535"),
        ({"guardians": {"base_port": 65534}}, r"^guardians\.base_port: must be 1-65533 \(with 3 consecutive"),
        ({"guardians": {"base_port": 0}}, r"^guardians\.base_port: must be 1-"),
        ({"solvers": {"count": 2, "base_port": 65535}}, r"^solvers\.base_port: must be 1-65534"),
        ({"rollups": [{**ROLLUP, "block_time": float("nan")}]}, r"^rollups\[0\]\.block_time: must be a finite"),
        ({"rollups": [{**ROLLUP, "block_time": float("inf")}]}, r"^rollups\[0\]\.block_time: must be a finite"),
        ({"rollups": [{**ROLLUP, "block_time": 1e12}]}, r"^rollups\[0\]\.block_time: .* above the maximum of 3600"),
        ({"hub": {"block_time": 3601}}, r"^hub\.block_time: .* above the maximum"),
        ({"rollups": [{**ROLLUP, "chain_id": 2**64}]}, r"^rollups\[0\]\.chain_id: must be 1-18446744073709551615"),
        ({"hub": {"chain_id": -1}}, r"^hub\.chain_id: must be 1-"),
        ({"mnemonic": "foo bar"}, r"^mnemonic: expected 12, 15, 18, 21 or 24 words, got 2$"),
        ({"mnemonic": " ".join(["test"] * 12)}, r"^mnemonic: not a valid BIP-39"),
        ({"mnemonic": " ".join(["zzzz"] * 12)}, r"^mnemonic: not a valid BIP-39"),
        ({"relayer": {"poll_interval": -1}}, r"^relayer\.poll_interval: must be > 0 seconds, got -1"),
        ({"relayer": {"poll_interval": 0}}, r"^relayer\.poll_interval: must be > 0"),
        ({"relayer": {"poll_interval": float("nan")}}, r"^relayer\.poll_interval: must be a finite"),
        ({"relayer": {"max_age": float("inf")}}, r"^relayer\.max_age: must be a finite"),
        ({"relayer": {"root_post_interval": -1}}, r"^relayer\.root_post_interval: must be >= 0"),
        ({"relayer": {"max_batch": 0}}, r"^relayer\.max_batch: must be at least 1, got 0$"),
        ({"api": {"event_streams": 0}}, r"^api\.event_streams: must be between 1 and 256, got 0$"),
        ({"api": {"reads": 65}}, r"^api\.reads: must be between 1 and 64, got 65$"),
        ({"api": {"reads": "8"}}, r"^api\.reads: "),
        ({"state_dir": ""}, r"^state_dir: must not be empty"),
        # seen: accepted, then `up` hung deriving 10**20 keys (~2 ms each)
        ({"accounts": 10**20}, r"^accounts: must be between 1 and 1000, got 100000000000000000000$"),
        ({"accounts": 0}, r"^accounts: must be between 1 and 1000, got 0$"),
        # seen: anvil exited at start, 'the argument '--port <NUM>' cannot be used multiple times'
        ({"hub": {"anvil_args": ["--port", "1"]}}, r"^hub\.anvil_args: --port is set by the devnet \(hub\.port\)$"),
        ({"rollups": [{**ROLLUP, "anvil_args": ["-p", "1"]}]}, r"^rollups\[0\]\.anvil_args: -p is set by the devnet"),
        (
            {"hub": {"anvil_args": ["--chain-id=5"]}},
            r"^hub\.anvil_args: --chain-id is set by .* \(hub\.chain_id\)",
        ),
        (
            {"hub": {"anvil_args": ["--accounts", "3"]}},
            r"^hub\.anvil_args: --accounts is set by .* \(accounts\)",
        ),
        ({"state_dir": "  "}, r"^state_dir: must not be empty"),
    ],
)
def test_out_of_range_values_name_the_key(raw, message):
    with pytest.raises(ConfigError, match=message) as info:
        parse_config(raw)
    assert "\n" not in str(info.value)


def test_edge_values_still_parse():
    config = parse_config(
        {
            "hub": {
                "chain_id": 2**64 - 1,
                "block_time": 3600,
                "anvil_args": ["--gas-limit", "60000000", "--order=fifo"],
            },
            "rollups": [{"name": "a", "chain_id": 1, "port": 65535, "block_time": 0}],
            "guardians": {"count": 3, "base_port": 65530},
            "solvers": {"count": 0},
            "api": {"event_streams": 256, "reads": 1},
            "mnemonic": "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
        }
    )
    assert config.hub.chain_id == 2**64 - 1 and config.chain("a").block_time is None
    assert config.guardians.ports == (65530, 65531, 65532)
    assert (config.api.event_streams, config.api.reads) == (256, 1)
    assert parse_config(tomllib.loads(to_toml(config))).api == config.api  # written back, read alike


@pytest.mark.parametrize(
    "text, key",
    [
        ("[api]\nport = 99999\n", "api.port"),
        ("[guardians]\nbase_port = 65534\n", "guardians.base_port"),
        ("[relayer]\nport = 0\n", "relayer.port"),
        ('state_dir = ""\n', "state_dir"),
        ("[hub]\nblock_time = nan\n", "hub.block_time"),
    ],
)
def test_up_refuses_bad_values_in_one_line_and_starts_nothing(tmp_path, monkeypatch, text, key):
    monkeypatch.setenv("DEVNET_HOME", str(tmp_path / "home"))
    (tmp_path / "devnet.toml").write_text(text)
    (tmp_path / "run").mkdir()  # `state_dir = ""` used to resolve to the cwd and delete ./run
    result = subprocess.run(
        [DEVNET, "up", "--detach", "--config", "devnet.toml"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert one_error_line(result).startswith(f"error: {key}: ")
    assert (tmp_path / "run").is_dir() and not (tmp_path / ".devnet").exists()


@pytest.mark.parametrize(
    "name, problem",
    [
        ("relayer", "is the name of a devnet service"),
        ("api", "is the name of a devnet service"),
        ("deployer", "is the name of a devnet service"),
        ("net", "is the name of a devnet service"),
        ("guardian-0", "is the name of a devnet service"),
        ("solver-12", "is the name of a devnet service"),
        ("rollup b", "is not a valid chain name"),
        ("../x", "is not a valid chain name"),
        ("rollup:b", "is not a valid chain name"),
        ("r$HOME", "is not a valid chain name"),
        ("Rollup", "is not a valid chain name"),
        ("1rollup", "is not a valid chain name"),
        ("a" * 41, "is not a valid chain name"),
    ],
)
def test_chain_names_are_safe_and_not_service_names(name, problem):
    with pytest.raises(ConfigError, match=rf"^rollups\[0\]\.name: .* {problem}") as info:
        parse_config({"rollups": [{**ROLLUP, "name": name}]})
    assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match=rf"^hub\.name: .* {problem}"):
        parse_config({"hub": {"name": name}})


def test_usual_chain_names_parse():
    config = parse_config(
        {"hub": {"name": "l1"}, "rollups": [{"name": "rollup-a"}, {"name": "op2"}, {"name": "guardian"}]}
    )
    assert [c.name for c in config.chains] == ["l1", "rollup-a", "op2", "guardian"]


@pytest.mark.parametrize(
    "make, problem",
    [
        (lambda p: p.mkdir(), r"is a directory, not a devnet\.toml"),  # seen: IsADirectoryError: [Errno 21] ...
        (lambda p: p.write_bytes(b"\xff\xfe"), r"is not UTF-8 text"),  # seen: UnicodeDecodeError: 'utf-8' codec ...
    ],
)
def test_a_config_path_that_is_no_toml_text_is_one_clear_line(tmp_path, make, problem):
    make(tmp_path / "devnet.toml")
    result = subprocess.run(
        [DEVNET, "compose", "--config", "devnet.toml"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert re.match(rf"^error: devnet\.toml: {problem}", one_error_line(result)), result.stderr
