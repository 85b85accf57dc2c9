"""Cache of freshly deployed chain state, so later starts skip deployment.

After a deployment, each chain's state is dumped (`anvil_dumpState`) into
`.devnet/cache/<key>/<chain>.json`; the next start with the same key passes
those files to `anvil --load-state`. The key covers everything that shapes the
deployed state: compiled bytecode, deployer code, chain ids, guardian set,
accounts. Ports and block times do not change state, so they are left out.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.build.compiler import CACHE_FILE
from orchestrator.chains.rpc import rpc
from orchestrator.config import DevnetConfig
from orchestrator.paths import ARTIFACTS_DIR, REPO_ROOT

CACHE_FORMAT = 2  # 2: roles + governance deployed and handed over before the dump


@dataclass(frozen=True)
class CachedState:
    directory: Path
    chain_files: dict[str, Path]
    contracts: dict[str, Any]


def cache_key(config: DevnetConfig) -> str:
    h = hashlib.sha256()
    h.update(f"format={CACHE_FORMAT}".encode())
    artifacts_key = ARTIFACTS_DIR / CACHE_FILE
    h.update(artifacts_key.read_bytes() if artifacts_key.is_file() else b"no-artifacts")
    deployment_code = [*sorted(Path(__file__).parent.glob("*.py")), Path(__file__).parents[1] / "governance_deploy.py"]
    for module in deployment_code:  # the deployment code shapes the state
        h.update(module.read_bytes())
    h.update((Path(__file__).parent.parent / "intents_deploy.py").read_bytes())  # USDC, settlers, solver funds
    topology = {
        "chains": [(c.name, c.chain_id, c.role) for c in config.chains],
        # confirmations: set on every gateway at deployment (finalized messages)
        "guardians": (config.guardians.count, config.guardians.threshold, config.guardians.confirmations),
        "accounts": config.accounts,
        "mnemonic": config.mnemonic,
        "governance": list(config.governance),
        "solvers": config.solvers.count,  # funded at deployment
    }
    h.update(json.dumps(topology, sort_keys=True).encode())
    return h.hexdigest()[:16]


def cache_root() -> Path:
    """Shared by every state dir (test devnets included); DEVNET_CACHE_DIR overrides."""
    return Path(os.environ.get("DEVNET_CACHE_DIR", REPO_ROOT / ".devnet" / "cache"))


def _cache_dir(config: DevnetConfig) -> Path:
    return cache_root() / cache_key(config)


def lookup(config: DevnetConfig) -> CachedState | None:
    directory = _cache_dir(config)
    contracts_file = directory / "contracts.json"
    files = {c.name: directory / f"{c.name}.json" for c in config.chains}
    if not contracts_file.is_file() or not all(f.is_file() for f in files.values()):
        return None
    return CachedState(directory, files, json.loads(contracts_file.read_text()))


def save(config: DevnetConfig, contracts: dict[str, Any]) -> Path:
    """Dump every chain's current state; call right after a successful deployment."""
    directory = _cache_dir(config)
    directory.mkdir(parents=True, exist_ok=True)
    for chain in config.chains:
        dump = str(rpc(chain.rpc_url, "anvil_dumpState", timeout=30))
        state = gzip.decompress(bytes.fromhex(dump.removeprefix("0x")))
        _atomic_write(directory / f"{chain.name}.json", state)
    # contracts.json last: its presence marks the cache entry complete
    _atomic_write(directory / "contracts.json", json.dumps(contracts, indent=1).encode())
    return directory


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
