"""The devnet topology as frozen dataclasses: chains, guardians, relayer, API, solvers.

`orchestrator/config.py` builds these from `devnet.toml` and validates them; everything else
reads them. Ports are derived here only (`GuardianConfig.port(i)`, `DevnetConfig.ports()`).
"""

from __future__ import annotations

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
    event_streams: int = 16  # GET /v1/events streams open at once (services/api/routers/events.py)
    reads: int = 32  # GET /v1/read calls in progress at once (services/api/limits.py)


@dataclass(frozen=True)
class SolverConfig:
    """Intent solvers started by `devnet up` (services/solver), each with its own key and inventory."""

    count: int = 1
    fee_bps: int = 5  # the fee each solver asks, in basis points of the amount
    base_port: int = 9300

    def port(self, index: int) -> int:
        return self.base_port + index

    @property
    def ports(self) -> tuple[int, ...]:
        return tuple(self.port(i) for i in range(self.count))


def solver_name(index: int) -> str:
    return f"solver-{index}"


@dataclass(frozen=True)
class DevnetConfig:
    chains: tuple[ChainConfig, ...]
    guardians: GuardianConfig = field(default_factory=GuardianConfig)
    relayer: RelayerConfig = field(default_factory=RelayerConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    solvers: SolverConfig = field(default_factory=SolverConfig)
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
        solvers = {solver_name(i): port for i, port in enumerate(self.solvers.ports)}
        return {**ports, "relayer": self.relayer.port, "api": self.api.port, **solvers}

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

    def with_block_time(self, block_time: float | None) -> DevnetConfig:
        """The same topology with every chain mining every `block_time` seconds."""
        chains = tuple(_replace_chain(c, block_time=block_time) for c in self.chains)
        return _replace_config(self, chains=chains)

    def with_port_offset(self, offset: int) -> DevnetConfig:
        """The same topology on shifted ports, so several devnets can run side by side."""
        chains = tuple(_replace_chain(c, port=c.port + offset) for c in self.chains)
        return _replace_config(
            self,
            chains=chains,
            guardians=GuardianConfig(**{**self.guardians.__dict__, "base_port": self.guardians.base_port + offset}),
            relayer=RelayerConfig(**{**self.relayer.__dict__, "port": self.relayer.port + offset}),
            api=ApiConfig(**{**self.api.__dict__, "port": self.api.port + offset}),
            solvers=SolverConfig(**{**self.solvers.__dict__, "base_port": self.solvers.base_port + offset}),
        )


def _replace_chain(chain: ChainConfig, **changes: Any) -> ChainConfig:
    return ChainConfig(**{**chain.__dict__, **changes})


def _replace_config(config: DevnetConfig, **changes: Any) -> DevnetConfig:
    return DevnetConfig(**{**config.__dict__, **changes})


def default_config() -> DevnetConfig:
    return DevnetConfig(
        chains=(
            ChainConfig(name="hub", chain_id=900, port=8545, role="hub"),
            ChainConfig(name="rollup-a", chain_id=901, port=8546),
            ChainConfig(name="rollup-b", chain_id=902, port=8547),
        )
    )
