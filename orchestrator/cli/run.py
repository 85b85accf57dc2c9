"""`devnet up`, `devnet down`: a devnet's lifetime, in the foreground or detached.

Before anything starts, `up` checks every port of the topology (orchestrator/preflight.py),
archives the previous run's logs (bounded) and, once running, registers the devnet so
that every other command finds it from any directory (orchestrator/registry.py).
"""

from __future__ import annotations

import argparse
import fcntl
import os
import signal
import sys
import threading
import time
from typing import Any

from orchestrator import registry
from orchestrator.cli.common import (
    CliError,
    add_command,
    block_time,
    devnet_process,
    find_devnet,
    positive_seconds,
    resolve_config,
    running_pid,
    stale_pid_note,
)
from orchestrator.cli.output import emit_json, tick
from orchestrator.config import DevnetConfig
from orchestrator.services import pidfile, procs
from orchestrator.services.logs import rotate_logs
from orchestrator.snapshots.startup import persist_on_stop, starting_snapshot


def register(subparsers: Any) -> None:
    up = add_command(
        subparsers, "up", cmd_up, "start chains, deploy contracts, start services; runs until Ctrl-C", json=True
    )
    up.add_argument("--detach", "-d", action="store_true", help="run in the background; stop with `devnet down`")
    up.add_argument("--block-time", type=block_time, help="seconds between blocks on every chain (0 = instant)")
    up.add_argument("--no-services", action="store_true", help="chains and contracts only")
    up.add_argument("--no-deploy", action="store_true", help="bare chains: no contracts, no services")
    up.add_argument("--no-cache", action="store_true", help="deploy from scratch instead of loading cached state")
    up.add_argument("--docker", action="store_true", help="run the devnet with docker compose")
    up.add_argument(
        "--timeout", type=positive_seconds, default=120.0, help="seconds to wait for --detach (default 120)"
    )
    up.add_argument("--detached-child", action="store_true", help=argparse.SUPPRESS)
    up.add_argument("--from", dest="from_snapshot", metavar="NAME", help="start from a saved snapshot")
    up.add_argument("--persist", action="store_true", help="start from the state the last --persist run kept; keep it")

    down = add_command(subparsers, "down", cmd_down, "stop a devnet started with --detach")
    down.add_argument("--docker", action="store_true", help="remove the docker compose devnet")
    down.add_argument("--timeout", type=positive_seconds, default=15.0, help="seconds to wait before SIGKILL")


# ---------------------------------------------------------------- up

LOCK_FD_ENV = "DEVNET_STATE_LOCK_FD"  # the detached child's inherited descriptor of its parent's lock


