"""`devnet`: the command line (one module per command group: run, build, messages).

Every failure a user can cause (bad config, missing tool, taken port, no devnet
running) ends as one `error: ...` line and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Callable

from orchestrator.cli import build, intent, messages, run, status
from orchestrator.cli.common import DEFAULT_CONFIG_FILE, CliError
from orchestrator.config import ConfigError

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

    up = add("up", run.cmd_up, "start chains, deploy contracts, start services; runs until Ctrl-C")
    up.add_argument("--detach", "-d", action="store_true", help="run in the background; stop with `devnet down`")
    up.add_argument("--block-time", type=float, help="seconds between blocks on every chain (0 = instant)")
    up.add_argument("--no-services", action="store_true", help="chains and contracts only")
    up.add_argument("--no-deploy", action="store_true", help="bare chains: no contracts, no services")
    up.add_argument("--no-cache", action="store_true", help="deploy from scratch instead of loading cached state")
    up.add_argument("--docker", action="store_true", help="run the devnet with docker compose")
    up.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for --detach (default 120)")
    up.add_argument("--detached-child", action="store_true", help=argparse.SUPPRESS)

    down = add("down", run.cmd_down, "stop a devnet started with --detach")
    down.add_argument("--docker", action="store_true", help="remove the docker compose devnet")
    down.add_argument("--timeout", type=float, default=15.0, help="seconds to wait before SIGKILL")

    add("status", status.cmd_status, "show whether the chains and services answer")

    comp = add("compile", build.cmd_compile, "compile contracts/src (cached)")
    comp.add_argument("--force", action="store_true", help="ignore the cache")

    dep = add("deploy", build.cmd_deploy, "deploy the contracts to running chains and write the manifest")
    dep.add_argument("--manifest", help="where to write the manifest (default .devnet/manifest.json)")
    dep.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the chains")

    compose = add("compose", build.cmd_compose, "render docker-compose.yml from the config")
    compose.add_argument("--output", "-o", default="docker-compose.yml", help="file to write, or - for stdout")

    send = add("send", messages.send, "send a cross-chain message")
    send.add_argument("--from", dest="source", required=True, help="source chain (name or id)")
    send.add_argument("--to", dest="destination", required=True, help="destination chain (name or id)")
    send.add_argument("--payload", default="0x", help="payload: 0x-hex, or text sent as UTF-8")
    send.add_argument("--recipient", help="recipient address on the destination (default: the example counter)")
    send.add_argument("--account", type=int, default=0, help="index of the dev account that sends (default 0)")
    send.add_argument("--wait", action="store_true", help="wait until delivered and print the trace")
    send.add_argument("--timeout", type=float, default=30.0, help="seconds to wait with --wait")

    trace = add("trace", messages.trace, "show a message's path: sent, attested, delivered, with timings")
    trace.add_argument("message_id", help="message id (0x + 64 hex)")

    intent.register(add)

    logs = add("logs", messages.logs, "show service logs")
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
