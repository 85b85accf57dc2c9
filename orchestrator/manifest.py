"""`.devnet/manifest.json`: everything a user, a test or a service needs to find the devnet.

Schema: docs/PROTOCOL.md ("Manifest"). Written atomically so a reader never
sees half a file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from orchestrator import keys
from orchestrator.config import DevnetConfig

MANIFEST_VERSION = 1


def chain_entries(config: DevnetConfig) -> list[dict[str, Any]]:
    return [
        {
            "name": c.name,
            "chain_id": c.chain_id,
            "role": c.role,
            "port": c.port,
            "rpc_url": c.rpc_url,
            "ws_url": c.ws_url,
            "block_time": c.block_time,
        }
        for c in config.chains
    ]


def guardian_entries(config: DevnetConfig) -> dict[str, Any]:
    g = config.guardians
    members = []
    for i in range(g.count):
        key = keys.guardian_key(i)
        members.append({"index": i, **key.as_dict(), "url": f"http://127.0.0.1:{g.base_port + i}"})
    return {"threshold": g.threshold, "confirmations": g.confirmations, "members": members}


def build_manifest(config: DevnetConfig, contracts: dict[str, Any] | None = None) -> dict[str, Any]:
    """The manifest for `config`; `contracts` is the deployer's manifest section."""
    return {
        "version": MANIFEST_VERSION,
        "chains": chain_entries(config),
        "accounts": [k.as_dict() for k in keys.dev_accounts(config.mnemonic, config.accounts)],
        "keys": {"deployer": keys.deployer_key().as_dict(), "relayer": keys.relayer_key().as_dict()},
        "guardians": guardian_entries(config),
        "contracts": contracts or {},
        "services": {
            "api": f"http://127.0.0.1:{config.api.port}",
            "relayer": f"http://127.0.0.1:{config.relayer.port}",
            "guardians": [f"http://127.0.0.1:{config.guardians.base_port + i}" for i in range(config.guardians.count)],
        },
        "relayer": {
            "port": config.relayer.port,
            "max_batch": config.relayer.max_batch,
            "poll_interval": config.relayer.poll_interval,
            "root_post_interval": config.relayer.root_post_interval,
            "max_attempts": config.relayer.max_attempts,
            "max_age": config.relayer.max_age,
            "error_artifacts": list(config.relayer.error_artifacts),
        },
        "api": {"port": config.api.port},
        "state_dir": str(Path(config.state_dir).resolve()),
    }


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=2))
    os.replace(tmp, path)


def load_manifest(path: Path) -> dict[str, Any]:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"no manifest at {path}: is the devnet up? (`devnet up`)") from None
