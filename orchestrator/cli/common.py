"""What every `devnet` command shares: the user-facing error, the config and the run files."""

from __future__ import annotations

import argparse
from pathlib import Path

from orchestrator.config import DevnetConfig, load_config
from orchestrator.services import procs

DEFAULT_CONFIG_FILE = "devnet.toml"


class CliError(RuntimeError):
    """A user-facing failure: printed as one line."""


def resolve_config(args: argparse.Namespace) -> DevnetConfig:
    """--config, else ./devnet.toml when present, else the default; --block-time on top."""
    path = getattr(args, "config", None)
    if path is None and Path(DEFAULT_CONFIG_FILE).is_file():
        path = DEFAULT_CONFIG_FILE
    config = load_config(path)
    block_time = getattr(args, "block_time", None)
    if block_time is not None:
        config = config.with_block_time(block_time or None)
    return config


def running_pid(config: DevnetConfig) -> int | None:
    try:
        pid = int(config.state.pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if procs.pid_alive(pid) else None
