"""A clean point of a running devnet to go back to between tests, without restarting the chains.

    cp = Checkpoint.take(config, supervisor, directory)   # chains frozen: evm_snapshot + SQLite backups
    ...                                                   # a test sends, relays, mines
    cp.reset()                                            # stop relayer + guardians, evm_revert every
                                                          # chain, restore their databases, restart them

Why the services restart: the guardians remember what they signed per (chain, block) and the
relayer keeps scan cursors and nonces in memory; after a revert the block numbers they saw are
mined again with other hashes, so both must come back from the databases of the clean point.
The API only reads the queue and is left running (the queue is restored in place).

Cost (scripts/bench.py fixture): almost all of a reset is the services' start (Python imports,
health checks); the revert and the database copies take ~0.1-0.2 s. Keeping the services
running across a revert would need them to drop their in-memory heads, cursors and nonces.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.chains.rpc import rpc
from orchestrator.config import DevnetConfig
from orchestrator.snapshots import chainstate, databases


class ResetError(RuntimeError):
    """A chain refused to revert (its snapshot id is gone); the devnet needs a restart."""


@dataclass
class Checkpoint:
    config: DevnetConfig
    supervisor: Any  # ServiceSupervisor, or None for chains only
    directory: Path
    ids: dict[str, str] = field(default_factory=dict)  # chain name -> evm_snapshot id
    resets: int = 0

    @classmethod
    def take(cls, config: DevnetConfig, supervisor: Any, directory: Path) -> Checkpoint:
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        cp = cls(config, supervisor, directory)
        chainstate.freeze(config.chains)
        try:
            cp._snapshot_chains()
            for db in databases.service_files(config.state.run):
                databases.backup(db, directory / db.name)
        finally:
            chainstate.thaw(config.chains)
        return cp

    def stateful_services(self) -> list[str]:
        if self.supervisor is None:
            return []
        return [n for n in self.supervisor.names() if n == "relayer" or n.startswith("guardian-")]

    def reset(self, restart: tuple[str, ...] | None = None) -> None:
        """Back to the clean point; `restart` limits which stopped services come back (default: all)."""
        names = self.stateful_services()
        for name in names:  # SIGKILL: their databases are replaced anyway, and it costs no shutdown wait
            self.supervisor.stop_service(name, kill=True)
        chainstate.freeze(self.config.chains)
        try:
            for chain in self.config.chains:
                if rpc(chain.rpc_url, "evm_revert", [self.ids[chain.name]]) is not True:
                    raise ResetError(f"chain {chain.name}: evm_revert({self.ids[chain.name]}) refused")
            self._snapshot_chains()  # a snapshot id is used up by its revert
        finally:
            chainstate.thaw(self.config.chains)
        for copy in sorted(self.directory.glob("*.sqlite")):
            databases.backup(copy, self.config.state.run / copy.name)
        wanted = [n for n in names if restart is None or n in restart]
        for name in wanted:
            self.supervisor.start_service(name, wait=False)
        if wanted:
            self.supervisor.wait_healthy(wanted)
        self.resets += 1

    def _snapshot_chains(self) -> None:
        for chain in self.config.chains:
            self.ids[chain.name] = str(rpc(chain.rpc_url, "evm_snapshot"))
