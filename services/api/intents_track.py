"""Intents the API planned or sent: their stages read from the chains, and the metrics over them.

    tracker = IntentTracker(ctx)
    record = tracker.add(plan, mode="sent", sender=...)   # id "0x.." (16 random bytes)
    record.mark("opened"); record.order_id = ...          # after the open transaction is mined
    tracker.ensure_running()                               # one asyncio task polls the pending ones
    tracker.metrics()                                      # per route: count, success rate, latency

Stages: planned -> opened -> filled -> settled, or refunded. Solver route: `opened` when the order's
escrow exists (OriginSettler.escrowOf), `filled` when DestinationSettler.fillOf names a filler,
`settled`/`refunded` from the escrow status. Canonical route: the burn is `opened`; the gateway's
delivery on the destination (the mint) is `filled` and `settled` at once. Each stage keeps the
wall-clock time the API first saw it, so timings are the API's view (poll interval 50 ms).
An unsigned intent is tracked when it can be identified before it is sent: a solver plan made with
a sender (its gasless order id is known); otherwise it stays `planned` here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector, keccak

from services.api.context import Context
from services.common.manifest import Chain
from services.solver.orders import FillData
from services.solver.planner import IntentPlan, gasless_order

log = logging.getLogger("api.intents")
POLL_SECONDS = 0.05
MAX_RECORDS = 10_000  # oldest finished records are dropped beyond this
ESCROW_STATUS = {1: "opened", 2: "settled", 3: "refunded"}
FINAL = ("settled", "refunded", "failed")
FILL_RECORD = "(address,address,uint64,bytes32)"  # DestinationSettler.FillRecord: filler first
ESCROW = "(address,uint32,uint8,address,uint256,uint256)"  # OriginSettler.Escrow: status third
UNSIGNED_WATCH = 600.0  # seconds an unsigned intent is watched for its openFor


@dataclass
class IntentRecord:
    id: str
    plan: IntentPlan
    mode: str  # "sent" (the devnet signed and sent it) or "unsigned" (the user's wallet sends it)
    created: float = field(default_factory=time.time)
    stages: dict[str, float] = field(default_factory=dict)  # stage -> unix seconds first seen
    order_id: str | None = None  # solver route
    message_nonce: int | None = None  # canonical route: the gateway nonce on the origin
    transactions: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def status(self) -> str:
        for stage in ("failed", "refunded", "settled", "filled", "opened"):
            if stage in self.stages:
                return stage
        return "planned"

    @property
    def final(self) -> bool:
        return self.status in FINAL

    def mark(self, stage: str, at: float | None = None) -> None:
        self.stages.setdefault(stage, at if at is not None else time.time())

    def timings(self) -> dict[str, dict[str, Any]]:
        """Each stage: when (unix s) and milliseconds since the previous stage and since `opened`."""
        out: dict[str, dict[str, Any]] = {}
        previous = self.created
        opened = self.stages.get("opened")
        for stage, at in sorted(self.stages.items(), key=lambda kv: kv[1]):
            out[stage] = {
                "at": round(at, 4),
                "ms_since_previous": round((at - previous) * 1000, 1),
                "ms_since_opened": round((at - opened) * 1000, 1) if opened else None,
            }
            previous = at
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "mode": self.mode,
            "route": self.plan.route,
            "order_id": self.order_id,
            "created": round(self.created, 4),
            "stages": self.timings(),
            "transactions": self.transactions,
            "error": self.error,
            "plan": self.plan.to_json(),
        }


def _call_data(signature: str, types: list[str], args: list[Any]) -> str:
    return "0x" + (function_signature_to_4byte_selector(signature) + encode(types, args)).hex()


def gasless_order_id(plan: IntentPlan) -> str:
    """The order id an `openFor` of this plan's signed order will get (keccak of its fill data)."""
    order = gasless_order(plan)
    data = order.data
    fill = FillData(
        order.origin_chain_id,
        order.origin_settler,
        order.user,
        order.nonce,
        order.fill_deadline,
        data.output_token,
        data.output_amount,
        data.recipient,
        data.destination_chain_id,
    )
    return "0x" + keccak(fill.encode()).hex()


