"""`bench.py latency [--messages N] [--block-time T]`: send mined -> delivered, one message at a time.

hub + 2 rollups, the real guardians and relayer. Messages go round-robin over all six
(source, destination) pairs; each is sent only after the previous one was delivered, so
this measures latency, not queueing. "Mined" is when the source block's newHeads
notification reaches this client; "delivered" is when the destination gateway's
MessageDelivered log notification does. Baseline, same run: one plain transaction round
trip (send + receipt) on one chain through the same connection.

The baseline's round trips are interleaved with the messages (one after every other message),
so both are measured on the same chain state and under the same machine load. Every message
adds storage, and anvil's block cost grows with it; and a block of 50 round trips taken at one
moment swung its p50 between 1.8 and 3.7 ms from run to run on a loaded machine (measured),
which moved the ratio more than any change to the delivery did. That block is still measured
(after the warm-up) and reported as `quiet_baseline_plain_tx_roundtrip_ms`, for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import pss_mb
from benchmarks.relay_common import Probe, RssSampler, percentiles, process_rss, running_devnet
from services.common import manifest as manifest_mod


async def measure(manifest: Any, n: int, block_time: float | None) -> dict[str, Any]:
    probe = await Probe(manifest).start()
    try:
        chains = [c.chain_id for c in manifest.chains]
        pairs = [(s, d) for s in chains for d in chains if s != d]
        signers = {cid: await probe.signer_for(cid, 5) for cid in chains}
        # warm-up: connections, caches, the relayer's first batch on every route
        for src, dst in pairs:
            await one(probe, signers[src], src, dst)
        quiet = await probe.plain_roundtrip_ms(chains[1], max(20, n // 4))
        lat: list[float] = []
        baseline: list[float] = []
        for i, (src, dst) in enumerate(itertools.islice(itertools.cycle(pairs), n)):
            lat.append(await one(probe, signers[src], src, dst))
            if i % 2:
                baseline += await probe.plain_roundtrip_ms(chains[1], 1)
        return {
            "latency_ms": percentiles(lat),
            "baseline_plain_tx_roundtrip_ms": percentiles(baseline),
            "quiet_baseline_plain_tx_roundtrip_ms": percentiles(quiet),
        }
    finally:
        await probe.close()


STAGES = (
    ("mined->seen", "mined_at", "seen_at"),
    ("seen->attested", "seen_at", "attested_at"),
    ("attested->proved", "attested_at", "proved_at"),
    ("proved->submitted", "proved_at", "submitted_at"),
    ("submitted->delivered", "submitted_at", "delivered_at"),
)


def stage_medians(db: Path) -> dict[str, float]:
    """Where a delivery's time goes, from the relayer's own timestamps (medians, ms)."""
    rows = sqlite3.connect(f"file:{db}?mode=ro", uri=True).execute(
        "SELECT mined_at, seen_at, attested_at, proved_at, submitted_at, delivered_at FROM messages"
        " WHERE status = 'delivered'"
    )
    cols = ["mined_at", "seen_at", "attested_at", "proved_at", "submitted_at", "delivered_at"]
    samples: dict[str, list[float]] = {name: [] for name, _, _ in STAGES}
    for row in rows:
        at = dict(zip(cols, row, strict=True))
        for name, a, b in STAGES:
            if at[a] is not None and at[b] is not None:
                samples[name].append((at[b] - at[a]) * 1000)
    return {name: round(statistics.median(v), 2) for name, v in samples.items() if v}


async def one(probe: Probe, signer: Any, src: int, dst: int) -> float:
    raw, tx_hash, _ = probe.sign_send(signer, src, dst)
    loop = asyncio.get_running_loop()
    sent_at = time.perf_counter()
    await probe.broadcast(src, raw)
    receipt = await probe.receipt(src, tx_hash)
    mid = probe.message_id_from(receipt)
    if mid in probe.delivered_at:
        done = probe.delivered_at[mid]
    else:
        fut = loop.create_future()
        probe.waiters[mid] = fut
        done = await asyncio.wait_for(fut, 60)
    # looked up only now: the receipt can come back before the block's newHeads notification
    mined = probe.mined_time(src, int(receipt["blockNumber"], 16), sent_at)
    return (done - mined) * 1000


def run(args: argparse.Namespace) -> dict:
    n = args.messages or 200
    with (
        tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp,
        running_devnet(Path(tmp) / "state", args.block_time) as devnet,
    ):
        manifest = manifest_mod.load(devnet.manifest_path)
        sampler = RssSampler(devnet.pids())
        with sampler.running():
            result = asyncio.run(measure(manifest, n, args.block_time))
        rss_now = process_rss(devnet.pids())
        stages = stage_medians(Path(tmp) / "state" / "run" / "relayer.sqlite")
        pss_total = round(sum(pss_mb(pid) for pid in devnet.pids().values()), 1)
    base = result["baseline_plain_tx_roundtrip_ms"]["p50"]
    quiet = result["quiet_baseline_plain_tx_roundtrip_ms"]["p50"]
    result.update(
        {
            "messages": n,
            "chains": 3,
            "block_time_s": args.block_time,
            "p50_ratio_to_baseline": round(result["latency_ms"]["p50"] / base, 2) if base else None,
            "p50_ratio_to_quiet_baseline": round(result["latency_ms"]["p50"] / quiet, 2) if quiet else None,
            "relayer_stage_p50_ms": stages,
            "rss_mb": rss_now,
            "rss_total_mb": round(sum(rss_now.values()), 1),
            "pss_total_mb": pss_total,
            "rss_peak": sampler.report(),
            "targets": (
                {"p50_ms": 100, "p99_ms": 250} if not args.block_time else {"max_ms": args.block_time * 1000 + 150}
            ),
        }
    )
    return result
