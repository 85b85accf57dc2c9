"""Devnet topology: `devnet.toml` parsed with tomllib, validated, with a built-in default.

A bare `devnet up` uses `default_config()`: hub 900 + rollup-a 901 + rollup-b 902,
3 guardians with threshold 2, instant mining. Every validation error is one line
naming the offending key, because that line is all the user sees.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.paths import StateDir

# The first anvil dev accounts (mnemonic "test test ... junk") shown to users.
DEFAULT_MNEMONIC = "test test test test test test test test test test test junk"
# Every process of a devnet listens on loopback only.
HOST = "127.0.0.1"
# Shortest block time (s): guardians attest every block and block timestamps have 1 s resolution.
MIN_BLOCK_TIME = 0.1


def local_url(port: int, scheme: str = "http") -> str:
    return f"{scheme}://{HOST}:{port}"


def guardian_name(index: int) -> str:
    return f"guardian-{index}"


class ConfigError(ValueError):
    """A devnet.toml problem, described in one line that names the key."""


@dataclass(frozen=True)
class ChainConfig:
    name: str
    chain_id: int
    port: int
    role: str = "rollup"  # "hub" or "rollup"
    block_time: float | None = None  # None = instant mining (a block per transaction)
    anvil_args: tuple[str, ...] = ()  # passed through verbatim, e.g. ("--code-size-limit", "50000")

    @property
    def rpc_url(self) -> str:
        return local_url(self.port)

    @property
    def ws_url(self) -> str:
        # anvil serves HTTP and WebSocket on the same port
        return local_url(self.port, "ws")


@dataclass(frozen=True)
class GuardianConfig:
    count: int = 3
    threshold: int = 2
    confirmations: int = 0
    base_port: int = 9100

    def port(self, index: int) -> int:
        """Guardian `index`'s port: the one place that knows the rule."""
        return self.base_port + index

    @property
    def ports(self) -> tuple[int, ...]:
        return tuple(self.port(i) for i in range(self.count))


@dataclass(frozen=True)
class RelayerConfig:
    port: int = 9200
    poll_interval: float = 0.05  # seconds between log polls when no subscription is available
    root_post_interval: float = 0.0  # 0 = post roots only when a message needs one
    max_batch: int = 20
    max_attempts: int = 8  # failed deliveries of one message before it is finally `failed`
    max_age: float = 600.0  # seconds from a message's first failed delivery to `failed`; 0 = no limit
    error_artifacts: tuple[str, ...] = ()  # extra Foundry out/ or Hardhat artifacts/ folders for revert reasons


@dataclass(frozen=True)
class ApiConfig:
    port: int = 8000


