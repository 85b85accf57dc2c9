"""What `devnet up` does with snapshots: start from one (--from, --persist), keep one on stop (--persist).

Failures are SnapshotError (a RuntimeError: the CLI prints it as one line).
"""

from __future__ import annotations

import argparse
from typing import Any

from orchestrator.config import DevnetConfig
from orchestrator.snapshots import store


def starting_snapshot(args: argparse.Namespace, config: DevnetConfig) -> store.Snapshot | None:
    """The snapshot `up` starts from: --from NAME, else the persisted state with --persist."""
    name = getattr(args, "from_snapshot", None)
    if name:
        found = store.lookup(config.state.root, name)
        store.check_topology(config, found)
        return found
    if getattr(args, "persist", False):
        return store.open_snapshot(store.persist_dir(config.state.root))
    return None


def persist_on_stop(args: argparse.Namespace, devnet: Any) -> None:
    """With --persist, save the devnet as `.devnet/persist` before it stops."""
    if not getattr(args, "persist", False) or devnet.manifest is None or devnet.chains is None:
        return
    try:
        store.save(devnet.manifest, store.persist_dir(devnet.state_dir))
        print(
            f"State kept in {store.persist_dir(devnet.state_dir)} (next `devnet up --persist` starts from it)",
            flush=True,
        )
    except Exception as exc:
        print(f"warning: could not keep the state: {exc}", flush=True)
