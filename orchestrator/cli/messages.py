"""`devnet send`, `devnet trace`, `devnet logs`: parsed arguments in, the client library's calls out.

    send(args) -> int      args: source, destination, payload, recipient, account, wait, timeout [, config, manifest]
    trace(args) -> int     args: message_id [, config, manifest]
    logs(args) -> int      args: service, follow, lines [, config, manifest]
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from orchestrator import client
from orchestrator.cli.common import resolve_config
from orchestrator.client import MessagingError
from orchestrator.services.logs import follow_logs
from services.common import manifest as models

__all__ = ["MessagingError", "logs", "send", "trace"]


def _manifest_path(args: argparse.Namespace) -> Path:
    given = getattr(args, "manifest", None)
    return Path(given) if given is not None else resolve_config(args).state.manifest


def send(args: argparse.Namespace) -> int:
    from services.api.traces import format_trace

    m = models.load(_manifest_path(args))
    msg = client.send_message(m, args.source, args.destination, client.parse_payload(args.payload),
                              recipient=args.recipient, account=args.account)
    print(f"sent {msg.id}")
    print(f"  {m.chain(msg.source).name} -> {m.chain(msg.destination).name}, nonce {msg.nonce}, "
          f"block {msg.block}, tx {msg.tx}")
    if not args.wait:
        return 0
    if not client.wait_delivered(m, msg, timeout=args.timeout):
        t = client.get_trace(m, msg.id)
        detail = f": {t.get('last_error')}" if t and t.get("last_error") else ""
        print(f"not delivered after {args.timeout:.0f}s{detail}", file=sys.stderr)
        return 1
    t = client.wait_trace(m, msg.id, "delivered")
    print(format_trace(t) if t else "delivered")
    return 0


def trace(args: argparse.Namespace) -> int:
    from services.api.traces import format_trace

    mid = client.check_message_id(args.message_id)
    t = client.get_trace(models.load(_manifest_path(args)), mid)
    if t is None:
        raise MessagingError(f"unknown message id {mid}")
    print(format_trace(t))
    return 0


def logs(args: argparse.Namespace) -> int:
    if getattr(args, "manifest", None):
        log_dir = models.load(args.manifest).run_dir.parent / "logs"
    else:
        log_dir = resolve_config(args).state.logs
    files = client.log_files(log_dir, args.service)
    width = max(len(n) for n in files)
    try:
        for name, path in files.items():
            for line in client.tail(path, args.lines):
                print(f"{name.ljust(width)} | {line}")
        sys.stdout.flush()
        if args.follow:
            follow_logs(files, threading.Event(), sys.stdout)
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:  # `devnet logs | head`
        try:
            sys.stdout = open("/dev/null", "w")  # noqa: SIM115 - silence the flush at exit
        except OSError:
            pass
    return 0
