"""A clean point of a running devnet to go back to between tests, without restarting anything.

    cp = Checkpoint.take(config, supervisor, directory)   # chains frozen: evm_snapshot + SQLite backups
    ...                                                   # a test sends, relays, mines
    cp.reset()                                            # suspend relayer + guardians, evm_revert every
                                                          # chain, restore their databases, resume them

A reset, in order:
  1. suspend the relayer, every guardian and every solver (POST /admin/suspend, services/common/suspend.py):
     each cancels all its tasks at their next await, closes its chain connections and its SQLite
     file; nothing of theirs reaches a chain or a database any more;
  2. freeze the chains, evm_revert each to the clean point, drop every transaction left in its
     pool (evm_revert keeps the pool: a delivery broadcast just before would be mined after the
     thaw), take a new evm_snapshot (a snapshot id is used up by its revert), thaw;
  3. copy the clean databases back in place;
  4. resume (POST /admin/resume): each service builds a fresh instance on the restored database,
     as at process start, so no head, cursor, nonce, pending transaction, signature cache or
     guardian set survives from before the revert (block numbers are mined again with other
     hashes); the relayer's and solvers' cursors come from their restored databases, their
     nonces from the chains (a solver kept running would wait for the chain to pass its old
     cursor before it saw a new intent);
  5. wait until every resumed service is healthy.
A chain restarted since the checkpoint (the chain supervisor's `restarts` count moved, e.g. after
`chaos kill`) no longer knows its evm_snapshot id: it is restarted from the checkpoint's own dump
of it instead (taken with the snapshot, when the devnet has a chain supervisor), before anything
is suspended or reverted. Each chain takes its new evm_snapshot right after its own revert, so a
chain that refuses leaves no other's id used up. A reset that fails anyway resumes (or restarts)
the services before it raises, and marks the checkpoint `broken`: the next reset then kills and
restarts every service and restores every chain from its dump.
A service that does not answer its suspend is SIGKILLed instead, one that fails its resume is
restarted as a process (the cost of a start, ~1-2 s). `restart` leaves the named-out services
stopped (the relayer with `DevnetHandle.reset(relayer=False)`). The API only reads the queue
and is left running (the queue is restored in place).

Cost (scripts/bench.py fixture): the revert and the database copies take ~0.1-0.2 s; suspend
and resume add a few tens of milliseconds (no interpreter start, no imports).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.chains.rpc import rpc
from orchestrator.config import DevnetConfig
from orchestrator.snapshots import chainstate, control, databases


class ResetError(RuntimeError):
    """A chain refused to revert (its snapshot id is gone); the devnet needs a restart."""


@dataclass
class Checkpoint:
    config: DevnetConfig
    supervisor: Any  # ServiceSupervisor, or None for chains only
    directory: Path
    ids: dict[str, str] = field(default_factory=dict)  # chain name -> evm_snapshot id
    resets: int = 0
    chains: Any = None  # ChainSupervisor: restarted chains are restored from `dumps`
    dumps: dict[str, int] = field(default_factory=dict)  # chain name -> block of its dump in `directory`
    restarts: dict[str, int] = field(default_factory=dict)  # the chain supervisor's counts at the last cut
    broken: bool = False  # the last reset failed: the next one restarts everything

    @classmethod
    def take(cls, config: DevnetConfig, supervisor: Any, directory: Path, chains: Any = None) -> Checkpoint:
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        cp = cls(config, supervisor, directory, chains=chains)
        chainstate.freeze(config.chains)
        try:
            cp._snapshot_chains()
            if chains is not None:
                for chain in config.chains:
                    whole = chainstate.dump(chain)
                    cp._dump_path(chain.name).write_bytes(whole.state)
                    cp.dumps[chain.name] = whole.block
                cp._note_restarts()
            for db in databases.service_files(config.state.run):
                databases.backup(db, directory / db.name)
        finally:
            chainstate.thaw(config.chains)
        return cp

    def stateful_services(self) -> list[str]:
        if self.supervisor is None:
            return []
        return [n for n in self.supervisor.names() if n == "relayer" or n.startswith(("guardian-", "solver-"))]

    def restarted_chains(self) -> list[str]:
        """Chains the chain supervisor restarted since the last cut (they lost their snapshot ids)."""
        if self.chains is None:
            return []
        return [n for n, r in self.chains.records.items() if r.restarts != self.restarts.get(n, r.restarts)]

    def reset(self, restart: tuple[str, ...] | None = None) -> None:
        """Back to the clean point; `restart` limits which services run afterwards (default: all)."""
        names = self.stateful_services()
        wanted = [n for n in names if restart is None or n in restart]
        run_dir = self.config.state.run
        restarted = set(self.restarted_chains())
        missing = sorted(restarted - set(self.dumps))
        restore = restarted | (set(self.dumps) if self.broken else set())
        if missing:  # checked before anything is suspended or reverted
            self.broken = True
            raise ResetError(f"chain(s) {', '.join(missing)} restarted since the checkpoint, which has no dump of them")
        suspended: list[str] = []
        try:
            if not self.broken:
                running = [self.supervisor.services[n] for n in names if self.supervisor.services[n].alive()]
                suspended = control.suspend(running, run_dir)
            for name in names:  # SIGKILL: their databases are replaced anyway, and it costs no shutdown wait
                if name not in suspended or name not in wanted:
                    self.supervisor.stop_service(name, kill=True)
            self._revert_chains(restore)
            for copy in sorted(self.directory.glob("*.sqlite")):
                databases.backup(copy, run_dir / copy.name)
        except BaseException:
            self.broken = True  # chains or databases half restored: the next reset restores all
            for name in set(suspended) - set(wanted):
                self.supervisor.stop_service(name, kill=True)
            self._bring_back(wanted, [n for n in suspended if n in wanted], run_dir)
            raise
        self.broken = False
        self._bring_back(wanted, [n for n in suspended if n in wanted], run_dir)
        self.resets += 1

    def _bring_back(self, wanted: list[str], resumed: list[str], run_dir: Path) -> None:
        """Resume the suspended services, start the others; never leaves one suspended."""
        failed = control.resume([self.supervisor.services[n] for n in resumed], run_dir) if resumed else []
        for name in wanted:
            if name not in resumed or name in failed:
                if name in failed or self.supervisor.services[name].alive():
                    self.supervisor.stop_service(name, kill=True)
                self.supervisor.start_service(name, wait=False)
        if wanted:
            self.supervisor.wait_healthy(wanted)

    def _revert_chains(self, restore: set[str]) -> None:
        chainstate.freeze(self.config.chains)
        try:
            for chain in self.config.chains:
                if chain.name in restore:
                    self.chains.restore(chain.name, self._dump_path(chain.name).read_bytes(), self.dumps[chain.name])
                elif rpc(chain.rpc_url, "evm_revert", [self.ids[chain.name]]) is not True:
                    raise ResetError(f"chain {chain.name}: evm_revert({self.ids[chain.name]}) refused")
                rpc(chain.rpc_url, "anvil_dropAllTransactions")
                self.ids[chain.name] = str(rpc(chain.rpc_url, "evm_snapshot"))  # its id is used up: a new one now
            self._note_restarts()
        finally:
            chainstate.thaw(self.config.chains)

    def _snapshot_chains(self) -> None:
        for chain in self.config.chains:
            self.ids[chain.name] = str(rpc(chain.rpc_url, "evm_snapshot"))

    def _note_restarts(self) -> None:
        if self.chains is not None:
            self.restarts = {n: r.restarts for n, r in self.chains.records.items()}

    def _dump_path(self, name: str) -> Path:
        return self.directory / f"{name}.chain.json"
