"""Where things live: the repository's folders, and the files of a devnet's state directory.

    config.state.manifest    # <state_dir>/manifest.json (DevnetConfig.state is a StateDir)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from services.common.paths import ARTIFACTS_DIR, REPO_ROOT

__all__ = ["ARTIFACTS_DIR", "CONTRACTS_DIR", "CONTRACTS_SRC", "NODE_MODULES", "REPO_ROOT", "StateDir"]

CONTRACTS_DIR = REPO_ROOT / "contracts"
CONTRACTS_SRC = CONTRACTS_DIR / "src"
NODE_MODULES = CONTRACTS_DIR / "node_modules"


@dataclass(frozen=True)
class StateDir:
    """The layout of one devnet's state directory (`state_dir` of the config)."""

    root: Path

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run(self) -> Path:
        """Service databases: they belong to one run."""
        return self.root / "run"

    @property
    def pids(self) -> Path:
        """Every supervised process's current pid (rewritten at each (re)start): `devnet chaos`."""
        return self.run / "pids.json"

    @property
    def chain_states(self) -> Path:
        """The chains' latest state dumps, from which a crashed chain is restarted."""
        return self.run / "chains"

    @property
    def pid_file(self) -> Path:
        return self.root / "devnet.pid"

    @property
    def ready_file(self) -> Path:
        return self.root / "ready"

    @property
    def compose_file(self) -> Path:
        return self.root / "docker-compose.yml"

    @property
    def engine_record(self) -> Path:
        """Which Docker engine `devnet up --docker` used (for `devnet down --docker`)."""
        return self.root / "docker-engine.json"
