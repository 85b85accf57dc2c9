"""`bench.py startup`: `devnet up --detach` until ready, against a bare anvil start.

Measured in the same run: (1) the baseline, one bare anvil from spawn to its
first eth_chainId answer; (2) `devnet up --detach` (a fresh process, as a user
runs it) until it returns with everything healthy, from cached state; (3) the
same with --no-cache (deploying from scratch); (4) chains only (--no-deploy);
(5) the pytest fixture's in-process start (cached state).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.common import bench_config, devnet_cli, stats, write_toml
from orchestrator.build.toolchain import find_anvil
from orchestrator.chains.rpc import chain_id_of
from orchestrator.services import procs


def bare_anvil_seconds(port: int, log: Path) -> float:
    started = time.perf_counter()
    proc = procs.spawn([str(find_anvil()), "--host", "127.0.0.1", "--port", str(port)], log)
    try:
        while chain_id_of(f"http://127.0.0.1:{port}", timeout=0.2) is None:
            time.sleep(0.005)
        return time.perf_counter() - started
    finally:
        procs.stop(proc)


def devnet_up_seconds(workdir: Path, *flags: str) -> float:
    started = time.perf_counter()
    up = devnet_cli("up", "--detach", *flags, cwd=workdir)
    elapsed = time.perf_counter() - started
    down = devnet_cli("down", cwd=workdir)
    if up.returncode != 0 or down.returncode != 0:
        raise RuntimeError(f"devnet up/down failed: {up.stderr.strip()} {down.stderr.strip()}")
    return elapsed


def fixture_seconds(config) -> float:
    """What the pytest `devnet` fixture pays: Devnet.start in-process (imports already done)."""
    from orchestrator.devnet import Devnet

    started = time.perf_counter()
    devnet = Devnet(config)
    try:
        devnet.start()
        return time.perf_counter() - started
    finally:
        devnet.stop()


def run(args: argparse.Namespace) -> dict:
    runs = args.runs
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        workdir = Path(tmp)
        config = bench_config(workdir / "state", args.block_time)
        write_toml(config, workdir / "devnet.toml")
        devnet_up_seconds(workdir)  # warm-up: compile cache and state cache exist afterwards
        baseline = [bare_anvil_seconds(config.hub.port, workdir / "bare.log") for _ in range(runs)]
        chains_only = [devnet_up_seconds(workdir, "--no-deploy") for _ in range(runs)]
        cached = [devnet_up_seconds(workdir) for _ in range(runs)]
        cold = [devnet_up_seconds(workdir, "--no-cache") for _ in range(runs)]
        fixture = [fixture_seconds(config) for _ in range(runs)]
    base = stats(baseline)["median"]
    result = {
        "runs": runs,
        "baseline_bare_anvil_s": stats(baseline),
        "devnet_up_chains_only_s": stats(chains_only),
        "devnet_up_cached_state_s": stats(cached),
        "devnet_up_fresh_deploy_s": stats(cold),
        "pytest_fixture_s": stats(fixture),
    }
    for key in ("devnet_up_chains_only_s", "devnet_up_cached_state_s", "devnet_up_fresh_deploy_s", "pytest_fixture_s"):
        result[key]["ratio_to_baseline"] = round(result[key]["median"] / base, 2)
    result["targets"] = {"cold_s": 5.0, "cached_s": 3.0, "fixture_s": 2.0}
    return result
