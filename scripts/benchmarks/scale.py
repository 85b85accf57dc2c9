"""`bench.py scale`: the whole devnet at 2, 8 and 32 rollups in one run.

For each size: up-time (Devnet.start in-process, cached state when present, all services
healthy), total RSS of every devnet process (anvils + services), and the latency of
messages from the first rollup to the last (send receipt -> isDelivered, median/p99).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from benchmarks.common import pss_mb, rss_mb, stats
from orchestrator.config import ChainConfig, DevnetConfig, default_config
from orchestrator.pytest_plugin import free_port_offset

SIZES = (2, 8, 32)


def topology(rollups: int, state_dir: Path) -> DevnetConfig:
    base = default_config()
    chains = tuple(ChainConfig(name=f"rollup-{i}", chain_id=901 + i, port=8546 + i) for i in range(rollups))
    config = replace(base, chains=(base.hub, *chains), state_dir=str(state_dir))
    return config.with_port_offset(free_port_offset(config, start=500))


def one_size(rollups: int, messages: int) -> dict:
    from orchestrator.testing import DevnetHandle

    with tempfile.TemporaryDirectory(prefix=f"bench-scale-{rollups}-") as tmp:
        config = topology(rollups, Path(tmp))
        started = time.perf_counter()
        with DevnetHandle.start(config) as net:
            up = time.perf_counter() - started
            rss = sum(rss_mb(pid) for pid in net.devnet.pids().values())
            pss = sum(pss_mb(pid) for pid in net.devnet.pids().values())
            first, last = config.rollups[0].name, config.rollups[-1].name
            latencies = []
            for i in range(messages):
                sent = net.send(first, last, i.to_bytes(4, "big"))
                t0 = time.perf_counter()
                net.wait_delivered(sent, timeout=60)
                latencies.append((time.perf_counter() - t0) * 1000)
        return {
            "rollups": rollups,
            "up_seconds": round(up, 3),
            "rss_mb": round(rss, 1),
            "pss_mb": round(pss, 1),
            "latency_ms": stats(latencies),
            "messages": messages,
        }


def run(args: argparse.Namespace) -> dict:
    messages = args.messages or 20
    return {"sizes": [one_size(n, messages) for n in SIZES]}
