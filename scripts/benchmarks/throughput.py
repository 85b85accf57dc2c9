"""`bench.py throughput [--messages N] [--block-time T]`: a burst delivered exactly once, and how fast.

hub + 2 rollups. N messages (default 1000) over all six (source, destination) pairs are
signed in advance (several dev accounts) and broadcast back to back as fast as the chains
take them; then we wait until every one is delivered. Reported: delivered/s from the first
broadcast to the last delivery, the send rate achieved, per-message latency under load,
exactly-once (MessageDelivered events per id, re-read with eth_getLogs at the end, must all
be 1), the relayer's batching, and RSS of every process (peak while the burst runs).
Baseline, same run: one plain transaction round trip on one chain.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.relay_common import Probe, RssSampler, cpu_seconds, percentiles, running_devnet
from services.common import manifest as manifest_mod

SENDERS_PER_CHAIN = 3  # dev accounts 1..3 on every chain


async def measure(manifest: Any, n: int) -> dict[str, Any]:
    probe = await Probe(manifest).start()
    try:
        chains = [c.chain_id for c in manifest.chains]
        pairs = [(s, d) for s in chains for d in chains if s != d]
        baseline = await probe.plain_roundtrip_ms(chains[1], 30)
        signers = {(cid, k): await probe.signer_for(cid, 1 + k) for cid in chains for k in range(SENDERS_PER_CHAIN)}
        # pre-sign everything: the burst is then pure broadcasting
        per_chain: dict[int, list[tuple[bytes, str, int]]] = {cid: [] for cid in chains}
        for i in range(n):
            src, dst = pairs[i % len(pairs)]
            raw, tx_hash, _ = probe.sign_send(signers[(src, (i // len(pairs)) % SENDERS_PER_CHAIN)], src, dst)
            per_chain[src].append((raw, tx_hash, dst))
        sent: list[tuple[int, str, float]] = []

        async def blast(src: int) -> None:
            for raw, tx_hash, _dst in per_chain[src]:
                await probe.broadcast(src, raw)
                sent.append((src, tx_hash, time.perf_counter()))

        t0 = time.perf_counter()
        await asyncio.gather(*(blast(cid) for cid in chains))
        t_sent = time.perf_counter()
        blocks: dict[str, tuple[int, int, float]] = {}
        for src, tx_hash, at in sent:
            receipt = await probe.receipt(src, tx_hash)
            blocks[probe.message_id_from(receipt)] = (src, int(receipt["blockNumber"], 16), at)
        deadline = time.monotonic() + max(60.0, n / 10)
        while len([m for m in blocks if m in probe.delivered_at]) < len(blocks):
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.01)
        ids = {m: (src, probe.mined_time(src, blk, at)) for m, (src, blk, at) in blocks.items()}
        delivered = [m for m in ids if m in probe.delivered_at]
        t_last = max((probe.delivered_at[m] for m in delivered), default=time.perf_counter())
        # exactly once, re-read from the chains
        events: Counter[str] = Counter()
        topic = probe.abi.topic("MessageDelivered")
        for cid in chains:
            logs = await probe.rpcs[cid].call(
                "eth_getLogs", [{"address": probe.gateway, "topics": [topic], "fromBlock": "0x0", "toBlock": "latest"}]
            )
            events.update(lg["topics"][1] for lg in logs)
        counts = Counter(events[m] for m in ids)
        lat = [(probe.delivered_at[m] - ids[m][1]) * 1000 for m in delivered]
        return {
            "messages": n,
            "delivered": len(delivered),
            "exactly_once": counts == Counter({1: n}),
            "delivery_event_counts": {str(k): v for k, v in sorted(counts.items())},
            "send_seconds": round(t_sent - t0, 3),
            "sends_per_s": round(n / (t_sent - t0), 1),
            "burst_seconds": round(t_last - t0, 3),
            "delivered_per_s": round(len(delivered) / (t_last - t0), 1),
            "latency_under_load_ms": percentiles(lat),
            "baseline_plain_tx_roundtrip_ms": percentiles(baseline),
        }
    finally:
        await probe.close()


def run(args: argparse.Namespace) -> dict:
    import json
    import urllib.request

    n = args.messages or 1000
    with (
        tempfile.TemporaryDirectory(prefix="bench-throughput-") as tmp,
        running_devnet(Path(tmp) / "state", args.block_time) as devnet,
    ):
        manifest = manifest_mod.load(devnet.manifest_path)
        pids = devnet.pids()
        sampler = RssSampler(pids)
        cpu_before = cpu_seconds(pids)
        with sampler.running():
            result = asyncio.run(measure(manifest, n))
        cpu_after = cpu_seconds(pids)
        with urllib.request.urlopen(f"http://127.0.0.1:{manifest.relayer.port}/health", timeout=5) as r:
            health = json.loads(r.read())
    result.update(
        {
            "chains": 3,
            "block_time_s": args.block_time,
            "relayer": {
                "batches": health["counters"]["batches"],
                "queue": health["queue"]["messages"],
                "messages_per_batch": round(result["delivered"] / max(1, health["counters"]["batches"]), 2),
            },
            "rss": sampler.report(),
            "cpu_seconds_during_run": {k: round(cpu_after[k] - cpu_before.get(k, 0.0), 2) for k in sorted(cpu_after)},
            "targets": {
                "delivered_per_s": 100,
                "exactly_once": True,
                "whole_devnet_rss_mb": 600,
                "relayer_rss_mb": 150,
            },
        }
    )
    return result
