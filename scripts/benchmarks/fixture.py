"""`bench.py fixture`: the pytest fixture's start, its reset between tests, and a full restart.

Measured in the same run, on the same topology: (1) `DevnetHandle.start` (cached state), as the
session fixture pays once; (2) `reset()` after a test that delivered a message, what
`clean_devnet` pays per test (relayer and guardians suspended in place, evm_revert of every
chain, the service databases restored, the services resumed); (3) a full stop + start, the other
way to get a clean devnet. `resets_in_place` counts the resets after which every service still
ran in the same process (a reset falls back to restarting a service that does not answer).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.common import bench_config, stats
from orchestrator.testing import DevnetHandle


def dirty(handle: DevnetHandle) -> None:
    """What a typical test does: one message, delivered."""
    sent = handle.send("rollup-a", "rollup-b", "bench")
    handle.wait_delivered(sent, timeout=30)


def run(args: argparse.Namespace) -> dict:
    runs = max(2, args.runs)
    starts: list[float] = []
    resets: list[float] = []
    in_place = 0
    with tempfile.TemporaryDirectory(prefix="bench-fixture-") as tmp:
        config = bench_config(Path(tmp) / "state", args.block_time)
        for _ in range(runs):
            started = time.perf_counter()
            handle = DevnetHandle.start(config)
            starts.append(time.perf_counter() - started)
            try:
                handle.mark_clean()
                for _ in range(3):
                    dirty(handle)
                    pids = handle.supervisor.pids()
                    started = time.perf_counter()
                    handle.reset()
                    resets.append(time.perf_counter() - started)
                    in_place += handle.supervisor.pids() == pids
                dirty(handle)  # the devnet still works after its resets
            finally:
                handle.stop()
        restarts: list[float] = []
        for _ in range(runs):
            handle = DevnetHandle.start(config)
            dirty(handle)
            started = time.perf_counter()
            handle.stop()
            handle = DevnetHandle.start(config)
            restarts.append(time.perf_counter() - started)
            handle.stop()
    start_s, reset_s, restart_s = stats(starts), stats(resets), stats(restarts)
    return {
        "fixture_start_s": start_s,
        "reset_per_test_s": reset_s,
        "full_restart_s": restart_s,
        "reset_to_restart_ratio": round(reset_s["median"] / restart_s["median"], 3),
        "resets_in_place": f"{in_place}/{len(resets)}",
    }
