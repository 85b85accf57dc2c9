"""Devnet topology: `devnet.toml` parsed with tomllib, validated, with a built-in default.

A bare `devnet up` uses `default_config()`: hub 900 + rollup-a 901 + rollup-b 902,
3 guardians with threshold 2, instant mining. Every validation error is one line
naming the offending key, because that line is all the user sees.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from orchestrator.config_checks import (
    check_anvil_args,
    check_api,
    check_block_time,
    check_chain_id,
    check_chain_name,
    check_mnemonic,
    check_port,
    check_port_range,
    check_relayer,
    check_state_dir,
)
from orchestrator.config_model import (
    DEFAULT_MNEMONIC,
    HOST,
    MIN_BLOCK_TIME,
    ApiConfig,
    ChainConfig,
    ConfigError,
    DevnetConfig,
    GuardianConfig,
    RelayerConfig,
    SolverConfig,
    default_config,
    guardian_name,
    local_url,
    solver_name,
)
from orchestrator.config_toml import to_toml

# The topology types live in config_model.py; callers import them from here too.
__all__ = [
    "ApiConfig",
    "ChainConfig",
    "ConfigError",
    "DEFAULT_MNEMONIC",
    "DevnetConfig",
    "GuardianConfig",
    "HOST",
    "MAX_SOLVERS",
    "MIN_BLOCK_TIME",
    "RelayerConfig",
    "SolverConfig",
    "default_config",
    "guardian_name",
    "load_config",
    "local_url",
    "parse_config",
    "solver_name",
    "to_toml",
    "validate",
]

# ---------------------------------------------------------------- parsing

_TOP_KEYS = {
    "hub",
    "rollups",
    "guardians",
    "relayer",
    "api",
    "solvers",
    "accounts",
    "mnemonic",
    "state_dir",
    "governance",
}
_CHAIN_KEYS = {"name", "chain_id", "port", "block_time", "anvil_args"}
_GUARDIAN_KEYS = {"count", "threshold", "confirmations", "base_port"}
_RELAYER_KEYS = set(RelayerConfig.__dataclass_fields__)
_API_KEYS = set(ApiConfig.__dataclass_fields__)
_SOLVER_KEYS = {"count", "fee_bps", "base_port"}
MAX_SOLVERS = 16
MAX_ACCOUNTS = 1000


def load_config(path: str | Path | None) -> DevnetConfig:
    """Read `path` (or return the default when it is None)."""
    if path is None:
        return default_config()
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a devnet.toml") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: is not UTF-8 text (byte {exc.start}): not a devnet.toml") from None
    except OSError as exc:  # unreadable (permissions, I/O)
        raise ConfigError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    return parse_config(raw)


def parse_config(raw: dict[str, Any]) -> DevnetConfig:
    """Build a validated DevnetConfig from a parsed TOML document.

    Sections left out keep their defaults, so a file may override only what it needs.
    """
    _check_keys(raw, _TOP_KEYS, "")
    default = default_config()
    guardians = GuardianConfig(**_parse_section(raw, "guardians", _GUARDIAN_KEYS, GuardianConfig()))
    relayer = RelayerConfig(**_parse_section(raw, "relayer", _RELAYER_KEYS, RelayerConfig()))
    api = ApiConfig(**_parse_section(raw, "api", _API_KEYS, ApiConfig()))
    solvers = SolverConfig(**_parse_section(raw, "solvers", _SOLVER_KEYS, SolverConfig()))
    if "rollups" in raw and not isinstance(raw["rollups"], list):
        raise ConfigError("rollups: expected an array of tables ([[rollups]])")
    tables = [("hub", "hub", raw["hub"])] if "hub" in raw else []
    tables += [(f"rollups[{i}]", "rollup", r) for i, r in enumerate(raw.get("rollups", []))]
    parsed = {where: _parse_chain(table, where, role) for where, role, table in tables}
    hub_fields = parsed.pop("hub", None)
    hub = _with_defaults([hub_fields], default.hub, [])[0] if hub_fields else default.hub
    taken_ports = [*guardians.ports, relayer.port, api.port, *solvers.ports]
    rollups = tuple(_with_defaults(list(parsed.values()), hub, taken_ports)) if "rollups" in raw else default.rollups
    config = DevnetConfig(
        chains=(hub, *rollups),
        guardians=guardians,
        relayer=relayer,
        api=api,
        solvers=solvers,
        accounts=_typed(raw.get("accounts", 10), int, "accounts"),
        mnemonic=_typed(raw.get("mnemonic", DEFAULT_MNEMONIC), str, "mnemonic"),
        state_dir=_typed(raw.get("state_dir", ".devnet"), str, "state_dir"),
        governance=_parse_governance(raw["governance"]) if "governance" in raw else (),
    )
    validate(config)
    return config


def _parse_governance(table: Any) -> tuple[tuple[str, Any], ...]:
    from orchestrator.governance_deploy import GovernanceParams  # web3-heavy: imported only when given

    try:
        return tuple(sorted(vars(GovernanceParams.from_table(table)).items()))
    except (ValueError, TypeError, AttributeError) as exc:
        raise ConfigError(f"governance: {exc}" if not isinstance(exc, ValueError) else str(exc)) from None


def _check_keys(table: dict[str, Any], allowed: set[str], where: str) -> None:
    for key in table:
        if key not in allowed:
            name = f"{where}.{key}" if where else key
            raise ConfigError(f"{name}: unknown key (allowed: {', '.join(sorted(allowed))})")


def _typed(value: Any, kind: type | tuple[type, ...], key: str) -> Any:
    name = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
    # bool is an int in Python; a TOML `true` where a number belongs is a mistake.
    if isinstance(value, bool) and kind is not bool:
        raise ConfigError(f"{key}: expected {name}, got boolean")
    if not isinstance(value, kind):
        raise ConfigError(f"{key}: expected {name}, got {type(value).__name__} {value!r}")
    return value


def _parse_section(raw: dict[str, Any], name: str, keys: set[str], default: Any) -> dict[str, Any]:
    values = dict(default.__dict__)
    if name not in raw:
        return values
    section = raw[name]
    if not isinstance(section, dict):
        raise ConfigError(f"{name}: expected a table ([{name}])")
    _check_keys(section, keys, name)
    for key, value in section.items():
        if isinstance(values[key], tuple):  # a list of strings
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{name}.{key}: expected a list of strings")
            values[key] = tuple(value)
            continue
        expected = (int, float) if isinstance(values[key], float) else type(values[key])
        values[key] = _typed(value, expected, f"{name}.{key}")
    return values


def _parse_chain(raw: Any, where: str, role: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table")
    _check_keys(raw, _CHAIN_KEYS, where)
    name = _typed(raw.get("name", "hub" if role == "hub" else ""), str, f"{where}.name")
    if not name:
        raise ConfigError(f"{where}.name: missing")
    check_chain_name(f"{where}.name", name)
    block_time = raw.get("block_time", "instant")
    if block_time == "instant" or block_time == 0:
        block_time = None
    else:
        block_time = float(_typed(block_time, (int, float), f"{where}.block_time"))
        check_block_time(f"{where}.block_time", block_time, MIN_BLOCK_TIME)
    anvil_args = raw.get("anvil_args", [])
    if not isinstance(anvil_args, list) or not all(isinstance(a, str) for a in anvil_args):
        raise ConfigError(f"{where}.anvil_args: expected an array of strings")
    check_anvil_args(where, anvil_args)
    return {
        "name": name,
        "chain_id": _typed(raw["chain_id"], int, f"{where}.chain_id") if "chain_id" in raw else None,
        "port": _typed(raw["port"], int, f"{where}.port") if "port" in raw else None,
        "role": role,
        "block_time": block_time,
        "anvil_args": tuple(anvil_args),
    }


def _with_defaults(chains: list[dict[str, Any]], after: ChainConfig, taken_ports: list[int]) -> list[ChainConfig]:
    """Chains whose chain id or port is left out get the next free one counting up from `after`
    (the hub for rollups, the default hub for the hub itself), skipping every explicit value."""
    ids = {c["chain_id"] for c in chains if c["chain_id"] is not None} | {after.chain_id}
    ports = {c["port"] for c in chains if c["port"] is not None} | {after.port, *taken_ports}
    next_id, next_port = after.chain_id, after.port
    out = []
    for fields in chains:
        if fields["role"] == "rollup":
            if fields["chain_id"] is None:
                next_id = min(i for i in range(next_id + 1, next_id + len(ids) + 2) if i not in ids)
                ids.add(next_id)
                fields = {**fields, "chain_id": next_id}
            if fields["port"] is None:
                next_port = min(p for p in range(next_port + 1, next_port + len(ports) + 2) if p not in ports)
                ports.add(next_port)
                fields = {**fields, "port": next_port}
        else:  # the hub: the default hub's values
            fields = {
                **fields,
                "chain_id": after.chain_id if fields["chain_id"] is None else fields["chain_id"],
                "port": after.port if fields["port"] is None else fields["port"],
            }
        out.append(ChainConfig(**fields))
    return out


def validate(config: DevnetConfig) -> None:
    """Cross-field checks: unique ids, names and ports, a sane guardian quorum."""
    seen_ids: dict[int, str] = {}
    seen_names: set[str] = set()
    seen_ports: dict[int, str] = {}
    for chain in config.chains:
        where = "hub" if chain.role == "hub" else f"rollups[{config.rollups.index(chain)}]"
        check_chain_id(f"{where}.chain_id", chain.chain_id)
        if chain.chain_id in seen_ids:
            raise ConfigError(
                f"{where}.chain_id: duplicate chain id {chain.chain_id} (also {seen_ids[chain.chain_id]})"
            )
        if chain.name in seen_names:
            raise ConfigError(f"{where}.name: duplicate chain name {chain.name!r}")
        check_port(f"{where}.port", chain.port)
        if chain.port in seen_ports:
            raise ConfigError(f"{where}.port: duplicate port {chain.port} (also {seen_ports[chain.port]})")
        seen_ids[chain.chain_id] = chain.name
        seen_names.add(chain.name)
        seen_ports[chain.port] = chain.name
    if not config.rollups:
        raise ConfigError("rollups: at least one rollup is required")
    g = config.guardians
    if g.count < 1:
        raise ConfigError(f"guardians.count: must be at least 1, got {g.count}")
    if not 1 <= g.threshold <= g.count:
        raise ConfigError(f"guardians.threshold: must be between 1 and guardians.count ({g.count}), got {g.threshold}")
    if g.confirmations < 0:
        raise ConfigError(f"guardians.confirmations: must be >= 0, got {g.confirmations}")
    if not 1 <= config.accounts <= MAX_ACCOUNTS:  # each is a key derivation (~2 ms) and a funded anvil account
        raise ConfigError(f"accounts: must be between 1 and {MAX_ACCOUNTS}, got {config.accounts}")
    check_port_range("guardians.base_port", g.base_port, g.count)
    check_relayer(config.relayer)
    check_api(config.api)
    check_mnemonic(config.mnemonic)
    check_state_dir(config.state_dir)
    _validate_solvers(config.solvers)
    service_ports = {f"guardians (port {port})": port for port in g.ports}
    service_ports["relayer.port"] = config.relayer.port
    service_ports["api.port"] = config.api.port
    service_ports.update({f"solvers (port {port})": port for port in config.solvers.ports})
    for name, port in service_ports.items():
        if port in seen_ports:
            raise ConfigError(f"{name}: port {port} is already used by chain {seen_ports[port]}")
    _check_service_ports(service_ports)


def _check_service_ports(service_ports: dict[str, int]) -> None:
    owners: dict[int, str] = {}
    for name, port in service_ports.items():
        if port in owners:
            raise ConfigError(f"{name}: port {port} is already used by {owners[port]}")
        owners[port] = name


def _validate_solvers(s: SolverConfig) -> None:
    if not 0 <= s.count <= MAX_SOLVERS:
        raise ConfigError(f"solvers.count: must be between 0 and {MAX_SOLVERS}, got {s.count}")
    if not 0 <= s.fee_bps <= 1000:
        raise ConfigError(f"solvers.fee_bps: must be between 0 and 1000 (10%), got {s.fee_bps}")
    check_port_range("solvers.base_port", s.base_port, s.count)