class IntentTracker:
    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.records: dict[str, IntentRecord] = {}
        self._task: asyncio.Task[None] | None = None

    def add(self, plan: IntentPlan, mode: str) -> IntentRecord:
        record = IntentRecord("0x" + secrets.token_hex(16), plan, mode)
        record.mark("planned", record.created)
        self.records[record.id] = record
        if len(self.records) > MAX_RECORDS:
            for old in [r.id for r in self.records.values() if r.final][: len(self.records) - MAX_RECORDS]:
                del self.records[old]
        return record

    def ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _loop(self) -> None:
        while True:
            now = time.time()
            pending = [
                r
                for r in self.records.values()
                if not r.final
                and (r.order_id or r.message_nonce is not None)
                and ("opened" in r.stages or now - r.created < UNSIGNED_WATCH)
            ]
            for record in pending:
                try:
                    await self.refresh(record)
                except Exception as exc:
                    log.debug("refresh %s: %s", record.id, exc)
            await asyncio.sleep(POLL_SECONDS)

    async def _call(self, chain: Chain, to: str, sig: str, types: list[str], args: list[Any], out: str) -> Any:
        raw = await self.ctx.rpc(
            chain.rpc_url, "eth_call", [{"to": to, "data": _call_data(sig, types, args)}, "latest"]
        )
        return decode([out], bytes.fromhex(raw[2:]))[0]

    async def refresh(self, record: IntentRecord) -> None:
        m = self.ctx.manifest
        src, dst = m.chain(record.plan.from_chain["chain_id"]), m.chain(record.plan.to_chain["chain_id"])
        if record.plan.route == "canonical" and record.message_nonce is not None:
            sig, args = "isDelivered(uint256,uint256)", [src.chain_id, record.message_nonce]
            if await self._call(dst, m.address("MetalayerGateway"), sig, ["uint256", "uint256"], args, "bool"):
                now = time.time()
                record.mark("filled", now)
                record.mark("settled", now)
            return
        if record.order_id is None:
            return
        oid = bytes.fromhex(record.order_id[2:])
        if "filled" not in record.stages:
            fill = await self._call(
                dst, m.address("DestinationSettler"), "fillOf(bytes32)", ["bytes32"], [oid], FILL_RECORD
            )
            if int(fill[0], 16):
                record.mark("filled")
        escrow = await self._call(src, m.address("OriginSettler"), "escrowOf(bytes32)", ["bytes32"], [oid], ESCROW)
        status = escrow[2]
        if status in ESCROW_STATUS:
            record.mark("opened")
            if status == 2:  # settled = a proven fill; the fill may have landed since fillOf was read above
                record.mark("filled")
            if status != 1:
                record.mark(ESCROW_STATUS[status])

    # ------------------------------------------------------------ metrics

    def metrics(self) -> dict[str, Any]:
        routes: dict[str, Any] = {}
        for route in ("solver", "canonical"):
            records = [r for r in self.records.values() if r.plan.route == route]
            tracked = [r for r in records if "opened" in r.stages]
            finished = [r for r in tracked if r.final]
            ok = [r for r in finished if r.status == "settled"]
            routes[route] = {
                "intents": len(records),
                "opened": len(tracked),
                "by_status": _count(r.status for r in records),
                "success_rate": round(len(ok) / len(finished), 4) if finished else None,
                "open_to_filled_ms": _percentiles(_latency(tracked, "filled")),
                "open_to_settled_ms": _percentiles(_latency(tracked, "settled")),
            }
        return {"routes": routes, "total": len(self.records)}


def _count(statuses: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in statuses:
        out[s] = out.get(s, 0) + 1
    return out


def _latency(records: list[IntentRecord], stage: str) -> list[float]:
    return [(r.stages[stage] - r.stages["opened"]) * 1000 for r in records if stage in r.stages]


def _percentiles(values: list[float]) -> dict[str, Any]:
    """Nearest-rank p50/p90/p99 in milliseconds (None without samples)."""
    ordered = sorted(values)

    def rank(p: float) -> float | None:
        if not ordered:
            return None
        return round(ordered[min(len(ordered) - 1, max(0, int(-(-p * len(ordered) // 100)) - 1))], 1)

    return {"count": len(ordered), "p50": rank(50), "p90": rank(90), "p99": rank(99)}
