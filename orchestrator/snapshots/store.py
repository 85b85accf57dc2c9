"""Snapshots on disk: `<state dir>/snapshots/<name>/` holding one consistent cut of the devnet.

    <name>/meta.json          chains (name, id, block at the cut), when, contract count
    <name>/contracts.json     the manifest's contracts section
    <name>/<chain>.json       anvil_dumpState of each chain (what `anvil --load-state` reads)
    <name>/run/*.sqlite       the relayer queue and the guardians' stores (SQLite backups)

`--persist` keeps one such directory, `<state dir>/persist/`, written when the devnet stops.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.config import DevnetConfig
from orchestrator.snapshots import chainstate, databases
from services.common.manifest import Manifest

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class SnapshotError(RuntimeError):
    """A snapshot cannot be saved or loaded; the message says why (printed as one CLI line)."""


@dataclass(frozen=True)
class Snapshot:
    directory: Path
    meta: dict[str, Any]

    @property
    def name(self) -> str:
        return self.directory.name

    @property
    def chain_files(self) -> dict[str, Path]:
        return {c["name"]: self.directory / f"{c['name']}.json" for c in self.meta["chains"]}

    @property
    def contracts(self) -> dict[str, Any]:
        return json.loads((self.directory / "contracts.json").read_text())

    @property
    def databases(self) -> list[Path]:
        return databases.service_files(self.directory / "run")


def snapshots_root(state_root: Path) -> Path:
    return state_root / "snapshots"


def persist_dir(state_root: Path) -> Path:
    return state_root / "persist"


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise SnapshotError(f"snapshot name {name!r}: use letters, digits, '.', '_' or '-' (at most 64)")
    return name


def save(manifest: Manifest, directory: Path) -> Snapshot:
    """Freeze every chain, dump it, back up the service databases, thaw; written atomically.

    Everything comes from the running devnet's manifest (chains, run directory), so any process
    that can read the manifest can snapshot the devnet. A disk that fills up (or any failed write)
    is a SnapshotError and leaves no partial directory behind."""
    if not manifest.contracts:
        raise SnapshotError("the devnet has no contracts deployed: nothing to snapshot")
    tmp = directory.with_name(f".{directory.name}.partial")  # a leading dot: never a snapshot's name
    with _one_save_at_a_time(directory.parent):
        try:
            return _write(manifest, directory, tmp)
        except (OSError, sqlite3.Error) as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            why = getattr(exc, "strerror", None) or str(exc)
            raise SnapshotError(f"cannot write snapshot {directory.name!r} in {directory.parent}: {why}") from None
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


@contextlib.contextmanager
def _one_save_at_a_time(root: Path) -> Iterator[None]:
    """Saves into one folder take turns (fcntl.flock, released by the kernel if the saver dies):
    two at once shared the temporary directory, and one's thaw restarted the chains during the
    other's dumps (seen: 'No such file or directory', 'disk I/O error')."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".save.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _write(manifest: Manifest, directory: Path, tmp: Path) -> Snapshot:
    chains = manifest.chains
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    chainstate.freeze(chains)
    try:
        heads = {}
        for chain in chains:
            whole = chainstate.dump(chain)
            (tmp / f"{chain.name}.json").write_bytes(whole.state)
            heads[chain.name] = chainstate.block_hash(chain, whole.block)
        for db in databases.service_files(manifest.run_dir):
            databases.backup(db, tmp / "run" / db.name)
    finally:
        chainstate.thaw(chains)
    contracts = {name: c.model_dump(exclude_none=True) for name, c in manifest.contracts.items()}
    (tmp / "contracts.json").write_text(json.dumps(contracts, indent=1))
    meta = {
        "created": time.time(),
        "chains": [
            {"name": c.name, "chain_id": c.chain_id, "block": heads[c.name][0], "hash": heads[c.name][1]}
            for c in chains
        ],
        "guardians": len(manifest.guardians.members),
        "instance_id": manifest.instance_id,
        "accounts": [a.address for a in manifest.accounts],  # from the mnemonic: checked at load
    }
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1))  # last: marks the snapshot complete
    shutil.rmtree(directory, ignore_errors=True)
    os.replace(tmp, directory)
    return Snapshot(directory, meta)


