"""`devnet snapshot save|load|list`, and `devnet up --from NAME` / `--persist`.

devnet snapshot save before-upgrade    # running devnet: chains frozen, dumped, databases backed up
devnet snapshot list
devnet snapshot load before-upgrade    # no devnet running: starts one (detached) from the snapshot
devnet up --from before-upgrade        # the same, in the foreground
devnet up --persist                    # starts from .devnet/persist when present; saves it on stop
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from orchestrator.cli.common import CliError, resolve_config, running_pid
from orchestrator.snapshots import store
from orchestrator.snapshots.store import SnapshotError


def register(add: Callable[..., argparse.ArgumentParser], up: argparse.ArgumentParser) -> None:
    """The `snapshot` command group, and `up`'s --from / --persist."""
    up.add_argument("--from", dest="from_snapshot", metavar="NAME", help="start from a saved snapshot")
    up.add_argument(
        "--persist",
        action="store_true",
        help="start from the state kept by the last --persist run, and keep it on stop",
    )
    group = add("snapshot", _missing, "save, load and list whole-devnet snapshots")
    sub = group.add_subparsers(dest="snapshot_command", metavar="ACTION")
    for name, fn, text in (
        ("save", cmd_save, "save the running devnet as NAME"),
        ("load", cmd_load, "start a devnet (detached) from snapshot NAME"),
        ("list", cmd_list, "list the saved snapshots"),
    ):
        p = sub.add_parser(name, help=text, description=text)
        p.add_argument("--config", help="topology file (default: ./devnet.toml if present, else built-in)")
        if name != "list":
            p.add_argument("name", help="snapshot name (letters, digits, . _ -)")
        if name == "load":
            p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait until ready")
        p.set_defaults(func=fn)


def _missing(args: argparse.Namespace) -> int:
    raise CliError("missing action: devnet snapshot save NAME | load NAME | list")


def cmd_save(args: argparse.Namespace) -> int:
    from orchestrator.manifest import load_manifest

    config = resolve_config(args)
    name = _checked(args.name)
    if running_pid(config) is None:
        raise CliError("no devnet is running: start one with `devnet up` first")
    started = time.perf_counter()
    try:
        saved = store.save(config, load_manifest(config.state.manifest), store.snapshots_root(config) / name)
    except SnapshotError as exc:
        raise CliError(str(exc)) from None
    print(f"Saved snapshot {name!r} ({_blocks(saved)}) in {time.perf_counter() - started:.2f}s: {saved.directory}")
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    from orchestrator.cli.run import cmd_up

    config = resolve_config(args)
    name = _checked(args.name)
    existing = running_pid(config)
    if existing is not None:
        raise CliError(f"a devnet is running (pid {existing}): stop it with `devnet down`, then load {name!r}")
    up_args = argparse.Namespace(
        config=args.config,
        docker=False,
        detach=True,
        block_time=None,
        no_services=False,
        no_deploy=False,
        no_cache=False,
        persist=False,
        from_snapshot=name,
        timeout=args.timeout,
        detached_child=False,
    )
    return cmd_up(up_args)


def cmd_list(args: argparse.Namespace) -> int:
    found = store.listing(resolve_config(args))
    if not found:
        print("No snapshots. Save one with `devnet snapshot save NAME`.")
    for snap in found:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(snap.meta["created"]))
        print(f"{snap.name:<24} {when}  {_blocks(snap)}")
    return 0


def _checked(name: str) -> str:
    try:
        return store.check_name(name)
    except SnapshotError as exc:
        raise CliError(str(exc)) from None


def _blocks(snap: store.Snapshot) -> str:
    return ", ".join(f"{c['name']}@{c['block']}" for c in snap.meta["chains"])
