"""GET /health and the dashboard at /."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from services.api.context import Ctx
from services.api.errors import errors
from services.api.routers.chains import heads
from services.api.schemas import Health

DASHBOARD = Path(__file__).resolve().parent.parent / "dashboard.html"

router = APIRouter(tags=["meta"], responses=errors())


@router.get("/health", response_model=Health)
async def health(ctx: Ctx) -> Any:
    live = await heads(ctx)
    return Health(
        status="ok",
        chains={c.name: live.get(c.chain_id) is not None for c in ctx.manifest.chains},
        relayer_queue=ctx.queue_path.exists(),
        uptime=round(time.time() - ctx.started, 3),
    )


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def dashboard() -> Any:
    return HTMLResponse(DASHBOARD.read_text())
