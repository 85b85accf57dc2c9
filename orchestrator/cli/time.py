"""`devnet time advance DURATION`: every chain's clock moves together (evm_increaseTime + mining)."""

from __future__ import annotations

import argparse
from typing import Any

from orchestrator.cli.govargs import emit, governance_client, group, leaf, manifest_of

MAX_SECONDS = 10 * 365 * 86400  # a typo like 7000d should not push every chain years ahead
MAX_BLOCKS = 100_000


def register(subparsers: Any) -> None:
    sub = group(subparsers, "time", "move every chain's clock together (governance periods, lock expiry)")
    p = leaf(sub, "advance", cmd_advance, "advance every chain by DURATION and mine blocks (one per 12 s)")
    p.add_argument("duration", metavar="DURATION", help="90, 90s, 15m, 2h, 7d, 1w")
    p.add_argument("--blocks", type=int, help="blocks to mine on every chain (default: DURATION/12 s, 1..600)")


def cmd_advance(args: argparse.Namespace) -> int:
    gc = governance_client()
    seconds = gc.parse_duration(args.duration)
    if not 0 <= seconds <= MAX_SECONDS:
        raise ValueError(f"duration {args.duration!r}: between 0 and {MAX_SECONDS // 86400} days")
    if args.blocks is not None and not 1 <= args.blocks <= MAX_BLOCKS:
        raise ValueError(f"--blocks: between 1 and {MAX_BLOCKS}")
    heads = gc.advance_time(manifest_of(args), seconds, args.blocks)
    lines = [f"advanced {seconds}s on every chain; heads: " + ", ".join(f"{c} #{n}" for c, n in heads.items())]
    return emit(args, {"seconds": seconds, "heads": heads}, lines)
