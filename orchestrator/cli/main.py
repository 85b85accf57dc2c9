"""`devnet`: the command line. One module per command group, each with `register(subparsers)`.

Every failure a user can cause (bad config, bad flag, missing tool, taken port, no devnet
running) ends as one `error: ...` line and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import os
import sys
from importlib.metadata import PackageNotFoundError, version

from orchestrator.cli import build, chaos, gov, intent, logs, messages, read, roles, run, snapshot, status, time
from orchestrator.cli.common import CliError, Parser
from orchestrator.cli.output import error_line
from orchestrator.config import ConfigError

# A command group is added with one line here: its module's register(subparsers).
COMMAND_GROUPS = (run, status, messages, logs, build, snapshot, read, chaos, roles, gov, time, intent)


def package_version() -> str:
    try:
        return version("metalayer-devnet")
    except PackageNotFoundError:
        return "unknown"


def build_parser() -> Parser:
    parser = Parser(prog="devnet", description="Metalayer Devnet: a local multi-rollup devnet in one command.")
    parser.add_argument("--version", action="version", version=f"devnet {package_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `devnet ... | head`: the reader has all it wanted
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return 0
    except (CliError, ConfigError, FileNotFoundError) as exc:
        print(error_line(str(exc)), file=sys.stderr)
        return 1
    except RuntimeError as exc:
        # ChainStartError, ToolchainError, CompileError, MessagingError...: their message is the explanation
        if os.environ.get("DEVNET_DEBUG"):
            raise
        print(error_line(str(exc)), file=sys.stderr)
        return 1
    except Exception as exc:
        if os.environ.get("DEVNET_DEBUG"):
            raise
        print(error_line(f"{type(exc).__name__}: {exc}"), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
