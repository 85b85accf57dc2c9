"""Shared bits of the benchmarks: statistics, isolated devnet configs, RSS."""

from __future__ import annotations

import statistics
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from orchestrator.config import DevnetConfig, default_config, to_toml
from orchestrator.pytest_plugin import free_port_offset

REPO = Path(__file__).resolve().parents[2]


def stats(samples: Sequence[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p99_index = min(len(ordered) - 1, max(0, round(0.99 * (len(ordered) - 1))))
    return {
        "n": len(ordered),
        "median": statistics.median(ordered),
        "p99": ordered[p99_index],
        "min": ordered[0],
        "max": ordered[-1],
    }


def bench_config(state_dir: Path, block_time: float | None = None) -> DevnetConfig:
    """The default topology on free ports, with its own state dir."""
    base = default_config().with_block_time(block_time)
    return replace(base.with_port_offset(free_port_offset(base, start=500)), state_dir=str(state_dir))


def write_toml(config: DevnetConfig, path: Path) -> Path:
    """A devnet.toml reproducing `config` (for benchmarks that drive the CLI)."""
    path.write_text(to_toml(config))
    return path


def devnet_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def _proc_mb(path: str, field: str) -> float:
    """A `Field:  N kB` line of a /proc file, in MB (0 when the process is gone)."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def pss_mb(pid: int) -> float:
    """Proportional set size: like RSS, but a page shared by N processes (anvil's and Python's
    shared libraries, the interpreter) counts 1/N in each, so a sum over the devnet's processes
    is the memory the devnet really holds. A sum of RSS counts every shared page once per process."""
    return _proc_mb(f"/proc/{pid}/smaps_rollup", "Pss:")


def rss_mb(pid: int) -> float:
    return _proc_mb(f"/proc/{pid}/status", "VmRSS:")
