"""`devnet`: the command line.

Every failure a user can cause (bad config, missing tool, taken port, no devnet
running) ends as one `error: ...` line and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

from orchestrator import procs
from orchestrator.config import ConfigError, DevnetConfig, load_config

DEFAULT_CONFIG_FILE = "devnet.toml"


class CliError(RuntimeError):
    """A user-facing failure: printed as one line."""


# ---------------------------------------------------------------- helpers


def resolve_config(args: argparse.Namespace) -> DevnetConfig:
    path = getattr(args, "config", None)
    if path is None and Path(DEFAULT_CONFIG_FILE).is_file():
        path = DEFAULT_CONFIG_FILE
    config = load_config(path)
    block_time = getattr(args, "block_time", None)
    if block_time is not None:
        config = config.with_block_time(block_time or None)
    return config


def state_dir(config: DevnetConfig) -> Path:
    return Path(config.state_dir).resolve()


def pid_file(config: DevnetConfig) -> Path:
    return state_dir(config) / "devnet.pid"


def ready_file(config: DevnetConfig) -> Path:
    return state_dir(config) / "ready"


def running_pid(config: DevnetConfig) -> int | None:
    try:
        pid = int(pid_file(config).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if procs.pid_alive(pid) else None


# ---------------------------------------------------------------- up


def cmd_up(args: argparse.Namespace) -> int:
    config = resolve_config(args)
    if args.docker:
        from orchestrator.compose import compose_up

        return compose_up(config)
    existing = running_pid(config)
    if existing is not None:
        raise CliError(f"a devnet is already running (pid {existing}); stop it with `devnet down`")
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
    state_dir(config).mkdir(parents=True, exist_ok=True)
    ready_file(config).unlink(missing_ok=True)
    pid_file(config).write_text(str(os.getpid()))
    devnet = Devnet(config, progress=print_stage)
    try:
        print(f"Metalayer Devnet: starting {len(config.chains)} chains, "
              f"{config.guardians.count} guardians (threshold {config.guardians.threshold})", flush=True)
        started = time.perf_counter()
        devnet.start(
            deploy=not args.no_deploy,
            services=not (args.no_services or args.no_deploy),  # services need the contracts
            use_cache=not args.no_cache,
        )
        print(render_summary(devnet.manifest), flush=True)
        print(f"\nReady in {time.perf_counter() - started:.2f}s. Manifest: {devnet.manifest_path}", flush=True)
        ready_file(config).write_text(str(os.getpid()))
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
        devnet.stop()
        ready_file(config).unlink(missing_ok=True)
        pid_file(config).unlink(missing_ok=True)
        if not quiet_child:
            print("Stopped: every devnet process has exited.", flush=True)


def _up_detached(args: argparse.Namespace, config: DevnetConfig) -> int:
    """Run `devnet up` in a background session and return once it is ready."""
    from orchestrator.manifest import load_manifest
    from orchestrator.summary import render_summary

    argv = [sys.executable, "-m", "orchestrator.cli", "up", "--detached-child"]
    for flag in ("config", "block_time"):
        value = getattr(args, flag)
        if value is not None:
            argv += [f"--{flag.replace('_', '-')}", str(value)]
    for flag in ("no_services", "no_deploy", "no_cache"):
        if getattr(args, flag):
            argv.append(f"--{flag.replace('_', '-')}")
    log_path = state_dir(config) / "logs" / "devnet.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_bytes(b"")
    ready_file(config).unlink(missing_ok=True)
    child = procs.spawn(argv, log_path, tie_to_parent=False)
    deadline = time.monotonic() + args.timeout
    while not ready_file(config).is_file():
        if child.poll() is not None:
            raise CliError(f"devnet failed to start: {procs.tail(log_path, 3)}")
        if time.monotonic() > deadline:
            procs.stop(child)
            raise CliError(f"devnet not ready after {args.timeout:.0f}s; see {log_path}")
        time.sleep(0.02)
    print(render_summary(load_manifest(state_dir(config) / "manifest.json")))
    print(f"\nDevnet running in the background (pid {child.pid}); logs: {log_path}")
    print("Stop it with `devnet down`.")
    return 0


# ---------------------------------------------------------------- down / status


def cmd_down(args: argparse.Namespace) -> int:
    config = resolve_config(args)
    if args.docker:
        from orchestrator.compose import compose_down

        return compose_down(config)
    pid = running_pid(config)
    if pid is None:
        pid_file(config).unlink(missing_ok=True)
        print("No devnet is running.")
        return 0
    if not procs.stop_pid(pid, timeout=args.timeout):
        raise CliError(f"devnet (pid {pid}) did not stop")
    pid_file(config).unlink(missing_ok=True)
    print(f"Stopped the devnet (pid {pid}).")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from orchestrator.chains import chain_id_of
    from orchestrator.manifest import load_manifest
    from orchestrator.summary import table

    config = resolve_config(args)
    pid = running_pid(config)
    if pid is None:
        print("No devnet is running (start one with `devnet up`).")
        return 1
    manifest = load_manifest(state_dir(config) / "manifest.json")
    rows = []
    healthy = True
    for chain in manifest["chains"]:
        found = chain_id_of(chain["rpc_url"])
        ok = found == chain["chain_id"]
        healthy &= ok
        rows.append([chain["name"], chain["chain_id"], chain["rpc_url"], "up" if ok else "DOWN"])
    print(f"Devnet running (pid {pid})")
    print(table(["chain", "chain id", "RPC URL", "state"], rows))
    services = _service_health(manifest)
    if services:
        print()
        print(table(["service", "URL", "state"], services))
        healthy &= all(row[2] == "up" for row in services)
    return 0 if healthy else 1


def _service_health(manifest: dict[str, Any]) -> list[list[str]]:
    import httpx

    svc = manifest.get("services", {})
    targets = [("api", svc.get("api")), ("relayer", svc.get("relayer"))]
    targets += [(f"guardian-{i}", url) for i, url in enumerate(svc.get("guardians", []))]
    rows = []
    for name, url in targets:
        if not url:
            continue
        try:
            ok = httpx.get(f"{url}/health", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            ok = False
        rows.append([name, url, "up" if ok else "DOWN"])
    return rows


# ---------------------------------------------------------------- other commands


def cmd_compile(args: argparse.Namespace) -> int:
    from orchestrator.compiler import compile_contracts

    result = compile_contracts(force=args.force)
    how = "cache hit" if result.cached else f"compiled with {result.compiler}"
    print(f"{len(result.artifacts)} contracts ({how}) in {result.seconds:.2f}s")
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    """Deploy to already-running chains and write the manifest (the compose one-shot deployer)."""
    from orchestrator import instance
    from orchestrator.chains import apply_block_times, chain_id_of
    from orchestrator.deployer import deploy
    from orchestrator.manifest import build_manifest, write_manifest

    config = resolve_config(args)
    deadline = time.monotonic() + args.timeout
    for chain in config.chains:
        while chain_id_of(chain.rpc_url) != chain.chain_id:
            if time.monotonic() > deadline:
                raise CliError(f"chain {chain.name} not answering on {chain.rpc_url}")
            time.sleep(0.1)
    result = deploy(config, log=print)
    apply_block_times(config.chains)
    manifest_path = Path(args.manifest) if args.manifest else state_dir(config) / "manifest.json"
    manifest = build_manifest(config, result.manifest_section())
    instance.bind(config, manifest)  # a fresh instance id on every chain before the services start
    write_manifest(manifest_path, manifest)
    print(f"Deployed; manifest written to {manifest_path}")
    return 0


def cmd_compose(args: argparse.Namespace) -> int:
    from orchestrator.compose import render_compose

    text = render_compose(resolve_config(args))
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text)
        print(f"wrote {args.output}")
    return 0


def cmd_send(args: argparse.Namespace) -> int:
    from orchestrator.messaging import send

    return send(args)


def cmd_trace(args: argparse.Namespace) -> int:
    from orchestrator.messaging import trace

    return trace(args)


def cmd_logs(args: argparse.Namespace) -> int:
    from orchestrator.messaging import logs

    return logs(args)


# ---------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="devnet", description="Metalayer Devnet: a local multi-rollup devnet in one command."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, fn: Callable[[argparse.Namespace], int], help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.add_argument("--config", help=f"topology file (default: ./{DEFAULT_CONFIG_FILE} if present, else built-in)")
        p.set_defaults(func=fn)
        return p

    up = add("up", cmd_up, "start chains, deploy contracts, start services; runs until Ctrl-C")
    up.add_argument("--detach", "-d", action="store_true", help="run in the background; stop with `devnet down`")
    up.add_argument("--block-time", type=float, help="seconds between blocks on every chain (0 = instant)")
    up.add_argument("--no-services", action="store_true", help="chains and contracts only")
    up.add_argument("--no-deploy", action="store_true", help="bare chains: no contracts, no services")
    up.add_argument("--no-cache", action="store_true", help="deploy from scratch instead of loading cached state")
    up.add_argument("--docker", action="store_true", help="run the devnet with docker compose")
    up.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for --detach (default 120)")
    up.add_argument("--detached-child", action="store_true", help=argparse.SUPPRESS)

    down = add("down", cmd_down, "stop a devnet started with --detach")
    down.add_argument("--docker", action="store_true", help="remove the docker compose devnet")
    down.add_argument("--timeout", type=float, default=15.0, help="seconds to wait before SIGKILL")

    add("status", cmd_status, "show whether the chains and services answer")

    comp = add("compile", cmd_compile, "compile contracts/src (cached)")
    comp.add_argument("--force", action="store_true", help="ignore the cache")

    dep = add("deploy", cmd_deploy, "deploy the contracts to running chains and write the manifest")
    dep.add_argument("--manifest", help="where to write the manifest (default .devnet/manifest.json)")
    dep.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the chains")

    compose = add("compose", cmd_compose, "render docker-compose.yml from the config")
    compose.add_argument("--output", "-o", default="docker-compose.yml", help="file to write, or - for stdout")

    send = add("send", cmd_send, "send a cross-chain message")
    send.add_argument("--from", dest="source", required=True, help="source chain (name or id)")
    send.add_argument("--to", dest="destination", required=True, help="destination chain (name or id)")
    send.add_argument("--payload", default="0x", help="payload: 0x-hex, or text sent as UTF-8")
    send.add_argument("--recipient", help="recipient address on the destination (default: the example counter)")
    send.add_argument("--account", type=int, default=0, help="index of the dev account that sends (default 0)")
    send.add_argument("--wait", action="store_true", help="wait until delivered and print the trace")
    send.add_argument("--timeout", type=float, default=30.0, help="seconds to wait with --wait")

    trace = add("trace", cmd_trace, "show a message's path: sent, attested, delivered, with timings")
    trace.add_argument("message_id", help="message id (0x + 64 hex)")

    logs = add("logs", cmd_logs, "show service logs")
    logs.add_argument("service", nargs="?", help="one service (e.g. relayer, guardian-0, hub); default all")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing new lines")
    logs.add_argument("--lines", "-n", type=int, default=50, help="lines of history per service")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except (CliError, ConfigError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except RuntimeError as exc:
        # ChainStartError, ToolchainError, CompileError...: their message is the explanation
        if os.environ.get("DEVNET_DEBUG"):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - a CLI prints one line, not a traceback
        if os.environ.get("DEVNET_DEBUG"):
            raise
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
