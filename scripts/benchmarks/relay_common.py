"""Shared machinery of the latency and throughput benchmarks.

A `Probe` holds one WebSocket per chain (services.common.rpc.WsRpc) with
  - a newHeads subscription: the arrival time of every block (the moment a send is "mined"
    as seen from outside), and
  - a logs subscription to the gateway's MessageDelivered: the arrival time of each delivery.
Sends are signed locally (dev accounts, locally tracked nonces) and broadcast on the same
connections, so the harness adds as little as possible to what it measures.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.common import rss_mb
from services.common.abi import Abi
from services.common.manifest import Manifest
from services.common.rpc import WsRpc, hexint
from services.common.tx import Signer
from services.protocol import encode_evm, load_abi

MAX_FEE = 100 * 10**9
PRIORITY = 10**9


@dataclass
class Sent:
    id: str
    src: int
    dst: int
    tx: str
    sent_at: float  # perf_counter when broadcast
    mined_at: float | None = None
    block: int | None = None


@dataclass
class Probe:
    manifest: Manifest
    rpcs: dict[int, WsRpc] = field(default_factory=dict)
    head_at: dict[tuple[int, int], float] = field(default_factory=dict)
    delivered_at: dict[str, float] = field(default_factory=dict)
    delivered_count: dict[str, int] = field(default_factory=dict)
    waiters: dict[str, asyncio.Future[float]] = field(default_factory=dict)
    nonces: dict[tuple[int, str], int] = field(default_factory=dict)

    async def start(self) -> Probe:
        self.abi = Abi(load_abi("MetalayerGateway"))
        self.gateway = self.manifest.address("MetalayerGateway")
        self.counter = self.manifest.address("CrossChainCounter")
        topic = self.abi.topic("MessageDelivered")
        for c in self.manifest.chains:
            rpc = WsRpc(c.ws_url, name=f"probe-{c.name}")
            await rpc.connect()
            self.rpcs[c.chain_id] = rpc
            await rpc.subscribe(["newHeads"], lambda h, cid=c.chain_id: self._on_head(cid, h))
            await rpc.subscribe(
                ["logs", {"address": self.gateway, "topics": [topic]}],
                lambda lg, cid=c.chain_id: self._on_delivered(cid, lg),
            )
        return self

    async def close(self) -> None:
        await asyncio.gather(*(r.close() for r in self.rpcs.values()), return_exceptions=True)

    def _on_head(self, chain_id: int, header: dict[str, Any]) -> None:
        self.head_at.setdefault((chain_id, hexint(header["number"])), time.perf_counter())

    def _on_delivered(self, chain_id: int, log: dict[str, Any]) -> None:
        # Delivered = when the destination block holding the delivery reached us: its newHeads
        # notification, or this log notification if that came first.
        now = time.perf_counter()
        if log.get("removed"):
            return
        now = min(now, self.head_at.get((chain_id, hexint(log["blockNumber"])), now))
        mid = log["topics"][1]
        self.delivered_count[mid] = self.delivered_count.get(mid, 0) + 1
        self.delivered_at.setdefault(mid, now)
        fut = self.waiters.pop(mid, None)
        if fut is not None and not fut.done():
            fut.set_result(now)

    async def signer_for(self, chain_id: int, index: int) -> Signer:
        signer = Signer(self.manifest.accounts[index].private_key)
        key = (chain_id, signer.address)
        if key not in self.nonces:
            self.nonces[key] = hexint(
                await self.rpcs[chain_id].call("eth_getTransactionCount", [signer.address, "pending"])
            )
        return signer

    def sign_send(self, signer: Signer, src: int, dst: int, payload: bytes = b"") -> tuple[bytes, str, str]:
        """A signed sendMessage to the counter on dst: (raw tx, tx hash, calldata hex)."""
        key = (src, signer.address)
        nonce_tx = self.nonces[key]
        self.nonces[key] = nonce_tx + 1
        data = self.abi.encode("sendMessage", encode_evm(dst, self.counter), payload, [])
        raw, tx_hash = signer.sign_1559(src, nonce_tx, self.gateway, data, 400_000, MAX_FEE, PRIORITY)
        return raw, tx_hash, data.hex()

    async def broadcast(self, src: int, raw: bytes) -> str:
        return await self.rpcs[src].call("eth_sendRawTransaction", ["0x" + raw.hex()])

    async def receipt(self, chain_id: int, tx_hash: str, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            r = await self.rpcs[chain_id].call("eth_getTransactionReceipt", [tx_hash])
            if r is not None:
                return r
            if time.monotonic() > deadline:
                raise TimeoutError(f"no receipt for {tx_hash}")
            await asyncio.sleep(0.002)

    def message_id_from(self, receipt: dict[str, Any]) -> str:
        for lg in receipt["logs"]:
            d = self.abi.decode_log(lg)
            if d and d[0] == "MessageCommitted":
                return "0x" + bytes(d[1]["sendId"]).hex()
        raise RuntimeError(f"no MessageCommitted in {receipt['transactionHash']}")

    def mined_time(self, chain_id: int, block: int, fallback: float) -> float:
        """When the block holding the send reached the outside world (its newHeads notification)."""
        return self.head_at.get((chain_id, block), fallback)

    async def plain_roundtrip_ms(self, chain_id: int, n: int) -> list[float]:
        """Baseline: one plain value transfer, signed locally, sent, receipt seen."""
        signer = await self.signer_for(chain_id, 8)
        out = []
        for _ in range(n):
            key = (chain_id, signer.address)
            nonce = self.nonces[key]
            self.nonces[key] = nonce + 1
            raw, tx_hash = signer.sign_1559(
                chain_id, nonce, self.manifest.accounts[7].address, b"", 21_000, MAX_FEE, PRIORITY, value=1
            )
            t0 = time.perf_counter()
            await self.broadcast(chain_id, raw)
            r = await self.rpcs[chain_id].call("eth_getTransactionReceipt", [tx_hash])
            while r is None:
                await asyncio.sleep(0.001)
                r = await self.rpcs[chain_id].call("eth_getTransactionReceipt", [tx_hash])
            out.append((time.perf_counter() - t0) * 1000)
        return out


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """user+system CPU time consumed so far by each process."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for name, pid in pids.items():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            out[name] = (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            out[name] = 0.0
    return out