def hold_state_lock(state: Any) -> int:
    """An exclusive lock on the state directory for the devnet's whole life (fcntl.flock; the
    kernel drops it when the last holder exits, so it is never stale). Two `up` at the same moment
    on one directory both started, and the loser deleted the winner's pid file and run folder. A
    detached child inherits its parent's locked descriptor (same open file: the lock is shared)."""
    inherited = os.environ.pop(LOCK_FD_ENV, None)
    if inherited is not None:
        return int(inherited)
    state.root.mkdir(parents=True, exist_ok=True)
    fd = os.open(state.root / "devnet.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        pid = running_pid(state)
        held = f"is already running (pid {pid})" if pid is not None else f"is starting in {state.root}"
        raise CliError(f"a devnet {held}; stop it with `devnet down`") from None
    return fd


def cmd_up(args: argparse.Namespace) -> int:
    from orchestrator.preflight import check_ports

    config = resolve_config(args)
    if args.docker:
        from orchestrator.docker.engine import compose_up

        return compose_up(config)
    lock_fd = hold_state_lock(config.state)  # held until this process (or its detached child) exits
    args.lock_fd = lock_fd
    existing = running_pid(config.state)
    if existing is not None:
        raise CliError(f"a devnet is already running (pid {existing}); stop it with `devnet down`")
    check_ports(config)
    starting_snapshot(args, config)  # a wrong --from fails here, not in the detached child
    if not args.detached_child:
        rotate_logs(config.state.logs)
    if args.detach:
        return _up_detached(args, config)
    return _up_foreground(args, config)


def _print_stage(stage: str, detail: str, seconds: float) -> None:
    from orchestrator.summary import print_stage

    print_stage(stage, detail, seconds, mark=tick())


def _up_foreground(args: argparse.Namespace, config: DevnetConfig) -> int:
    from orchestrator.devnet import Devnet
    from orchestrator.summary import render_summary

    quiet_child = args.detached_child
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    state = config.state
    state.root.mkdir(parents=True, exist_ok=True)
    state.ready_file.unlink(missing_ok=True)
    pidfile.write(state.pid_file, pidfile.Recorded.of(os.getpid()))  # its start time: a reused pid is not us
    registry.register(state.root, os.getpid())
    devnet = Devnet(config, progress=_print_stage)
    try:
        snapshot = starting_snapshot(args, config)
        print(
            f"Metalayer Devnet: starting {len(config.chains)} chains, "
            f"{config.guardians.count} guardians (threshold {config.guardians.threshold})",
            flush=True,
        )
        started = time.perf_counter()
        manifest = devnet.start(
            deploy=not args.no_deploy,
            services=not (args.no_services or args.no_deploy),  # services need the contracts
            use_cache=not args.no_cache,
            snapshot=snapshot,
        )
        print(render_summary(manifest), flush=True)
        print(f"\nReady in {time.perf_counter() - started:.2f}s. Manifest: {devnet.manifest_path}", flush=True)
        state.ready_file.write_text(str(os.getpid()))
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
        state.ready_file.unlink(missing_ok=True)
        state.pid_file.unlink(missing_ok=True)
        registry.unregister(state.root, os.getpid())
        if not quiet_child:
            print("Stopped: every devnet process has exited.", flush=True)


def _up_detached(args: argparse.Namespace, config: DevnetConfig) -> int:
    """Run `devnet up` in a background session and return once it is ready."""
    from orchestrator.manifest import load_manifest
    from orchestrator.summary import render_summary, summary_doc

    state = config.state
    argv = [sys.executable, "-m", "orchestrator.cli", "up", "--detached-child", "--state-dir", str(state.root)]
    if args.config is not None:
        argv += ["--config", os.path.abspath(args.config)]
    if args.block_time is not None:
        argv += ["--block-time", str(args.block_time)]
    if getattr(args, "from_snapshot", None):
        argv += ["--from", args.from_snapshot]
    for flag in ("no_services", "no_deploy", "no_cache", "persist"):
        if getattr(args, flag, False):
            argv.append(f"--{flag.replace('_', '-')}")
    log_path = state.logs / "devnet.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_bytes(b"")
    state.ready_file.unlink(missing_ok=True)
    env = {**os.environ, LOCK_FD_ENV: str(args.lock_fd)}
    child = procs.spawn(argv, log_path, env=env, tie_to_parent=False, pass_fds=(args.lock_fd,))
    deadline = time.monotonic() + args.timeout
    try:
        while not state.ready_file.is_file():
            if child.poll() is not None:
                raise CliError(f"devnet failed to start: {procs.tail(log_path, 3)}")
            if time.monotonic() > deadline:
                procs.stop(child)
                raise CliError(f"devnet not ready after {args.timeout:g}s; see {log_path}")
            time.sleep(0.02)
    except KeyboardInterrupt:
        # the child runs in its own session, so Ctrl-C reached only us: stop what we started
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        procs.stop(child, timeout=30.0)
        print(f"error: interrupted: stopped the devnet that was starting (pid {child.pid})", file=sys.stderr)
        return 130
    manifest = load_manifest(state.manifest)
    if args.json:
        emit_json(summary_doc(manifest, state.root, child.pid))
        return 0
    print(render_summary(manifest))
    print(f"\nDevnet running in the background (pid {child.pid}); logs: {log_path}")
    print("Stop it with `devnet down`.")
    return 0


# ---------------------------------------------------------------- down


def cmd_down(args: argparse.Namespace) -> int:
    if args.docker:
        from orchestrator.docker.engine import compose_down

        return compose_down(resolve_config(args))
    try:
        state = find_devnet(args)
    except CliError as exc:
        if "no devnet is running" not in str(exc):
            raise
        note = stale_pid_note(find_devnet(args, require_running=False), remove=True)
        print(f"No devnet is running ({note})." if note else "No devnet is running.")
        return 0
    rec, _ = devnet_process(state)
    if rec is None:
        note = stale_pid_note(state, remove=True)
        state.pid_file.unlink(missing_ok=True)  # an unreadable one too: it names no devnet
        print(f"No devnet is running ({note})." if note else "No devnet is running.")
        return 0
    if not rec.stop(pidfile.devnet_argv, timeout=args.timeout):
        raise CliError(f"devnet (pid {rec.pid}) did not stop")
    state.pid_file.unlink(missing_ok=True)
    registry.unregister(state.root, rec.pid)
    print(f"Stopped the devnet (pid {rec.pid}).")
    return 0
