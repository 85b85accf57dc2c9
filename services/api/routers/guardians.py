"""GET /v1/guardians: each guardian's address, health and last signed block per chain."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from fastapi import APIRouter

from services.api.context import Ctx
from services.api.errors import errors
from services.api.schemas import GuardianOut

router = APIRouter(prefix="/v1", tags=["guardians"], responses=errors())


@router.get("/guardians", response_model=list[GuardianOut])
async def guardians(ctx: Ctx) -> Any:
    async def one(g: Any) -> GuardianOut:
        try:
            r = await ctx.http.get(f"{g.url}/health", timeout=1.0)
            doc = r.json()
            return GuardianOut(
                index=g.index,
                address=g.address,
                url=g.url,
                healthy=r.status_code == 200,
                last_signed={k: v.get("last_signed") for k, v in doc.get("chains", {}).items()},
            )
        except (httpx.HTTPError, ValueError, AttributeError) as exc:
            return GuardianOut(
                index=g.index, address=g.address, url=g.url, healthy=False, error=f"{type(exc).__name__}: {exc}"
            )

    return await asyncio.gather(*(one(g) for g in ctx.manifest.guardians.members))
