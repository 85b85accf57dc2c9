"""GET /v1/chains (with live heads) and GET /v1/contracts (addresses, ABIs, artifact paths)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
from fastapi import APIRouter

from services.api.context import Context, Ctx, RpcFailure
from services.api.errors import errors
from services.api.schemas import ChainOut, ContractOut

router = APIRouter(prefix="/v1", tags=["chains"], responses=errors())


async def heads(ctx: Context) -> dict[int, int | None]:
    async def head(c: Any) -> tuple[int, int | None]:
        try:
            return c.chain_id, int(await ctx.rpc(c.rpc_url, "eth_blockNumber", []), 16)
        except (RpcFailure, httpx.HTTPError, ValueError, TypeError):
            return c.chain_id, None

    return dict(await asyncio.gather(*(head(c) for c in ctx.manifest.chains)))


@router.get("/chains", response_model=list[ChainOut])
async def chains(ctx: Ctx) -> Any:
    live = await heads(ctx)
    return [ChainOut(**c.model_dump(exclude={"port"}), head=live.get(c.chain_id)) for c in ctx.manifest.chains]


@router.get("/contracts", response_model=list[ContractOut])
async def contracts(ctx: Ctx) -> Any:
    all_ids = [c.chain_id for c in ctx.manifest.chains]
    hub = [ctx.manifest.hub.chain_id]
    out = []
    for name, c in ctx.manifest.contracts.items():
        artifact = ctx.artifact_path(name)
        abi = json.loads(Path(artifact).read_text()).get("abi", []) if artifact else []
        out.append(
            ContractOut(
                name=name,
                address=c.address,
                chains=hub if name == "GuardianStaking" else all_ids,
                artifact=artifact,
                abi=abi,
            )
        )
    return out
