"""`devnet snapshot save|load|list` (`up --from NAME` / `--persist` are flags of `up`, in run.py).

devnet snapshot save before-upgrade    # running devnet: chains frozen, dumped, databases backed up
devnet snapshot list
devnet snapshot load before-upgrade    # no devnet running: starts one (detached) from the snapshot
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from orchestrator.cli.common import CliError, add_command, find_devnet, positive_seconds, running_pid
from orchestrator.cli.output import emit_json
from orchestrator.snapshots import store
from orchestrator.snapshots.store import SnapshotError


def register(subparsers: Any) -> None:
    group = add_command(subparsers, "snapshot", _missing, "save, load and list whole-devnet snapshots")
    actions = group.add_subparsers(dest="snapshot_command", metavar="ACTION")
    save = add_command(actions, "save", cmd_save, "save the running devnet as NAME", json=True)
    load = add_command(actions, "load", cmd_load, "start a devnet (detached) from snapshot NAME", json=True)
    add_command(actions, "list", cmd_list, "list the saved snapshots", json=True)
    for p in (save, load):
        p.add_argument("name", help="snapshot name (letters, digits, . _ -)")
    load.add_argument("--timeout", type=positive_seconds, default=120.0, help="seconds to wait until ready")


def _missing(args: argparse.Namespace) -> int:
    raise CliError("missing action: devnet snapshot save NAME | load NAME | list")


def cmd_save(args: argparse.Namespace) -> int:
    from orchestrator.manifest import load_manifest

    name = _checked(args.name)
    state = find_devnet(args)
    started = time.perf_counter()
    try:
        saved = store.save(load_manifest(state.manifest), store.snapshots_root(state.root) / name)
    except SnapshotError as exc:
        raise CliError(str(exc)) from None
    took = time.perf_counter() - started
    if args.json:
        emit_json({**_doc(saved), "seconds": round(took, 3)})
    else:
        print(f"Saved snapshot {name!r} ({_blocks(saved)}) in {took:.2f}s: {saved.directory}")
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    from orchestrator.cli.run import cmd_up

    name = _checked(args.name)
    state = find_devnet(args, require_running=False)  # where `save` and `list` look too
    existing = running_pid(state)
    if existing is not None:
        raise CliError(f"a devnet is running (pid {existing}): stop it with `devnet down`, then load {name!r}")
    up_args = argparse.Namespace(
        config=args.config, state_dir=args.state_dir or str(state.root), docker=False, detach=True, block_time=None,
        no_services=False, no_deploy=False, no_cache=False, persist=False, from_snapshot=name,
        timeout=args.timeout, detached_child=False, json=args.json,
    )  # fmt: skip
    return cmd_up(up_args)


def cmd_list(args: argparse.Namespace) -> int:
    unreadable: list[str] = []
    root = find_devnet(args, require_running=False).root
    found = store.listing(root, unreadable)
    for line in unreadable:
        print(f"warning: {line}", file=sys.stderr)
    if args.json:
        emit_json({"snapshots": [_doc(snap) for snap in found]})
        return 0
    if not found:
        print(f"No snapshots in {store.snapshots_root(root)}. Save one with `devnet snapshot save NAME`.")
    for snap in found:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(snap.meta["created"]))
        print(f"{snap.name:<24} {when}  {_blocks(snap)}")
    return 0


def _checked(name: str) -> str:
    try:
        return store.check_name(name)
    except SnapshotError as exc:
        raise CliError(str(exc)) from None


def _doc(snap: store.Snapshot) -> dict[str, Any]:
    return {
        "name": snap.name,
        "directory": str(snap.directory),
        "created": snap.meta["created"],
        "chains": snap.meta["chains"],
    }


def _blocks(snap: store.Snapshot) -> str:
    return ", ".join(f"{c['name']}@{c['block']}" for c in snap.meta["chains"])
