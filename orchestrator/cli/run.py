"""`devnet up`, `devnet down`: a devnet's lifetime, in the foreground or detached."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from typing import Any

from orchestrator.cli.common import CliError, resolve_config, running_pid
from orchestrator.config import DevnetConfig
from orchestrator.services import procs

# ---------------------------------------------------------------- up


def cmd_up(args: argparse.Namespace) -> int:
    config = resolve_config(args)
    if args.docker:
        from orchestrator.docker.engine import compose_up

        return compose_up(config)
    existing = running_pid(config)
    if existing is not None:
        raise CliError(f"a devnet is already running (pid {existing}); stop it with `devnet down`")
    from orchestrator.snapshots.startup import starting_snapshot

    starting_snapshot(args, config)  # a wrong --from fails here, not in the detached child
    if args.detach:
        return _up_detached(args, config)
    return _up_foreground(args, config)


def _up_foreground(args: argparse.Namespace, config: DevnetConfig) -> int:
    from orchestrator.devnet import Devnet
    from orchestrator.summary import print_stage, render_summary

    quiet_child = args.detached_child
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    config.state.root.mkdir(parents=True, exist_ok=True)
    config.state.ready_file.unlink(missing_ok=True)
    config.state.pid_file.write_text(str(os.getpid()))
    devnet = Devnet(config, progress=print_stage)
    from orchestrator.snapshots.startup import persist_on_stop, starting_snapshot

    try:
        snapshot = starting_snapshot(args, config)
        print(f"Metalayer Devnet: starting {len(config.chains)} chains, "
              f"{config.guardians.count} guardians (threshold {config.guardians.threshold})", flush=True)
        started = time.perf_counter()
        manifest = devnet.start(
            deploy=not args.no_deploy,
            services=not (args.no_services or args.no_deploy),  # services need the contracts
            use_cache=not args.no_cache,
            snapshot=snapshot,
        )
        print(render_summary(manifest), flush=True)
        print(f"\nReady in {time.perf_counter() - started:.2f}s. Manifest: {devnet.manifest_path}", flush=True)
        config.state.ready_file.write_text(str(os.getpid()))
        if not quiet_child:
            print("Press Ctrl-C to stop.", flush=True)
        follow = None
        if devnet.supervisor is not None and not quiet_child:
            follow = devnet.supervisor.stream_logs(stop)
        while not stop.is_set():
            if devnet.supervisor is not None:
                devnet.supervisor.check()  # restarts crashed services, with a log line
            stop.wait(0.5)
        if follow is not None:
            follow.join(timeout=2)
        print("\nStopping...", flush=True)
        return 0
    finally:
        persist_on_stop(args, devnet)
        devnet.stop()
        config.state.ready_file.unlink(missing_ok=True)
        config.state.pid_file.unlink(missing_ok=True)
        if not quiet_child:
            print("Stopped: every devnet process has exited.", flush=True)


def _up_detached(args: argparse.Namespace, config: DevnetConfig) -> int:
    """Run `devnet up` in a background session and return once it is ready."""
    from orchestrator.manifest import load_manifest
    from orchestrator.summary import render_summary

    argv = [sys.executable, "-m", "orchestrator.cli", "up", "--detached-child"]
    for flag in ("config", "block_time", "from_snapshot"):
        value = getattr(args, flag, None)
        if value is not None:
            argv += [f"--{flag.replace('_', '-').replace('from-snapshot', 'from')}", str(value)]
    for flag in ("no_services", "no_deploy", "no_cache", "persist"):
        if getattr(args, flag, False):
            argv.append(f"--{flag.replace('_', '-')}")
    log_path = config.state.logs / "devnet.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_bytes(b"")
    config.state.ready_file.unlink(missing_ok=True)
    child = procs.spawn(argv, log_path, tie_to_parent=False)
    deadline = time.monotonic() + args.timeout
    while not config.state.ready_file.is_file():
        if child.poll() is not None:
            raise CliError(f"devnet failed to start: {procs.tail(log_path, 3)}")
        if time.monotonic() > deadline:
            procs.stop(child)
            raise CliError(f"devnet not ready after {args.timeout:.0f}s; see {log_path}")
        time.sleep(0.02)
    print(render_summary(load_manifest(config.state.manifest)))
    print(f"\nDevnet running in the background (pid {child.pid}); logs: {log_path}")
    print("Stop it with `devnet down`.")
    return 0


# ---------------------------------------------------------------- down / status


def cmd_down(args: argparse.Namespace) -> int:
    config = resolve_config(args)
    if args.docker:
        from orchestrator.docker.engine import compose_down

        return compose_down(config)
    pid = running_pid(config)
    if pid is None:
        config.state.pid_file.unlink(missing_ok=True)
        print("No devnet is running.")
        return 0
    if not procs.stop_pid(pid, timeout=args.timeout):
        raise CliError(f"devnet (pid {pid}) did not stop")
    config.state.pid_file.unlink(missing_ok=True)
    print(f"Stopped the devnet (pid {pid}).")
    return 0
