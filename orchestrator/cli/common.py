"""What every `devnet` command shares: the user-facing error, flag validation, and finding the devnet.

    state = find_devnet(args)      # the running devnet's StateDir, from any directory
    config = resolve_config(args)  # the topology (`up`, `compile`, `deploy`, `compose` only)

A devnet is found, in order, by `--state-dir`, by `--config`, by `./devnet.toml`
(ignored when it cannot be read: it only matters to `up`), by `./.devnet`, then
among the devnets registered in the user's state directory (orchestrator/registry.py).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

from orchestrator import registry
from orchestrator.config import MIN_BLOCK_TIME, ConfigError, DevnetConfig, load_config
from orchestrator.config_checks import MAX_BLOCK_TIME
from orchestrator.paths import StateDir
from orchestrator.services import pidfile

DEFAULT_CONFIG_FILE = "devnet.toml"
NOT_RUNNING = "no devnet is running (start one with `devnet up`)"


class CliError(RuntimeError):
    """A user-facing failure: printed as one line."""


class Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line (`error: ...`), like every other failure."""

    def error(self, message: str) -> NoReturn:
        from orchestrator.cli.output import error_line

        print(error_line(f"{self.prog.removeprefix('devnet ')}: {message}"), file=sys.stderr)
        sys.exit(2)


# ---------------------------------------------------------------- numeric flags


def _number(kind: Callable[[str], float], text: str) -> float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def positive_seconds(text: str) -> float:
    value = _number(float, text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def block_time(text: str) -> float:
    """Like the block_time config key: 0 (instant) or at least MIN_BLOCK_TIME seconds."""
    value = _number(float, text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (instant) or a positive number of seconds, got {text}")
    if 0 < value < MIN_BLOCK_TIME:
        raise argparse.ArgumentTypeError(
            f"{text} is below the minimum of {MIN_BLOCK_TIME} seconds (0 = a block per transaction)"
        )
    if value > MAX_BLOCK_TIME:
        raise argparse.ArgumentTypeError(f"{text} is above the maximum of {MAX_BLOCK_TIME:g} seconds")
    return value


def count(minimum: int = 0, maximum: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
            raise argparse.ArgumentTypeError(f"must be {bound}, got {text}")
        return value

    parse.__name__ = "number"  # argparse names the type in its messages
    return parse


# ---------------------------------------------------------------- config and state


def resolve_config(args: argparse.Namespace) -> DevnetConfig:
    """--config, else ./devnet.toml when present, else the default; --block-time on top."""
    path = getattr(args, "config", None)
    if path is None and Path(DEFAULT_CONFIG_FILE).is_file():
        path = DEFAULT_CONFIG_FILE
    config = load_config(path)
    if getattr(args, "state_dir", None):
        config = replace(config, state_dir=str(state_dir_flag(args.state_dir)))
    block = getattr(args, "block_time", None)
    if block is not None:
        config = config.with_block_time(block or None)
    return config


def state_dir_flag(text: str) -> Path:
    """`--state-dir`: a directory, or a path where one can be made."""
    path = Path(text).resolve()
    if path.exists() and not path.is_dir():
        raise CliError(f"--state-dir {text} is not a directory")
    return path


def devnet_process(state: StateDir) -> tuple[pidfile.Recorded | None, str | None]:
    """The devnet's process from its pid file, while the pid still names that process (its
    recorded start time, orchestrator/services/pidfile.py); else (None, why the file is stale),
    why being None when there is no readable pid file."""
    rec = pidfile.read(state.pid_file)
    if rec is None:
        return None, None
    why = rec.stale(pidfile.devnet_argv)
    return (rec, None) if why is None else (None, why)


def running_pid(state: StateDir) -> int | None:
    rec, _ = devnet_process(state)
    return rec.pid if rec is not None else None


def stale_pid_note(state: StateDir, remove: bool = False) -> str | None:
    """'stale pid file PATH: why' when the state's pid file names no devnet, else None. `remove`
    deletes it, unless a devnet starting meanwhile has rewritten it."""
    rec = pidfile.read(state.pid_file)
    _, why = devnet_process(state)
    if rec is None or why is None:
        return None
    if remove and pidfile.read(state.pid_file) == rec:
        state.pid_file.unlink(missing_ok=True)
        return f"removed the stale pid file {state.pid_file}: {why}"
    return f"stale pid file {state.pid_file}: {why}"


def is_running(state: StateDir) -> bool:
    """A native devnet's process is alive, or `up --docker` left its engine record."""
    return running_pid(state) is not None or state.engine_record.is_file()


def _local_candidates(args: argparse.Namespace) -> list[StateDir]:
    found = []
    if Path(DEFAULT_CONFIG_FILE).is_file():
        with contextlib.suppress(ConfigError):  # a broken devnet.toml only matters to `up`
            found.append(load_config(DEFAULT_CONFIG_FILE).state)
    return [*found, StateDir(Path(".devnet").resolve())]


def find_devnet(args: argparse.Namespace, require_running: bool = True) -> StateDir:
    """The state directory of the devnet this command is about (see the module docstring)."""
    explicit = getattr(args, "state_dir", None)
    if explicit:
        state = StateDir(state_dir_flag(explicit))
        if require_running and not is_running(state):
            raise CliError(f"{NOT_RUNNING[:-1]}; nothing runs in {state.root})")
        return state
    if getattr(args, "config", None):
        state = load_config(args.config).state
        if require_running and not is_running(state):
            raise CliError(NOT_RUNNING)
        return state
    for state in _local_candidates(args):
        if is_running(state):
            return state
    live = registry.running()
    if len(live) == 1:
        return StateDir(live[0].state_dir)
    if len(live) > 1:
        dirs = ", ".join(str(e.state_dir) for e in live)
        raise CliError(f"{len(live)} devnets are running ({dirs}): pick one with --state-dir")
    if require_running:
        raise CliError(NOT_RUNNING)
    return _local_candidates(args)[0]


# ---------------------------------------------------------------- registering commands

Handler = Callable[[argparse.Namespace], int]


def add_command(subparsers: Any, name: str, handler: Handler, help: str, json: bool = False) -> argparse.ArgumentParser:
    """One `devnet <name>` command with the flags every command has (and `--json` when it prints data).

    Each command module has `register(subparsers)` calling this once per command."""
    p = subparsers.add_parser(name, help=help, description=help)
    p.add_argument("--config", help=f"topology file (default: ./{DEFAULT_CONFIG_FILE} if present, else built-in)")
    p.add_argument("--state-dir", help="the devnet's state directory (default: found from here or the running one)")
    if json:
        p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=handler)
    return p
