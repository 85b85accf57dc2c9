"""Start, health-check and stop the anvil processes, in parallel, on 127.0.0.1 only.

Chains always start under automine so deployment takes milliseconds; a chain
with a block time is switched to interval mining afterwards (`apply_block_times`).
If any chain fails to start, every chain already started is stopped before the
error (naming the chain and port) reaches the caller.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.build.toolchain import find_anvil
from orchestrator.chains.rpc import chain_id_of, rpc
from orchestrator.config import DEFAULT_MNEMONIC, ChainConfig
from orchestrator.services import procs

START_TIMEOUT = 15.0


class ChainStartError(RuntimeError):
    """A chain could not start; the message names the chain and its port."""


def anvil_args(
    chain: ChainConfig,
    accounts: int = 10,
    mnemonic: str = DEFAULT_MNEMONIC,
    host: str = "127.0.0.1",
    load_state: Path | None = None,
    cache_path: Path | None = None,
) -> list[str]:
    """anvil's arguments for one chain (without the binary), shared with docker-compose.

    `cache_path`: where anvil writes the states of older blocks (one JSON file a block). By
    default that is ~/.foundry/anvil/tmp, which anvil empties when it exits cleanly, but not
    when it is killed: found 2026-11-26, 644 such folders (70 GB) left by killed chains of
    earlier runs had filled this machine's disk. The devnet keeps them in its own state folder
    and deletes them when the chain stops (ChainProcess.stop)."""
    args = [
        "--host",
        host,
        "--port",
        str(chain.port),
        "--chain-id",
        str(chain.chain_id),
        "--accounts",
        str(accounts),
        "--mnemonic",
        mnemonic,
        "--balance",
        "10000",
    ]
    if load_state is not None:
        args += ["--load-state", str(load_state)]
    if cache_path is not None:
        args += ["--cache-path", str(cache_path)]
    if chain.block_time and not float(chain.block_time).is_integer():
        # evm_setIntervalMining takes whole seconds only, so a fractional block
        # time is set at start (deployment then waits for blocks).
        args += ["--block-time", str(chain.block_time)]
    return args + list(chain.anvil_args)


@dataclass
class ChainProcess:
    config: ChainConfig
    process: subprocess.Popen[bytes]
    log_path: Path
    cache_path: Path | None = None  # its --cache-path: deleted once it has stopped

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def rpc_url(self) -> str:
        return self.config.rpc_url

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        procs.stop(self.process)
        self.drop_cache()

    def drop_cache(self) -> None:
        """Delete the states this (stopped) process wrote: no other process reads them."""
        if self.cache_path is not None and not self.alive():
            shutil.rmtree(self.cache_path, ignore_errors=True)


def cache_path_for(log_path: Path, chain: ChainConfig) -> Path:
    """A chain's --cache-path, in the devnet's own state folder (next to its logs)."""
    return log_path.parent.parent / "anvil-cache" / chain.name


@dataclass
class ChainGroup:
    """The running chains; a context manager that always stops them."""

    chains: dict[str, ChainProcess] = field(default_factory=dict)

    def __enter__(self) -> ChainGroup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __getitem__(self, name: str) -> ChainProcess:
        return self.chains[name]

    def pids(self) -> list[int]:
        return [c.pid for c in self.chains.values()]

    def stop(self) -> None:
        for chain in self.chains.values():
            chain.stop()


def start_chains(
    chains: Sequence[ChainConfig],
    log_dir: Path,
    accounts: int = 10,
    mnemonic: str = DEFAULT_MNEMONIC,
    timeout: float = START_TIMEOUT,
    load_states: dict[str, Path] | None = None,
) -> ChainGroup:
    """Start every chain at once and wait until each answers eth_chainId with its id."""
    anvil = find_anvil()
    group = ChainGroup()
    try:
        for chain in chains:
            if procs.port_in_use(chain.port):
                raise ChainStartError(f"chain {chain.name}: port {chain.port} on 127.0.0.1 is already in use")
        for chain in chains:
            log_path = log_dir / f"{chain.name}.log"
            state = (load_states or {}).get(chain.name)
            cache = cache_path_for(log_path, chain)
            argv = [str(anvil), *anvil_args(chain, accounts, mnemonic, load_state=state, cache_path=cache)]
            group.chains[chain.name] = ChainProcess(chain, procs.spawn(argv, log_path), log_path, cache)
        _wait_healthy(group, timeout)
    except BaseException:
        group.stop()
        raise
    return group


def wait_chain(chain: ChainProcess, timeout: float = START_TIMEOUT) -> None:
    """Wait until one (re)started chain answers its chain id."""
    _wait_healthy(ChainGroup({chain.config.name: chain}), timeout)


def _wait_healthy(group: ChainGroup, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    waiting = dict(group.chains)
    while waiting:
        for name, chain in list(waiting.items()):
            if not chain.alive():
                raise ChainStartError(
                    f"chain {name} (port {chain.config.port}) exited at start with code "
                    f"{chain.process.returncode}: {procs.tail(chain.log_path)}"
                )
            found = chain_id_of(chain.rpc_url, timeout=0.5)
            if found == chain.config.chain_id:
                del waiting[name]
            elif found is not None:
                raise ChainStartError(
                    f"chain {name}: port {chain.config.port} answers chain id {found}, "
                    f"expected {chain.config.chain_id} (another node on that port?)"
                )
        if waiting and time.monotonic() > deadline:
            names = ", ".join(f"{n} (port {c.config.port})" for n, c in waiting.items())
            raise ChainStartError(f"chains not healthy after {timeout:.0f}s: {names}")
        if waiting:
            time.sleep(0.02)


def apply_block_times(chains: Sequence[ChainConfig]) -> None:
    """Switch chains that have a block time from automine to interval mining."""
    for chain in chains:
        if chain.block_time and float(chain.block_time).is_integer():
            rpc(chain.rpc_url, "evm_setAutomine", [False])
            rpc(chain.rpc_url, "evm_setIntervalMining", [int(chain.block_time)])
