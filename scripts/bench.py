#!/usr/bin/env python3
"""Benchmarks of the devnet, printed as JSON (medians, p99, ratios to a same-run baseline).

    python scripts/bench.py startup [--runs 5] [--docker]
    python scripts/bench.py gas
    python scripts/bench.py latency [--messages 200] [--block-time 1]
    python scripts/bench.py throughput [--messages 1000]
    python scripts/bench.py intents [--messages 200]
    python scripts/bench.py scale [--messages 20]       # 2, 8, 32 rollups: up-time, RSS, latency
    python scripts/bench.py fixture [--runs 5]
    python scripts/bench.py all

Each subcommand lives in scripts/benchmarks/<name>.py as `run(args) -> dict`.
Targets are in ../shared/DESIGN.md; tests never assert wall-clock times.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

SUBCOMMANDS = ["startup", "gas", "latency", "throughput", "intents", "scale", "fixture"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("benchmark", choices=[*SUBCOMMANDS, "all"])
    parser.add_argument("--runs", type=int, default=5, help="repetitions for startup (default 5)")
    parser.add_argument("--messages", type=int, default=None, help="messages for latency/throughput")
    parser.add_argument("--block-time", type=float, default=None, help="seconds between blocks (default instant)")
    parser.add_argument("--docker", action="store_true", help="startup: also measure docker compose")
    return parser


def run_one(name: str, args: argparse.Namespace) -> dict:
    if name == "startup" and args.docker:
        return importlib.import_module("benchmarks.docker").run(args)
    return importlib.import_module(f"benchmarks.{name}").run(args)


def main() -> int:
    args = build_parser().parse_args()
    names = SUBCOMMANDS if args.benchmark == "all" else [args.benchmark]
    results = {name: run_one(name, args) for name in names}
    print(json.dumps(results if len(names) > 1 else results[names[0]], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
