"""`bench.py intents [--messages N]`: ERC-7683 intents over both routes, "open mined -> recipient credited".

hub + 2 rollups, the real guardians, relayer and the devnet's own solver process (solver-0). Intents go
one at a time round-robin over all six (from, to) chain pairs; every 4th takes the canonical route
(USDC.crosschainTransfer over the gateway), the others are ERC-7683 orders filled by the solver.
"Mined" is when the origin block's newHeads notification reaches this client; "credited" is when the
destination USDC Transfer log to the recipient does. Success: credited, and for solver fills also
settled on the origin (the solver repaid after the proof).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.relay_common import percentiles, running_devnet
from services.common import manifest as manifest_mod
from services.common.abi import Abi
from services.common.rpc import WsRpc, hexint
from services.common.tx import Signer
from services.protocol import encode_evm
from services.solver.orders import OrderData, onchain_order

AMOUNT = 10 * 10**6
FEE_BPS = 5


class Bench:
    def __init__(self, m: Any):
        self.m = m
        self.rpc = {c.chain_id: WsRpc(c.ws_url, name=c.name) for c in m.chains}
        self.usdc, self.origin = m.address("USDC"), m.address("OriginSettler")
        self.usdc_abi, self.origin_abi = Abi(m.abi("USDC")), Abi(m.abi("OriginSettler"))
        self.signer = Signer(m.accounts[1].private_key)
        self.nonce: dict[int, int] = {}
        self.mined: dict[tuple[int, int], float] = {}
        self.head_time: dict[int, int] = {}
        self.credited: dict[str, float] = {}
        self.waiters: dict[str, asyncio.Future[float]] = {}

    async def start(self) -> Bench:
        transfer = self.usdc_abi.topic("Transfer")
        for cid, rpc in self.rpc.items():
            await rpc.connect()
            await rpc.subscribe(["newHeads"], lambda h, cid=cid: self._head(cid, h))
            await rpc.subscribe(["logs", {"address": self.usdc, "topics": [transfer]}], self._transfer)
            self.nonce[cid] = hexint(await rpc.call("eth_getTransactionCount", [self.signer.address, "pending"]))
            await self.send(cid, self.usdc, self.usdc_abi.encode("approve", self.origin, 2**255))
        return self

    async def close(self) -> None:
        await asyncio.gather(*(r.close() for r in self.rpc.values()))

    def _head(self, cid: int, header: dict[str, Any]) -> None:
        self.mined.setdefault((cid, hexint(header["number"])), time.perf_counter())
        self.head_time[cid] = hexint(header["timestamp"])

    def _transfer(self, lg: dict[str, Any]) -> None:
        to = "0x" + lg["topics"][2][-40:]
        now = time.perf_counter()
        self.credited.setdefault(to, now)
        fut = self.waiters.pop(to, None)
        if fut is not None and not fut.done():
            fut.set_result(now)

    async def send(self, cid: int, to: str, data: bytes, gas: int = 400_000) -> dict[str, Any]:
        raw, tx_hash = self.signer.sign_1559(cid, self.nonce[cid], to, data, gas, 100 * 10**9, 10**9)
        self.nonce[cid] += 1
        await self.rpc[cid].call("eth_sendRawTransaction", ["0x" + raw.hex()])
        while (receipt := await self.rpc[cid].call("eth_getTransactionReceipt", [tx_hash])) is None:
            await asyncio.sleep(0.002)
        if hexint(receipt["status"]) != 1:
            raise RuntimeError(f"transaction {tx_hash} reverted")
        return receipt

    async def one(self, src: int, dst: int, route: str) -> tuple[float | None, bytes | None]:
        recipient = "0x" + os.urandom(20).hex()
        if route == "canonical":
            data = self.usdc_abi.encode("crosschainTransfer", encode_evm(dst, recipient), AMOUNT)
            to = self.usdc
        else:
            fee = -(-AMOUNT * FEE_BPS // 10_000)
            order = OrderData(self.usdc, AMOUNT + fee, self.usdc, AMOUNT, recipient, dst)
            data = self.origin_abi.encode("open", onchain_order(self.head_time[src] + 300, order))
            to = self.origin
        fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiters[recipient] = fut
        receipt = await self.send(src, to, data)
        receipt_at = time.perf_counter()
        block = hexint(receipt["blockNumber"])
        while (src, block) not in self.mined:  # the receipt may beat the newHeads notification
            await asyncio.sleep(0.001)
        try:
            credited = self.credited.get(recipient) or await asyncio.wait_for(fut, 30)
        except TimeoutError:
            return None, None
        order_id = bytes.fromhex(receipt["logs"][-1]["topics"][1][2:]) if route == "solver" else None
        # mined: the newHeads notification, or the receipt if that came first (another connection's
        # notification can be read before this chain's one)
        return (credited - min(self.mined[(src, block)], receipt_at)) * 1000, order_id

    async def settled(self, src: int, order_id: bytes) -> bool:
        raw = await self.rpc[src].call(
            "eth_call",
            [{"to": self.origin, "data": "0x" + self.origin_abi.encode("escrowOf", order_id).hex()}, "latest"],
        )
        return int(raw[2 + 64 * 2 : 2 + 96 * 2], 16) == 2


async def measure(m: Any, n: int) -> dict[str, Any]:
    bench = await Bench(m).start()
    try:
        chains = [c.chain_id for c in m.chains]
        pairs = [(s, d) for s in chains for d in chains if s != d]
        for src, dst in pairs:  # warm-up: every route once
            await bench.one(src, dst, "solver")
        lat: dict[str, list[float]] = {"solver": [], "canonical": []}
        failed: dict[str, int] = {"solver": 0, "canonical": 0}
        orders = []
        for i in range(n):
            src, dst = pairs[i % len(pairs)]
            route = "canonical" if i % 4 == 3 else "solver"
            ms, order_id = await bench.one(src, dst, route)
            if ms is None:
                failed[route] += 1
            else:
                lat[route].append(ms)
            if order_id is not None:
                orders.append((src, order_id))
        deadline = time.monotonic() + 30
        unsettled = list(orders)
        while unsettled and time.monotonic() < deadline:
            unsettled = [(s, o) for s, o in unsettled if not await bench.settled(s, o)]
            await asyncio.sleep(0.1)
        total = n
        ok = total - sum(failed.values()) - len(unsettled)
        return {
            "intents": total,
            "success_rate": round(ok / total, 4),
            "failed": failed,
            "solver_unsettled": len(unsettled),
            "open_mined_to_credited_ms": {r: percentiles(v) for r, v in lat.items()},
        }
    finally:
        await bench.close()


def run(args: argparse.Namespace) -> dict:
    n = args.messages or 200
    with (
        tempfile.TemporaryDirectory(prefix="bench-intents-") as tmp,
        running_devnet(Path(tmp) / "state", args.block_time) as devnet,
    ):
        # `devnet up` deployed USDC and the settlers and runs solver-0 ([solvers] count = 1, fee 5 bps)
        manifest = manifest_mod.load(devnet.manifest_path)
        assert manifest.intents is not None and manifest.intents.solvers[0].fee_bps == FEE_BPS
        result = asyncio.run(measure(manifest, n))
    result.update(
        {
            "chains": 3,
            "block_time_s": args.block_time,
            "solver_fee_bps": FEE_BPS,
            "targets": (
                {"solver_p50_ms": 50, "success_rate": 1.0}
                if not args.block_time
                else {"solver_p50_ms": args.block_time * 1000 + 150, "success_rate": 1.0}
            ),
        }
    )
    return result