def open_snapshot(directory: Path) -> Snapshot | None:
    meta_file = directory / "meta.json"
    if not meta_file.is_file():
        return None
    try:
        meta = json.loads(meta_file.read_text())
        _check_meta(meta)
    except (OSError, ValueError) as exc:
        raise SnapshotError(f"snapshot {directory.name!r} is unreadable ({meta_file}: {exc})") from None
    return Snapshot(directory, meta)


def _check_meta(meta: Any) -> None:
    """What listing and loading read from meta.json (seen: a meta without them was a KeyError)."""
    if not isinstance(meta, dict) or not isinstance(meta.get("chains"), list):
        raise ValueError("no chains listed")
    if not isinstance(meta.get("created"), int | float):
        raise ValueError("no creation time")
    for chain in meta["chains"]:
        if not (isinstance(chain, dict) and isinstance(chain.get("name"), str) and isinstance(chain.get("block"), int)):
            raise ValueError(f"a chain without its name or block: {str(chain)[:80]}")


def lookup(state_root: Path, name: str) -> Snapshot:
    found = open_snapshot(snapshots_root(state_root) / check_name(name))
    if found is None:
        known = ", ".join(s.name for s in listing(state_root)) or "none"
        raise SnapshotError(f"no snapshot {name!r} (saved: {known})")
    return found


def listing(state_root: Path, unreadable: list[str] | None = None) -> list[Snapshot]:
    """The readable snapshots; the errors of the others go to `unreadable` (when given)."""
    root = snapshots_root(state_root)
    found = []
    for directory in sorted(root.iterdir()) if root.is_dir() else []:
        try:
            snap = open_snapshot(directory)
        except SnapshotError as exc:
            if unreadable is not None:
                unreadable.append(str(exc))
            continue
        if snap is not None:
            found.append(snap)
    return found


def check_topology(config: DevnetConfig, snapshot: Snapshot) -> None:
    """A snapshot loads only into the same chains (names and ids) and guardian count."""
    want = [(c["name"], c["chain_id"]) for c in snapshot.meta["chains"]]
    have = [(c.name, c.chain_id) for c in config.chains]
    if want != have:
        raise SnapshotError(f"snapshot {snapshot.name!r} has chains {want}, the config has {have}")
    if snapshot.meta.get("guardians") != config.guardians.count:
        raise SnapshotError(
            f"snapshot {snapshot.name!r} has {snapshot.meta.get('guardians')} guardians, "
            f"the config {config.guardians.count}"
        )
    saved = snapshot.meta.get("accounts")
    if saved:  # snapshots from before this check have none
        from orchestrator.keys import dev_accounts

        have_accounts = [k.address for k in dev_accounts(config.mnemonic, len(saved))]
        if [a.lower() for a in saved] != [a.lower() for a in have_accounts]:
            raise SnapshotError(
                f"snapshot {snapshot.name!r} was saved with other dev accounts (another mnemonic): "
                f"its account 0 is {saved[0]}, the config's mnemonic gives {have_accounts[0]}"
            )


def restore_databases(config: DevnetConfig, snapshot: Snapshot) -> None:
    """Put the snapshot's service databases into the (fresh) run directory, fit for a new instance."""
    run = config.state.run
    run.mkdir(parents=True, exist_ok=True)
    for db in snapshot.databases:
        databases.backup(db, run / db.name)
    queue = run / databases.QUEUE
    if queue.is_file():
        databases.forget_instance(queue)
        databases.prove_at_cut(queue, {c["chain_id"]: (c["block"], c["hash"]) for c in snapshot.meta["chains"]})
