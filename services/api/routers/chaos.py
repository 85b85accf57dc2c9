"""Fault injection over HTTP: the faults of this run, and requests for new ones.

    GET  /v1/chaos                 every fault of the run (active, healed, failed), oldest first
    POST /v1/chaos                 {"kind": "pause", "target": "guardian-1", "duration": 5}  -> 202
                                   (422 with the reason for a target the devnet does not have;
                                   reorg: depth 1..min(height, MAX_REORG_DEPTH = 64), else 422)
    POST /v1/chaos/heal            every fault in force ends (within ~0.2 s)                  -> 202

Not in the OpenAPI schema: a schema fuzzer (make test runs schemathesis) would otherwise kill
the services of the devnet it tests. The API cannot signal processes: a request is recorded in `<run>/faults.json` as
"requested" and the devnet process (orchestrator/chaos/warden.py) carries it out within
~0.2 s; poll GET /v1/chaos for its status (active, failed with a reason).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any, Literal

import httpx
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from services.api.context import Context, Ctx, RpcFailure
from services.api.errors import ApiError, errors
from services.common.faults import MAX_REORG_DEPTH, RELAYER_KINDS, FaultBook
from services.common.manifest import Manifest

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


def refusal(fault: FaultIn, manifest: Manifest) -> str | None:
    """Why the devnet could not apply `fault`, as far as the API can tell (what the warden would
    find later): said at once as a 422, instead of a 202 whose fault then fails."""
    if fault.kind in RELAYER_KINDS:
        return None if fault.target == "relayer" else f"{fault.kind} applies to the relayer, not {fault.target!r}"
    if fault.kind == "reorg":
        return None if manifest.has_chain(fault.target) else f"unknown chain {fault.target!r}"
    if fault.kind == "equivocate":
        guardians = [f"guardian-{i}" for i in range(len(manifest.guardians.members))]
        if fault.chain is None or fault.block is None:
            return "equivocate needs chain and block"
        if fault.target not in guardians:
            return f"unknown guardian {fault.target!r} (guardian-0..{len(guardians) - 1})"
        return None if manifest.has_chain(fault.chain) else f"unknown chain {fault.chain!r}"
    processes = supervised(manifest.run_dir)
    if processes is not None and fault.target not in processes:
        return f"unknown process {fault.target!r} (supervised: {', '.join(sorted(processes)) or 'none'})"
    return None


def supervised(run_dir: Path) -> set[str] | None:
    """The process names the supervisors recorded (`<run>/pids.json`), None when there is no such
    file (Docker mode: the warden says what it can do)."""
    try:
        doc = json.loads((run_dir / "pids.json").read_text())
    except (OSError, ValueError):
        return None
    return set(doc) if isinstance(doc, dict) else None


@router.post("/chaos", response_model=FaultOut, status_code=202)
async def request_fault(fault: FaultIn, ctx: Ctx) -> Any:
    problem = refusal(fault, ctx.manifest)
    if problem is not None:
        raise ApiError(422, problem)
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
