"""A running devnet as one Python object: what `devnet up` and the pytest fixture drive.

    devnet = Devnet(config)
    devnet.start()          # toolchain -> compile -> chains -> deploy -> manifest -> services
    ...
    devnet.stop()           # services first, then chains; nothing left running

Each stage is reported to a `progress` callback as it happens, so the CLI can
show it live and tests can stay quiet.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from orchestrator import instance
from orchestrator.build.compiler import compile_contracts, describe_compiler
from orchestrator.build.toolchain import anvil_version, find_anvil, find_openzeppelin
from orchestrator.chains import anvil as chain_mod
from orchestrator.chains.rpc import rpc
from orchestrator.config import DevnetConfig
from orchestrator.deploy import governance, statecache
from orchestrator.manifest import build_manifest, write_manifest
from services.common.manifest import Manifest

ProgressFn = Callable[[str, str, float], None]  # (stage, detail, seconds)


def _quiet(stage: str, detail: str, seconds: float) -> None:
    pass


@dataclass
class Devnet:
    config: DevnetConfig
    progress: ProgressFn = _quiet
    chains: chain_mod.ChainGroup | None = None
    supervisor: Any = None  # orchestrator.services.supervisor.ServiceSupervisor once services run
    chain_supervisor: Any = None  # orchestrator.chains.supervision.ChainSupervisor once deployed
    warden: Any = None  # orchestrator.chaos.warden.Warden: ends timed faults
    manifest: Manifest | None = None
    timings: dict[str, float] = field(default_factory=dict)
    _details: dict[str, str] = field(default_factory=dict)  # stage -> summary for stages returning data

    @property
    def state_dir(self) -> Path:
        return self.config.state.root

    @property
    def manifest_path(self) -> Path:
        return self.config.state.manifest

    @property
    def log_dir(self) -> Path:
        return self.config.state.logs

    # ------------------------------------------------------------ lifecycle

    def start(
        self,
        deploy: bool = True,
        services: bool = True,
        use_cache: bool = True,
        skip_services: tuple[str, ...] = (),
        guardian_args: tuple[str, ...] = (),
        relayer_args: tuple[str, ...] = (),
        snapshot: Any = None,
    ) -> Manifest:
        """Bring everything up; on any failure, stop what was started and re-raise.

        `snapshot` (an orchestrator.snapshots.store.Snapshot) starts from a saved cut instead of a
        fresh deployment: its chain states and service databases, under a fresh instance id.

        `skip_services` leaves out services by name (e.g. "relayer" for manual relaying);
        `guardian_args` / `relayer_args` are extra command-line flags for those services.
        """
        try:
            self._reset_run_dirs()
            self._stage("toolchain", self._check_toolchain)
            self._stage("compile", self._compile)
            cached = statecache.lookup(self.config) if (deploy and use_cache) else None
            if snapshot is not None:
                cached = self._stage("snapshot", lambda: self._restore(snapshot))
            self._stage("chains", lambda: self._start_chains(cached))
            contracts: dict[str, Any] = {}
            if deploy:
                contracts = self._stage("deploy", lambda: self._deploy(cached))
            chain_mod.apply_block_times(self.config.chains)
            self.manifest = build_manifest(self.config, contracts, services=services)
            if deploy:
                section = governance.manifest_section(self.config)
                self.manifest = self.manifest.model_copy(update={"governance": section})
                self.manifest = self._stage("instance", self._bind_instance)
            write_manifest(self.manifest_path, self.manifest)
            self._supervise_chains()
            if services:
                self._stage("services", lambda: self._start_services(skip_services, guardian_args, relayer_args))
            return self.manifest
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.warden is not None:
            self.warden.stop()  # SIGCONT anything paused before stopping it
            self.warden = None
        if self.chain_supervisor is not None:
            self.chain_supervisor.stop()  # before the chains stop: a stopped chain is not a crash
            self.chain_supervisor = None
        if self.supervisor is not None:
            self.supervisor.stop()
            self.supervisor = None
        if self.chains is not None:
            self.chains.stop()
            self.chains = None

    def __enter__(self) -> "Devnet":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def pids(self) -> dict[str, int]:
        found = {name: c.pid for name, c in (self.chains.chains.items() if self.chains else [])}
        if self.supervisor is not None:
            found.update(self.supervisor.pids())
        return found

    # ------------------------------------------------------------ stages

    def _bind_instance(self) -> Manifest:
        manifest = instance.bind(self.config, self.manifest)
        self._details["instance"] = instance.describe(manifest)
        return manifest

    def _restore(self, snapshot: Any) -> statecache.CachedState:
        from orchestrator.snapshots import store

        store.check_topology(self.config, snapshot)
        store.restore_databases(self.config, snapshot)
        self._details["snapshot"] = f"{snapshot.name}: " + ", ".join(
            f"{c['name']} at block {c['block']}" for c in snapshot.meta["chains"])
        return statecache.CachedState(snapshot.directory, snapshot.chain_files, snapshot.contracts)

    def _stage(self, name: str, fn: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - started
        self.timings[name] = seconds
        detail = result if isinstance(result, str) else self._details.pop(name, "")
        self.progress(name, detail, seconds)
        return result

    def _reset_run_dirs(self) -> None:
        # Service databases belong to one run: a fresh chain must not meet an old queue.
        run_dir = self.config.state.run
        if run_dir.exists():
            shutil.rmtree(run_dir)
        run_dir.mkdir(parents=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)

    def _check_toolchain(self) -> str:
        anvil = find_anvil()
        find_openzeppelin()
        source = "npm" if "node_modules" in str(anvil) else str(anvil)
        return f"{anvil_version(anvil).replace('Version: ', '')} ({source}), {describe_compiler()}"

    def _compile(self) -> str:
        result = compile_contracts()
        how = "cached" if result.cached else f"compiled with {result.compiler}"
        return f"{len(result.artifacts)} contracts, {how}"

    def _start_chains(self, cached: statecache.CachedState | None) -> str:
        states = cached.chain_files if cached else None
        self.chains = chain_mod.start_chains(
            self.config.chains,
            self.log_dir,
            accounts=self.config.accounts,
            mnemonic=self.config.mnemonic,
            load_states=states,
        )
        names = ", ".join(f"{c.name} ({c.chain_id})" for c in self.config.chains)
        return names + (" from cached state" if cached else "")

    def _deploy(self, cached: statecache.CachedState | None) -> dict[str, Any]:
        if cached is not None and self._cached_code_present(cached):
            self._details["deploy"] = (
                f"{len(cached.contracts)} contracts, {governance.describe(cached.contracts)}, from cached state"
            )
            return cached.contracts
        from orchestrator.deploy.deployer import deploy

        result = deploy(self.config, log=lambda line: None)
        # governance takes ownership before the cache is taken: a cached start is handed over too
        section = governance.deploy_on(self.config, result.manifest_section())
        statecache.save(self.config, section)
        self._details["deploy"] = (
            f"{len(section)} contracts on {len(self.config.chains)} chains, {governance.describe(section)}"
        )
        return section

    def _cached_code_present(self, cached: statecache.CachedState) -> bool:
        """A cache entry is only trusted if the contracts really are on every chain."""
        address = next(iter(cached.contracts.values()))["address"]
        return all(rpc(c.rpc_url, "eth_getCode", [address, "latest"]) not in ("0x", "0x0") for c in self.config.chains)

    def _supervise_chains(self) -> None:
        from orchestrator.chains.supervision import ChainSupervisor
        from orchestrator.chaos.warden import Warden

        if self.chains is None:
            return
        depth = None
        confirmations = self.config.guardians.confirmations
        if confirmations > 0 and self.manifest is not None and "MetalayerGateway" in self.manifest.contracts:
            from orchestrator.chains.depth import DepthMiner

            depth = DepthMiner(self.manifest.address("MetalayerGateway"), confirmations)
        self.chain_supervisor = ChainSupervisor(
            self.chains, self.config.state.chain_states, pids=self.config.state.pids,
            accounts=self.config.accounts, mnemonic=self.config.mnemonic, depth=depth,
        )
        self.chain_supervisor.start()
        self.warden = Warden(self.config.state)
        self.warden.start()

    def _start_services(self, skip: tuple[str, ...], guardian_args: tuple[str, ...], relayer_args: tuple[str, ...]) -> str:
        from orchestrator.services.supervisor import ServiceSupervisor

        self.supervisor = ServiceSupervisor(
            self.config, self.manifest_path, self.log_dir,
            skip=skip, guardian_args=guardian_args, relayer_args=relayer_args,
        )
        self.supervisor.start()
        names = ", ".join(self.supervisor.names())
        return names
