"""`devnet logs`: the current run's logs, merged (anvil's per-RPC lines left out unless --verbose).

A stopped devnet's logs too (`down`, a crash, a kill -9): they are what one reads after a crash."""

from __future__ import annotations

import argparse
import os
import sys
import threading
from pathlib import Path
from typing import Any

from orchestrator.cli.common import add_command, count, find_devnet
from orchestrator.services.logs import follow_logs, is_rpc_chatter


def register(subparsers: Any) -> None:
    p = add_command(subparsers, "logs", logs, "show the current run's logs (earlier runs: logs/<run>/)")
    p.add_argument("service", nargs="?", help="one service or chain (e.g. relayer, guardian-0, hub); default all")
    p.add_argument("--follow", "-f", action="store_true", help="keep printing new lines")
    p.add_argument("--lines", "-n", type=count(0), default=50, help="lines of history per service (default 50)")
    p.add_argument("--verbose", "-v", action="store_true", help="include anvil's line per RPC call")


def logs(args: argparse.Namespace) -> int:
    from orchestrator import client
    from services.common import manifest as models

    given = getattr(args, "manifest", None)  # a caller (a test) may name the manifest instead
    manifest_path = Path(given) if given is not None else find_devnet(args, require_running=False).manifest
    log_dir = models.load(manifest_path).run_dir.parent / "logs" if given is not None else manifest_path.parent / "logs"
    files = client.log_files(log_dir, args.service)
    chains: set[str] = set()
    if not getattr(args, "verbose", False) and args.service is None:
        try:
            chains = {c.name for c in models.load(manifest_path).chains}
        except (OSError, ValueError):
            chains = set()

    def keep(name: str, line: str) -> bool:
        return name not in chains or not is_rpc_chatter(line)

    width = max(len(n) for n in files)
    try:
        for name, path in files.items():
            history = [line for line in client.tail(path, 0 if args.lines == 0 else 10**9) if keep(name, line)]
            for line in history[-args.lines :] if args.lines else []:
                print(f"{name.ljust(width)} | {line}")
        sys.stdout.flush()
        if args.follow:
            follow_logs(files, threading.Event(), sys.stdout, keep=keep)
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:  # `devnet logs | head`
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
    return 0
