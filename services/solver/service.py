"""The solver: watches ERC-7683 `Open` on every chain, fills from its own inventory, is paid after the proof.

Per chain (SolverChain): newHeads wakes the scanner, which reads the OriginSettler's Open / Settled /
Refunded logs from the stored cursor to the head and stores them with the cursor in one SQLite
transaction, then wakes the destination workers.

Per destination chain (worker): ready orders in arrival order. Each is checked (token, fill deadline
against the destination's clock with a safety margin, fee >= fee_bps of the output, the fill record,
inventory) and filled with `DestinationSettler.fill`; the fill is recorded `filling` with its hash
before broadcast, and its receipt is awaited aside (its amount reserved from the inventory until
then) so that with a block time many fills go into one block. The DestinationSettler's settlement
message is carried home by the relayer; the solver sees `Settled(orderId, repayTo=self)` on the
origin and marks the order settled. A fill that loses a race to another solver reverts
`AlreadyFilled` with the solver's tokens untouched (`lost`).

Maintenance (every `interval` s): resolves fills whose receipt never came, and rebalances the
inventory across chains (services/solver/rebalance.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_utils import to_checksum_address

from services.common import bloom
from services.common.abi import Abi, describe_error
from services.common.chain import TxLost
from services.common.http import App, Request
from services.common.manifest import Manifest
from services.common.rpc import RpcError, hexint
from services.common.tx import Signer
from services.solver.chain import SolverChain
from services.solver.keys import solver_key
from services.solver.orders import FillData
from services.solver.rebalance import Rebalancer
from services.solver.store import Store
from services.solver.validation import SOLVER_MIN_MARGIN

log = logging.getLogger("solver")

LOG_RANGE = 2000
FILL_GAS = 400_000
ZERO, ESCROW_OPEN = "0x" + "00" * 20, 1


@dataclass(frozen=True)
class SolverSettings:
    fee_bps: int = 5
    min_margin: int = SOLVER_MIN_MARGIN  # seconds a fill must leave before the fill deadline
    low_watermark: int = 20_000 * 10**6  # USDC units; below it a chain is refilled
    target: int = 50_000 * 10**6  # a refilled chain is brought back to this
    interval: float = 1.0  # maintenance period (s)


def _addr32(word: bytes) -> str:
    return to_checksum_address(bytes(word)[12:])


def _log_if_failed(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("task %s stopped", task.get_name(), exc_info=task.exception())


class Solver:
    def __init__(self, manifest: Manifest, index: int, db_path: Path, settings: SolverSettings):
        self.m = manifest
        self.index = index
        self.settings = settings
        self.signer = Signer(solver_key(index).private_key)
        self.me = self.signer.address
        self.chains = {c.chain_id: SolverChain(c, self.signer) for c in manifest.chains}
        self.store = Store(db_path)
        self.origin = manifest.address("OriginSettler")
        self.dest = manifest.address("DestinationSettler")
        self.usdc = manifest.address("USDC")
        self.gateway = manifest.address("MetalayerGateway")
        self.origin_abi, self.dest_abi = Abi(manifest.abi("OriginSettler")), Abi(manifest.abi("DestinationSettler"))
        self.usdc_abi, self.gw_abi = Abi(manifest.abi("USDC")), Abi(manifest.abi("MetalayerGateway"))
        self.topics = [self.origin_abi.topic(n) for n in ("Open", "Settled", "Refunded")]
        self.topic_bits = bloom.topic_bits(self.topics)
        self._scan_wake = {cid: asyncio.Event() for cid in self.chains}
        self._work_wake = {cid: asyncio.Event() for cid in self.chains}
        self._maint_wake = asyncio.Event()
        self.rebalancer = Rebalancer(
            self.chains, self.store, self.usdc, self.gateway, settings, (self.usdc_abi, self.gw_abi)
        )
        self._tasks: list[asyncio.Task[Any]] = []
        self._inflight: set[asyncio.Task[None]] = set()
        self._awaited: set[str] = set()  # fill transactions whose receipt a task is waiting for
        self.reserved: dict[int, int] = dict.fromkeys(self.chains, 0)  # USDC in fills not yet mined
        self.balances: dict[int, int] = {}
        self.ready = False
        self.counters = {"fills": 0, "lost_races": 0, "skipped": 0}

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        await asyncio.gather(*(c.start() for c in self.chains.values()))
        await asyncio.gather(*(self._approve(c) for c in self.chains.values()))
        for cid, chain in self.chains.items():
            chain.on_head = lambda _n, cid=cid: self._scan_wake[cid].set()
        await self._resolve_filling(min_age=0.0)
        for cid in self.chains:
            self._tasks.append(asyncio.create_task(self._scanner(cid), name=f"scan-{cid}"))
            self._tasks.append(asyncio.create_task(self._worker(cid), name=f"fill-{cid}"))
        self._tasks.append(asyncio.create_task(self._maintenance(), name="maintenance"))
        for task in self._tasks:
            task.add_done_callback(_log_if_failed)
        self.ready = True
        log.info(
            "solver %d (%s) on %s, fee %d bps",
            self.index,
            self.me,
            ", ".join(c.name for c in self.chains.values()),
            self.settings.fee_bps,
        )

    async def close(self) -> None:
        tasks = [*self._tasks, *self._inflight]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(c.close() for c in self.chains.values()), return_exceptions=True)
        self.store.close()

    async def _approve(self, chain: SolverChain) -> None:
        raw = await chain.read(self.usdc, self.usdc_abi.encode("allowance", self.me, self.dest))
        if int.from_bytes(raw, "big") < 2**200:
            receipt = await chain.transact(self.usdc, self.usdc_abi.encode("approve", self.dest, 2**256 - 1), 100_000)
            if receipt is None or hexint(receipt["status"]) != 1:
                raise RuntimeError(f"{chain.name}: approving the DestinationSettler failed")

    # ------------------------------------------------------------ scanning

    async def _scanner(self, cid: int) -> None:
        chain, wake = self.chains[cid], self._scan_wake[cid]
        cursor = self.store.cursor(cid)
        cursor = -1 if cursor is None else cursor
        while True:
            wake.clear()
            try:
                cursor = chain.rescan(cursor)  # after a rewind: read the heights mined again
                while cursor < chain.head:
                    to = min(chain.head, cursor + LOG_RANGE)
                    await self._scan_range(cid, cursor + 1, to)
                    cursor = to
            except (TimeoutError, RpcError, ConnectionError) as exc:
                log.warning("%s: log scan failed (%s); retrying", chain.name, exc)
                await asyncio.sleep(0.2)
                continue
            except Exception:  # never stop scanning: the cursor says where to resume
                log.exception("%s: log scan failed; retrying", chain.name)
                await asyncio.sleep(0.5)
                continue
            if chain.head <= cursor:
                await self._wait_or_poll(chain, wake)

    async def _wait_or_poll(self, chain: SolverChain, wake: asyncio.Event) -> None:
        """Wait for a newHeads wake-up; every second ask for the head too, so a missed notification
        (a reconnect, a busy node) delays a scan by a second at most instead of forever."""
        try:
            await asyncio.wait_for(wake.wait(), 1.0)
        except TimeoutError:
            with contextlib.suppress(TimeoutError, RpcError, ConnectionError):
                chain.head = max(chain.head, hexint(await chain.rpc.call("eth_blockNumber")))

    async def _scan_range(self, cid: int, frm: int, to: int) -> None:
        chain = self.chains[cid]
        query = {"address": self.origin, "topics": [self.topics], "fromBlock": hex(frm), "toBlock": hex(to)}
        # no read when the headers' logs blooms rule out every intent log (services/common/bloom.py)
        logs = [] if chain.quiet(frm, to, self.topic_bits) else await chain.rpc.call("eth_getLogs", [query])
        opened, settled, refunded = [], [], []
        for lg in logs:
            decoded = self.origin_abi.decode_log(lg)
            if decoded is None:
                continue
            name, args = decoded
            if name == "Open":
                order = self._order_row(cid, args["resolvedOrder"], lg)
                if order is not None:
                    opened.append(order)
            elif name == "Settled" and args["repayTo"].lower() == self.me.lower():
                settled.append("0x" + bytes(args["orderId"]).hex())
            elif name == "Refunded":
                refunded.append("0x" + bytes(args["orderId"]).hex())
        new = self.store.ingest(cid, to, opened, settled, refunded)
        for o in opened:
            if o["id"] in new:
                self._work_wake[o["destination"]].set()

    def _order_row(self, origin: int, r: tuple[Any, ...], lg: dict[str, Any]) -> dict[str, Any] | None:
        user, _, _, fill_deadline, oid, _max_spent, min_received, instructions = r
        if len(instructions) != 1 or len(min_received) != 1:
            return None  # not a Metalayer one-leg order
        dst, settler, origin_data = instructions[0]
        if _addr32(settler).lower() != self.dest.lower() or dst not in self.chains:
            return None
        try:
            fill = FillData.decode(bytes(origin_data))
        except Exception:
            return None
        return {
            "id": "0x" + bytes(oid).hex(),
            "origin": origin,
            "destination": dst,
            "user": user,
            "input_token": _addr32(min_received[0][0]),
            "input_amount": min_received[0][1],
            "output_token": fill.output_token,
            "output_amount": fill.output_amount,
            "recipient": fill.recipient,
            "fill_deadline": fill_deadline,
            "origin_data": bytes(origin_data),
            "open_block": hexint(lg["blockNumber"]),
            "open_tx": lg.get("transactionHash"),
        }

    # ------------------------------------------------------------ filling

    async def _worker(self, cid: int) -> None:
        wake = self._work_wake[cid]
        while True:
            wake.clear()
            rows = self.store.ready(cid)
            for row in rows:
                try:
                    await self._handle(row)
                except (TimeoutError, RpcError, ConnectionError) as exc:
                    log.warning("order %s: %s; retrying", row["id"], exc)
                    self.store.retry_later(row["id"], str(exc), 0.5)
            if not rows:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), 0.5)

    def _refusal(self, row: dict[str, Any], now: int) -> str | None:
        if row["output_token"].lower() != self.usdc.lower() or row["input_token"].lower() != self.usdc.lower():
            return "unsupported token"
        if row["fill_deadline"] - now < self.settings.min_margin:
            return f"fill deadline too close ({row['fill_deadline'] - now} s left)"
        out, inp = int(row["output_amount"]), int(row["input_amount"])
        fee = -(-out * self.settings.fee_bps // 10_000)
        if inp - out < fee:
            return f"fee {inp - out} below {self.settings.fee_bps} bps ({fee})"
        return None

    async def _handle(self, row: dict[str, Any]) -> None:
        chain = self.chains[row["destination"]]
        oid = row["id"]
        # the later of both clocks: the fill must be in time on the destination, and proven on the
        # origin before the refund window opens there (the chains' clocks drift apart under time travel)
        refusal = self._refusal(row, max(chain.head_time, self.chains[row["origin"]].head_time))
        if refusal:
            self.store.set_status(oid, "skipped", refusal)
            self.counters["skipped"] += 1
            log.info("order %s skipped: %s", oid, refusal)
            return
        async with chain.spend_lock:
            balance, filler, escrow = await asyncio.gather(
                self._balance(chain), self._filler(chain, oid), self._escrow_status(row["origin"], oid)
            )
            if filler != ZERO:
                self._record_other_fill(oid, filler)
                return
            if escrow != ESCROW_OPEN:  # refunded (or never opened): a fill would never be paid
                self.store.set_status(oid, "skipped", f"escrow not open on the origin (status {escrow})")
                return
            amount = int(row["output_amount"])
            available = balance - self.reserved[chain.chain_id]
            if available < amount:
                self.store.retry_later(oid, f"waiting for inventory on {chain.name} ({available})", 1.0)
                self._maint_wake.set()
                return
            data = self.dest_abi.encode("fill", bytes.fromhex(oid[2:]), row["origin_data"], b"")
            tx_hash = await chain.send(self.dest, data, FILL_GAS, lambda h: self.store.mark_filling(oid, h))
            self.reserved[chain.chain_id] += amount
        # the receipt is awaited aside, so with a block time many fills share the next block
        task = asyncio.create_task(self._await_fill(row, chain, tx_hash, amount), name=f"fill-{oid[:10]}")
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _await_fill(self, row: dict[str, Any], chain: SolverChain, tx_hash: str, amount: int) -> None:
        self._awaited.add(tx_hash)
        try:
            await self._conclude(row, chain, await chain.receipt(tx_hash))
        except (TimeoutError, RpcError, ConnectionError, TxLost) as exc:
            log.warning("order %s: waiting for fill %s failed (%s); maintenance resolves it", row["id"], tx_hash, exc)
        finally:
            self.reserved[chain.chain_id] -= amount
            self._awaited.discard(tx_hash)
            self._maint_wake.set()  # the chain's inventory is certain again: rebalance now

    async def _conclude(self, row: dict[str, Any], chain: SolverChain, receipt: dict[str, Any] | None) -> None:
        oid = row["id"]
        if receipt is None:
            return  # still `filling`: maintenance resolves it from the chain
        if hexint(receipt["status"]) == 1:
            self.store.mark_filled(oid)
            self.counters["fills"] += 1
            self._maint_wake.set()
            return
        filler = await self._filler(chain, oid)
        if filler != ZERO:
            self._record_other_fill(oid, filler)
            return
        reason = await self._revert_reason(chain, row)
        self.store.set_status(oid, "failed", reason)
        log.warning("order %s: fill reverted: %s", oid, reason)

    def _record_other_fill(self, oid: str, filler: str) -> None:
        if filler.lower() == self.me.lower():
            self.store.mark_filled(oid)
            return
        self.store.set_status(oid, "lost", f"filled by {filler}")
        self.counters["lost_races"] += 1

    async def _revert_reason(self, chain: SolverChain, row: dict[str, Any]) -> str:
        data = self.dest_abi.encode("fill", bytes.fromhex(row["id"][2:]), row["origin_data"], b"")
        try:
            await chain.read(self.dest, data)
            return "reverted (succeeds now)"
        except RpcError as exc:
            raw = exc.data if isinstance(exc.data, str) else None
            return describe_error(raw, [self.dest_abi, self.usdc_abi, self.gw_abi]) if raw else exc.message

    async def _balance(self, chain: SolverChain) -> int:
        value = int.from_bytes(await chain.read(self.usdc, self.usdc_abi.encode("balanceOf", self.me)), "big")
        self.balances[chain.chain_id] = value
        return value

    async def _balances(self) -> dict[int, int]:
        amounts = await asyncio.gather(*(self._balance(c) for c in self.chains.values()))
        return {cid: amount - self.reserved[cid] for cid, amount in zip(self.chains, amounts, strict=True)}

    async def _escrow_status(self, origin: int, oid: str) -> int:
        raw = await self.chains[origin].read(self.origin, self.origin_abi.encode("escrowOf", bytes.fromhex(oid[2:])))
        return int.from_bytes(raw[64:96], "big")  # (user, fillDeadline, status, ...)

    async def _filler(self, chain: SolverChain, oid: str) -> str:
        raw = await chain.read(self.dest, self.dest_abi.encode("fillOf", bytes.fromhex(oid[2:])))
        return to_checksum_address(raw[12:32])

    # ------------------------------------------------------------ maintenance

    async def _maintenance(self) -> None:
        while True:
            self._maint_wake.clear()
            try:
                await self._resolve_filling(min_age=10.0)
                await self.rebalancer.track()
                busy = frozenset(cid for cid, amount in self.reserved.items() if amount)
                await self.rebalancer.rebalance(await self._balances(), busy)
            except (TimeoutError, RpcError, ConnectionError, TxLost) as exc:
                log.warning("maintenance: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._maint_wake.wait(), self.settings.interval)

    async def _resolve_filling(self, min_age: float) -> None:
        """Fills broadcast but never concluded (crash, dropped tx): settle them from the chain."""
        for row in self.store.in_state("filling"):
            if time.time() - (row["fill_sent_at"] or 0) < min_age or row["fill_tx"] in self._awaited:
                continue
            chain = self.chains[row["destination"]]
            receipt = await chain.rpc.call("eth_getTransactionReceipt", [row["fill_tx"]]) if row["fill_tx"] else None
            if receipt is not None:
                await self._conclude(row, chain, receipt)
                continue
            filler = await self._filler(chain, row["id"])
            if filler != ZERO:
                self._record_other_fill(row["id"], filler)
            else:  # never mined: evaluate it again (a second fill would be refused anyway)
                self.store.set_status(row["id"], "new", "fill transaction dropped", next_attempt=0)
                self._work_wake[row["destination"]].set()

    # ------------------------------------------------------------ HTTP

    def app(self) -> App:
        app = App()

        @app.get("/health")
        async def health(_req: Request) -> tuple[int, Any]:
            # 503 until subscribed and approved, so a supervisor's health wait means "can fill now"
            return 200 if self.ready else 503, {
                "ready": self.ready,
                "index": self.index,
                "address": self.me,
                "fee_bps": self.settings.fee_bps,
                "chains": {c.name: {"head": c.head, "usdc": self.balances.get(cid)} for cid, c in self.chains.items()},
                "orders": self.store.counts(),
                "rebalances": self.store.rebalance_counts(),
                "counters": {**self.counters, "rebalances": self.rebalancer.sent},
            }

        return app
