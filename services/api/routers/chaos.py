"""Fault injection over HTTP: the faults of this run, and requests for new ones.

    GET  /v1/chaos                 every fault of the run (active, healed, failed), oldest first
    POST /v1/chaos                 {"kind": "pause", "target": "guardian-1", "duration": 5}  -> 202
    POST /v1/chaos/heal            every fault in force ends (within ~0.2 s)                  -> 202

Not in the OpenAPI schema: a schema fuzzer (make test runs schemathesis) would otherwise kill
the services of the devnet it tests. The API cannot signal processes: a request is recorded in `<run>/faults.json` as
"requested" and the devnet process (orchestrator/chaos/warden.py) carries it out within
~0.2 s; poll GET /v1/chaos for its status (active, failed with a reason).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from services.api.context import Ctx
from services.api.errors import errors
from services.common.faults import FaultBook

router = APIRouter(prefix="/v1", tags=["chaos"], responses=errors(), include_in_schema=False)

Kind = Literal["kill", "pause", "resume", "partition", "reorg", "delay", "drop", "duplicate", "equivocate"]


class FaultIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    kind: Kind
    target: str = Field("relayer", max_length=64, description="relayer, guardian-i, api or a chain name")
    duration: float | None = Field(None, gt=0, le=86_400, description="seconds until it ends on its own")
    seconds: float | None = Field(None, ge=0, le=3_600, description="delay: hold per relayer batch")
    depth: int | None = Field(None, ge=1, le=10_000, description="reorg: blocks replaced")
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
    args = {k: v for k in ("seconds", "depth", "chain", "block") if (v := getattr(fault, k)) is not None}
    return asdict(FaultBook(ctx.manifest.run_dir).request(fault.kind, fault.target, fault.duration, **args))


@router.post("/chaos/heal", status_code=202)
async def heal(ctx: Ctx) -> dict[str, str]:
    FaultBook(ctx.manifest.run_dir).ask_heal_all()
    return {"status": "healing"}
