"""devnet.toml parsing: defaults, overrides and one precise error per mistake."""

import pytest

from orchestrator.config import ConfigError, default_config, load_config, parse_config


def test_default_topology_is_hub_and_two_rollups():
    config = default_config()
    assert [(c.name, c.chain_id, c.role) for c in config.chains] == [
        ("hub", 900, "hub"),
        ("rollup-a", 901, "rollup"),
        ("rollup-b", 902, "rollup"),
    ]
    assert config.guardians.count == 3 and config.guardians.threshold == 2
    assert config.guardians.confirmations == 0
    assert all(c.block_time is None for c in config.chains)
    assert config.hub.rpc_url == "http://127.0.0.1:8545"
    assert config.hub.ws_url == "ws://127.0.0.1:8545"


def test_missing_file_uses_default_only_when_no_path():
    assert load_config(None) == default_config()
    with pytest.raises(ConfigError, match="file not found"):
        load_config("/nonexistent/devnet.toml")


def test_full_file_parses(tmp_path):
    path = tmp_path / "devnet.toml"
    path.write_text(
        """
        [hub]
        chain_id = 1000
        port = 7000
        [[rollups]]
        name = "fast"
        chain_id = 1001
        port = 7001
        [[rollups]]
        name = "slow"
        chain_id = 1002
        port = 7002
        block_time = 2
        anvil_args = ["--code-size-limit", "50000"]
        [guardians]
        count = 5
        threshold = 3
        confirmations = 1
        """
    )
    config = load_config(path)
    assert [c.name for c in config.chains] == ["hub", "fast", "slow"]
    assert config.chain("slow").block_time == 2.0
    assert config.chain(1002).anvil_args == ("--code-size-limit", "50000")
    assert config.chain("fast").block_time is None
    assert (config.guardians.count, config.guardians.threshold, config.guardians.confirmations) == (5, 3, 1)


def test_partial_file_keeps_defaults():
    config = parse_config({"guardians": {"count": 4}})
    assert config.guardians.count == 4 and config.guardians.threshold == 2
    assert [c.chain_id for c in config.chains] == [900, 901, 902]


@pytest.mark.parametrize(
    "raw, message",
    [
        (
            {"rollups": [{"name": "a", "chain_id": 900, "port": 9001}]},
            r"rollups\[0\]\.chain_id: duplicate chain id 900",
        ),
        ({"rollups": [{"name": "a", "chain_id": 950, "port": 8545}]}, r"rollups\[0\]\.port: duplicate port 8545"),
        ({"rollups": [{"name": "hub", "chain_id": 950, "port": 9001}]}, r"rollups\[0\]\.name: duplicate chain name"),
        (
            {"guardians": {"count": 2, "threshold": 3}},
            r"guardians\.threshold: must be between 1 and guardians\.count \(2\)",
        ),
        ({"guardians": {"threshold": 0}}, r"guardians\.threshold"),
        ({"colour": "blue"}, r"^colour: unknown key"),
        ({"solvers": {"count": -1}}, r"^solvers\.count: must be between 0 and 16, got -1"),
        ({"solvers": {"count": 17}}, r"^solvers\.count: must be between 0 and 16"),
        ({"solvers": {"count": "2"}}, r"^solvers\.count: expected int, got str"),
        ({"solvers": {"fee_bps": 5000}}, r"^solvers\.fee_bps: must be between 0 and 1000"),
        ({"solvers": {"fees": 5}}, r"^solvers\.fees: unknown key"),
        ({"solvers": {"base_port": 9200}}, r"^solvers \(port 9200\): port 9200 is already used by relayer\.port"),
        ({"guardians": {"quorum": 2}}, r"^guardians\.quorum: unknown key"),
        ({"hub": {"chain_id": 900, "port": 8545, "gas": 1}}, r"^hub\.gas: unknown key"),
        ({"hub": {"chain_id": "900", "port": 8545}}, r"^hub\.chain_id: expected int, got str"),
        ({"hub": {"chain_id": 900, "port": True}}, r"^hub\.port: expected int, got boolean"),
        ({"guardians": {"count": 2.5}}, r"^guardians\.count: expected int"),
        (
            {"rollups": [{"name": "a", "chain_id": 950, "port": 9001, "block_time": "fast"}]},
            r"rollups\[0\]\.block_time",
        ),
        (
            {"rollups": [{"name": "a", "chain_id": 950, "port": 9001, "anvil_args": "--x"}]},
            r"rollups\[0\]\.anvil_args: expected an array",
        ),
        ({"rollups": [{"chain_id": 950, "port": 9001}]}, r"rollups\[0\]\.name: missing"),
        ({"rollups": [{"name": "a", "chain_id": 0}]}, r"rollups\[0\]\.chain_id: must be 1-"),
        ({"rollups": []}, r"rollups: at least one rollup"),
        ({"rollups": {"name": "a"}}, r"rollups: expected an array"),
        ({"hub": {"chain_id": 900, "port": 70000}}, r"hub\.port: must be 1-65535"),
        ({"api": {"port": 8546}}, r"api\.port: port 8546 is already used by chain rollup-a"),
    ],
)
def test_validation_errors_name_the_key(raw, message):
    with pytest.raises(ConfigError, match=message) as info:
        parse_config(raw)
    assert "\n" not in str(info.value)


def test_chain_keys_but_a_rollup_name_are_optional():
    config = parse_config({"hub": {}, "rollups": [{"name": "a"}, {"name": "b", "chain_id": 901}, {"name": "c"}]})
    # the next free chain id and port after the hub's, skipping the ones given explicitly
    assert [(c.name, c.chain_id, c.port) for c in config.chains] == [
        ("hub", 900, 8545),
        ("a", 902, 8546),
        ("b", 901, 8547),
        ("c", 903, 8548),
    ]
    config = parse_config(
        {"hub": {"chain_id": 7000, "port": 7545}, "rollups": [{"name": "x", "port": 7546}, {"name": "y"}]}
    )
    assert [(c.chain_id, c.port) for c in config.chains] == [(7000, 7545), (7001, 7546), (7002, 7547)]


def test_default_ports_skip_the_service_ports():
    config = parse_config({"hub": {"port": 9199}, "rollups": [{"name": "a"}], "relayer": {"port": 9200}})
    assert config.chain("a").port == 9201


def test_invalid_toml_is_one_line(tmp_path):
    path = tmp_path / "devnet.toml"
    path.write_text("[hub\nchain_id = 1")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(path)


def test_port_offset_and_block_time_helpers():
    config = default_config().with_port_offset(100).with_block_time(2)
    assert [c.port for c in config.chains] == [8645, 8646, 8647]
    assert config.api.port == 8100 and config.guardians.base_port == 9200
    assert all(c.block_time == 2 for c in config.chains)


def test_to_toml_round_trips(tmp_path):
    from dataclasses import replace

    from orchestrator.config import to_toml

    config = replace(default_config().with_port_offset(3).with_block_time(2), state_dir=str(tmp_path))
    config = replace(
        config,
        chains=(config.chains[0], replace(config.chains[1], anvil_args=("--code-size-limit", "9")), config.chains[2]),
    )
    path = tmp_path / "devnet.toml"
    path.write_text(to_toml(config))
    assert load_config(path) == config
