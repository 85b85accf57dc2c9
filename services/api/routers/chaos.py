"""Fault injection over HTTP: the faults of this run, and requests for new ones.

    GET  /v1/chaos                 every fault of the run (active, healed, failed), oldest first
    POST /v1/chaos                 {"kind": "pause", "target": "guardian-1", "duration": 5}  -> 202
                                   reorg: target a chain, depth 1..min(height, MAX_REORG_DEPTH = 64), else 422
    POST /v1/chaos/heal            every fault in force ends (within ~0.2 s)                  -> 202

Not in the OpenAPI schema: a schema fuzzer (make test runs schemathesis) would otherwise kill
the services of the devnet it tests. The API cannot signal processes: a request is recorded in `<run>/faults.json` as
"requested" and the devnet process (orchestrator/chaos/warden.py) carries it out within
~0.2 s; poll GET /v1/chaos for its status (active, failed with a reason).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Literal

import httpx
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from services.api.context import Context, Ctx, RpcFailure
from services.api.errors import ApiError, errors
from services.common.faults import MAX_REORG_DEPTH, FaultBook

router = APIRouter(prefix="/v1", tags=["chaos"], responses=errors(), include_in_schema=False)

Kind = Literal["kill", "pause", "resume", "partition", "reorg", "delay", "drop", "duplicate", "equivocate"]


class FaultIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    kind: Kind
    target: str = Field("relayer", max_length=64, description="relayer, guardian-i, api or a chain name")
    duration: float | None = Field(None, gt=0, le=86_400, description="seconds until it ends on its own")
    seconds: float | None = Field(None, ge=0, le=3_600, description="delay: hold per relayer batch")
    depth: int | None = Field(
        None, ge=1, le=MAX_REORG_DEPTH, description="reorg: blocks replaced (<= the chain's height)"
    )
    chain: str | None = Field(None, max_length=64, description="equivocate: the chain")
    block: int | None = Field(None, ge=0, le=2**62, description="equivocate: the block")


class FaultOut(BaseModel):
    id: int
    kind: str
    target: str
    started_at: float
    until: float | None = None
    healed_at: float | None = None
    status: str
    args: dict[str, Any] = {}
    detail: str = ""


@router.get("/chaos", response_model=list[FaultOut])
async def faults(ctx: Ctx) -> Any:
    return [asdict(f) for f in FaultBook(ctx.manifest.run_dir).all()]


@router.post("/chaos", response_model=FaultOut, status_code=202)
async def request_fault(fault: FaultIn, ctx: Ctx) -> Any:
    if fault.kind == "reorg":
        await _check_reorg(ctx, fault.target, fault.depth or 1)
    args = {k: v for k in ("seconds", "depth", "chain", "block") if (v := getattr(fault, k)) is not None}
    return asdict(FaultBook(ctx.manifest.run_dir).request(fault.kind, fault.target, fault.duration, **args))


async def _check_reorg(ctx: Context, target: str, depth: int) -> None:
    """A reorg the warden could not carry out is a 422 now, not a 202 that fails later."""
    chain = ctx.manifest.chain(ctx.chain_id(target, "target", "body"))  # an unknown chain: 422
    try:
        head = int(await ctx.rpc(chain.rpc_url, "eth_blockNumber", []), 16)
    except (RpcFailure, httpx.HTTPError, ValueError, TypeError) as exc:
        raise ApiError(503, f"{chain.name} does not answer: {exc}"[:300]) from None
    if depth > head:
        raise ApiError(
            422,
            f"depth: a reorg of {depth} blocks is deeper than {chain.name}'s height {head}",
            [{"loc": ["body", "depth"], "msg": f"must be at most the chain's height ({head})", "type": "value_error"}],
        )


@router.post("/chaos/heal", status_code=202)
async def heal(ctx: Ctx) -> dict[str, str]:
    FaultBook(ctx.manifest.run_dir).ask_heal_all()
    return {"status": "healing"}
