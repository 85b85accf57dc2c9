"""The devnet HTTP API (FastAPI on uvicorn).

    GET  /health
    GET  /v1/chains                    chains with their live head
    GET  /v1/contracts                 addresses, ABIs and absolute artifact paths
    GET  /v1/guardians                 each guardian: address, health, last signed block per chain
    GET  /v1/messages                  ?chain=&source=&destination=&status=&limit=&offset=
    POST /v1/messages                  send from a dev account (hex, text or an ABI-encoded call)
    GET  /v1/messages/{id}             the trace: sent, attested, proved, submitted, delivered, attempts
    POST /v1/messages/{id}/retry       ask the relayer to deliver a failed message now
    GET  /v1/events                    Server-Sent Events: message status changes
    GET  /v1/roles[/{account}]         roles per chain; POST /v1/roles/{account}/grant|revoke
    *    /v1/governance/...            proposals, votes, execution; POST /v1/time/advance
    POST /v1/intents, GET /v1/intents/{id}, GET /v1/metrics   intents (routers/intents.py)
    GET  /docs, /redoc, /openapi.json  Swagger UI and ReDoc served from local files (no CDN)
    GET  /                             the live dashboard
    HEAD on every GET route; on /v1/events the stream's headers only (services/api/head.py)

Messages come from the relayer's queue through `QueueReader`; a message the relayer has not
seen yet is looked up in the source gateway's logs. Every 4xx has one body (services.api.errors).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi_offline import FastAPIOffline

from services.api import errors
from services.api.context import Context
from services.api.head import HeadAsGet
from services.api.routers import chains, chaos, events, governance, guardians, intents, messages, meta, read, watchtower
from services.api.traces import STATUSES
from services.common.manifest import Manifest


def create_app(manifest: Manifest, queue_path: Path) -> FastAPI:
    context = Context(manifest, queue_path)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await context.close()

    app = FastAPIOffline(
        title="Metalayer Devnet API",
        version="1",
        description="Chains, contracts, guardians and cross-chain messages of a local Metalayer devnet.",
        lifespan=lifespan,
    )
    app.state.context = context
    app.add_middleware(HeadAsGet)
    errors.install(app)
    for module in (meta, chains, guardians, messages, events, watchtower, read, governance, intents, chaos):
        app.include_router(module.router)
    app.openapi = lambda: _openapi(app, context)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI, ctx: Context) -> dict[str, Any]:
    """FastAPI's schema, with the values only the running devnet knows filled in."""
    if app.openapi_schema is None:
        doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        _fill(doc, ctx.chain_refs(), max(len(ctx.manifest.accounts) - 1, 0))
        app.openapi_schema = doc
    return app.openapi_schema


def _fill(node: Any, chain_refs: list[str], last_account: int) -> None:
    if isinstance(node, dict):
        kind = node.pop("x-devnet", None)
        if kind == "chain":
            node["enum"] = chain_refs
        elif kind == "account":
            node["maximum"] = last_account
        for value in node.values():
            _fill(value, chain_refs, last_account)
    elif isinstance(node, list):
        for value in node:
            _fill(value, chain_refs, last_account)


__all__ = ["create_app", "STATUSES"]