def process_rss(pids: dict[str, int]) -> dict[str, float]:
    return {name: round(rss_mb(pid), 1) for name, pid in sorted(pids.items())}


class RssSampler:
    """Peak RSS per process, sampled in a thread while a benchmark runs."""

    def __init__(self, pids: dict[str, int], interval: float = 0.25):
        self.pids = pids
        self.interval = interval
        self.peak: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while True:
            for name, rss in process_rss(self.pids).items():
                self.peak[name] = max(self.peak.get(name, 0.0), rss)
            if self._stop.wait(self.interval):
                return

    @contextmanager
    def running(self) -> Iterator[RssSampler]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join()

    def report(self) -> dict[str, Any]:
        peak = {k: round(v, 1) for k, v in sorted(self.peak.items())}
        return {
            "peak_mb": peak,
            "peak_total_mb": round(sum(peak.values()), 1),
            "relayer_mb": peak.get("relayer"),
            "cores": os.cpu_count(),
        }


@contextmanager
def running_devnet(state_dir: Path, block_time: float | None) -> Iterator[Any]:
    """A full devnet (chains, contracts, guardians, relayer, API) on free ports; always stopped."""
    from benchmarks.common import bench_config
    from orchestrator.devnet import Devnet

    config = bench_config(state_dir, block_time)
    devnet = Devnet(config)
    try:
        devnet.start()
        yield devnet
    finally:
        devnet.stop()


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    if not ordered:
        return {"n": 0}

    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, max(0, round(p * (len(ordered) - 1))))], 2)

    return {
        "n": len(ordered),
        "p50": pct(0.5),
        "p90": pct(0.9),
        "p99": pct(0.99),
        "min": round(ordered[0], 2),
        "max": round(ordered[-1], 2),
        "mean": round(sum(ordered) / len(ordered), 2),
    }