@dataclass(frozen=True)
class DevnetConfig:
    chains: tuple[ChainConfig, ...]
    guardians: GuardianConfig = field(default_factory=GuardianConfig)
    relayer: RelayerConfig = field(default_factory=RelayerConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    accounts: int = 10
    mnemonic: str = DEFAULT_MNEMONIC
    state_dir: str = ".devnet"
    governance: tuple[tuple[str, Any], ...] = ()  # the validated [governance] table; () = defaults

    @property
    def hub(self) -> ChainConfig:
        return next(c for c in self.chains if c.role == "hub")

    @property
    def state(self) -> StateDir:
        """The state directory's files; a relative `state_dir` is relative to the current directory."""
        return StateDir(Path(self.state_dir).resolve())

    def service_ports(self) -> dict[str, int]:
        """Port of every Python service by its name, in start order."""
        ports = {guardian_name(i): port for i, port in enumerate(self.guardians.ports)}
        return {**ports, "relayer": self.relayer.port, "api": self.api.port}

    def ports(self) -> list[int]:
        """Every port the devnet serves on 127.0.0.1: chains, then services."""
        return [c.port for c in self.chains] + list(self.service_ports().values())

    @property
    def rollups(self) -> tuple[ChainConfig, ...]:
        return tuple(c for c in self.chains if c.role == "rollup")

    def chain(self, name_or_id: str | int) -> ChainConfig:
        for c in self.chains:
            if c.name == name_or_id or c.chain_id == name_or_id or str(c.chain_id) == str(name_or_id):
                return c
        known = ", ".join(c.name for c in self.chains)
        raise ConfigError(f"unknown chain {name_or_id!r} (known: {known})")

    def with_block_time(self, block_time: float | None) -> "DevnetConfig":
        """The same topology with every chain mining every `block_time` seconds."""
        chains = tuple(_replace_chain(c, block_time=block_time) for c in self.chains)
        return _replace_config(self, chains=chains)

    def with_port_offset(self, offset: int) -> "DevnetConfig":
        """The same topology on shifted ports, so several devnets can run side by side."""
        chains = tuple(_replace_chain(c, port=c.port + offset) for c in self.chains)
        return _replace_config(
            self,
            chains=chains,
            guardians=GuardianConfig(**{**self.guardians.__dict__, "base_port": self.guardians.base_port + offset}),
            relayer=RelayerConfig(**{**self.relayer.__dict__, "port": self.relayer.port + offset}),
            api=ApiConfig(port=self.api.port + offset),
        )


def _replace_chain(chain: ChainConfig, **changes: Any) -> ChainConfig:
    return ChainConfig(**{**chain.__dict__, **changes})


def _replace_config(config: DevnetConfig, **changes: Any) -> DevnetConfig:
    return DevnetConfig(**{**config.__dict__, **changes})


def default_config() -> DevnetConfig:
    return DevnetConfig(chains=(ChainConfig(name="hub", chain_id=900, port=8545, role="hub"),
                                ChainConfig(name="rollup-a", chain_id=901, port=8546),
                                ChainConfig(name="rollup-b", chain_id=902, port=8547)))


# ---------------------------------------------------------------- parsing

_TOP_KEYS = {"hub", "rollups", "guardians", "relayer", "api", "accounts", "mnemonic", "state_dir", "governance"}
_CHAIN_KEYS = {"name", "chain_id", "port", "block_time", "anvil_args"}
_GUARDIAN_KEYS = {"count", "threshold", "confirmations", "base_port"}
_RELAYER_KEYS = set(RelayerConfig.__dataclass_fields__)
_API_KEYS = {"port"}


def load_config(path: str | Path | None) -> DevnetConfig:
    """Read `path` (or return the default when it is None)."""
    if path is None:
        return default_config()
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
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
    if "rollups" in raw and not isinstance(raw["rollups"], list):
        raise ConfigError("rollups: expected an array of tables ([[rollups]])")
    tables = [("hub", "hub", raw["hub"])] if "hub" in raw else []
    tables += [(f"rollups[{i}]", "rollup", r) for i, r in enumerate(raw.get("rollups", []))]
    parsed = {where: _parse_chain(table, where, role) for where, role, table in tables}
    hub_fields = parsed.pop("hub", None)
    hub = _with_defaults([hub_fields], default.hub, [])[0] if hub_fields else default.hub
    taken_ports = [*guardians.ports, relayer.port, api.port]
    rollups = tuple(_with_defaults(list(parsed.values()), hub, taken_ports)) if "rollups" in raw else default.rollups
    config = DevnetConfig(
        chains=(hub, *rollups),
        guardians=guardians,
        relayer=relayer,
        api=api,
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
    block_time = raw.get("block_time", "instant")
    if block_time == "instant" or block_time == 0:
        block_time = None
    else:
        block_time = float(_typed(block_time, (int, float), f"{where}.block_time"))
        if block_time < 0:
            raise ConfigError(f"{where}.block_time: must be \"instant\" or a positive number of seconds")
        if block_time < MIN_BLOCK_TIME:
            raise ConfigError(f"{where}.block_time: {block_time} is below the minimum of {MIN_BLOCK_TIME} s")
    anvil_args = raw.get("anvil_args", [])
    if not isinstance(anvil_args, list) or not all(isinstance(a, str) for a in anvil_args):
        raise ConfigError(f"{where}.anvil_args: expected an array of strings")
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
            fields = {**fields, "chain_id": after.chain_id if fields["chain_id"] is None else fields["chain_id"],
                      "port": after.port if fields["port"] is None else fields["port"]}
        out.append(ChainConfig(**fields))
    return out


def validate(config: DevnetConfig) -> None:
    """Cross-field checks: unique ids, names and ports, a sane guardian quorum."""
    seen_ids: dict[int, str] = {}
    seen_names: set[str] = set()
    seen_ports: dict[int, str] = {}
    for chain in config.chains:
        where = "hub" if chain.role == "hub" else f"rollups[{config.rollups.index(chain)}]"
        if chain.chain_id <= 0:
            raise ConfigError(f"{where}.chain_id: must be positive, got {chain.chain_id}")
        if chain.chain_id in seen_ids:
            raise ConfigError(f"{where}.chain_id: duplicate chain id {chain.chain_id} (also {seen_ids[chain.chain_id]})")
        if chain.name in seen_names:
            raise ConfigError(f"{where}.name: duplicate chain name {chain.name!r}")
        if not 1 <= chain.port <= 65535:
            raise ConfigError(f"{where}.port: must be 1-65535, got {chain.port}")
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
    if config.accounts < 1:
        raise ConfigError(f"accounts: must be at least 1, got {config.accounts}")
    if config.relayer.max_attempts < 1:
        raise ConfigError(f"relayer.max_attempts: must be at least 1, got {config.relayer.max_attempts}")
    if config.relayer.max_age < 0:
        raise ConfigError(f"relayer.max_age: must be >= 0 seconds (0 = no limit), got {config.relayer.max_age}")
    service_ports = {f"guardians (port {port})": port for port in g.ports}
    service_ports["relayer.port"] = config.relayer.port
    service_ports["api.port"] = config.api.port
    for name, port in service_ports.items():
        if port in seen_ports:
            raise ConfigError(f"{name}: port {port} is already used by chain {seen_ports[port]}")


def to_toml(config: DevnetConfig) -> str:
    """devnet.toml text that `load_config` reads back as `config` (strings JSON-quoted, valid TOML)."""

    def chain(c: Any) -> list[str]:
        block = '"instant"' if c.block_time is None else repr(float(c.block_time))
        return [
            f"name = {json.dumps(c.name)}",
            f"chain_id = {c.chain_id}",
            f"port = {c.port}",
            f"block_time = {block}",
            f"anvil_args = [{', '.join(json.dumps(a) for a in c.anvil_args)}]",
        ]

    g, r = config.guardians, config.relayer
    lines = [
        f"accounts = {config.accounts}",
        f"mnemonic = {json.dumps(config.mnemonic)}",
        f"state_dir = {json.dumps(config.state_dir)}",
        "",
        "[hub]",
        *chain(config.hub),
    ]
    for rollup in config.rollups:
        lines += ["", "[[rollups]]", *chain(rollup)]
    lines += [
        "",
        "[guardians]",
        f"count = {g.count}",
        f"threshold = {g.threshold}",
        f"confirmations = {g.confirmations}",
        f"base_port = {g.base_port}",
        "",
        "[relayer]",
        f"port = {r.port}",
        f"poll_interval = {float(r.poll_interval)!r}",
        f"root_post_interval = {float(r.root_post_interval)!r}",
        f"max_batch = {r.max_batch}",
        f"max_attempts = {r.max_attempts}",
        f"max_age = {float(r.max_age)!r}",
        f"error_artifacts = [{', '.join(json.dumps(a) for a in r.error_artifacts)}]",
        "",
        "[api]",
        f"port = {config.api.port}",
    ]
    lines += ["", "[governance]", *(f"{k} = {json.dumps(v)}" for k, v in config.governance)] * bool(config.governance)
    return "\n".join(lines) + "\n"
