"""GET /v1/watchtower: stored roots the relayer's watchtower found not to be their source's block.

A flag is `ahead` (the source has no such block) or `forged` (it has one with another hash or state
root); its signers are slashed when evidence exists (docs/PROTOCOL.md, "Forged roots").
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from services.api.context import Ctx
from services.api.errors import errors

router = APIRouter(prefix="/v1", tags=["watchtower"], responses=errors())


class FlagOut(BaseModel):
    kind: str  # ahead | forged
    registry_chain: str  # name of the chain whose registry stored the root
    chain: str  # name of the attested chain
    chain_id: int
    block: int
    block_hash: str
    state_root: str
    real_hash: str | None  # the source's hash of that block, if it exists
    signers: list[str]
    tx: str | None
    detected_at: float
    delay: float | None  # seconds from the storing block's arrival at the relayer to the flag


class WatchtowerOut(BaseModel):
    status: str  # ok | alert
    flags: list[FlagOut]


@router.get("/watchtower", response_model=WatchtowerOut)
async def watchtower(ctx: Ctx) -> Any:
    flags = [
        FlagOut(
            kind=f["kind"],
            registry_chain=ctx.names.get(f["registry_chain"], str(f["registry_chain"])),
            chain=ctx.names.get(f["chain_id"], str(f["chain_id"])),
            chain_id=f["chain_id"],
            block=f["block"],
            block_hash=f["block_hash"],
            state_root=f["state_root"],
            real_hash=f["real_hash"],
            signers=f["signers"],
            tx=f["tx"],
            detected_at=f["detected_at"],
            delay=round(f["detected_at"] - f["mined_at"], 3) if f["mined_at"] else None,
        )
        for f in ctx.queue.watch_flags()
    ]
    return WatchtowerOut(status="alert" if flags else "ok", flags=flags)
