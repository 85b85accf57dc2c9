"""The devnet HTTP API (FastAPI on uvicorn), read-only.

    GET /health
    GET /v1/chains                 chains with their live head
    GET /v1/contracts              core and example contract addresses (same on every chain)
    GET /v1/guardians              each guardian: address, health, last signed block per chain
    GET /v1/messages               ?chain=&source=&destination=&status=&limit=&offset=
    GET /v1/messages/{id}          the trace: sent, attested, proved, submitted, delivered, stage timings
    GET /docs, /openapi.json
    GET /                          a small live dashboard (chains, guardians, latest messages)

Messages come from the relayer's SQLite queue (opened read-only); a message the
relayer has not seen yet is looked up in the source gateway's logs.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
from fastapi import Depends, FastAPI, HTTPException, Path as PathParam, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from services.api.traces import STATUSES, trace_from_row
from services.common.manifest import Manifest
from services.relayer.queue import QueueReader

MESSAGE_ID = re.compile(r"^0x[0-9a-fA-F]{64}$")
DASHBOARD = Path(__file__).with_name("dashboard.html")


# ---------------------------------------------------------------- schemas


class ChainOut(BaseModel):
    name: str
    chain_id: int
    role: str
    rpc_url: str
    ws_url: str
    block_time: float | None
    head: int | None = Field(None, description="latest block number, null if the chain does not answer")


class ContractOut(BaseModel):
    name: str
    address: str
    chains: list[int]


class GuardianOut(BaseModel):
    index: int
    address: str
    url: str
    healthy: bool
    last_signed: dict[str, int | None] = Field(default_factory=dict, description="chain id -> last signed block")
    error: str | None = None


class Party(BaseModel):
    chain_id: int
    name: str | None


class Sent(BaseModel):
    block: int
    block_hash: str | None = None
    tx: str | None = None
    block_time: float | None = None
    mined_at: float | None = None
    seen_at: float | None = None


class Attested(BaseModel):
    block: int | None
    at: float | None


class Submitted(BaseModel):
    tx: str | None
    at: float | None


class Delivered(BaseModel):
    tx: str | None
    block: int | None
    at: float | None
    gas_used_by_batch: int | None = None
    batch_size: int | None = None


class Stages(BaseModel):
    detect_ms: float | None = Field(None, description="send mined (its block reached the relayer) -> message read from the logs")
    attest_ms: float | None = Field(None, description="seen -> guardian quorum collected")
    prove_ms: float | None = Field(None, description="quorum -> eth_getProof fetched")
    submit_ms: float | None = Field(None, description="proof -> delivery transaction broadcast")
    confirm_ms: float | None = Field(None, description="broadcast -> receipt")
    total_ms: float | None = Field(None, description="send mined -> delivery receipt")


class MessageTrace(BaseModel):
    id: str
    status: str
    source: Party
    destination: Party
    nonce: int
    sender: str
    recipient: str
    payload: str
    sent: Sent
    attested: Attested | None = None
    proved_at: float | None = None
    submitted: Submitted | None = None
    delivered: Delivered | None = None
    attempts: int = 0
    last_error: str | None = None
    revert_reason: str | None = None
    stages: Stages


class MessageList(BaseModel):
    total: int
    limit: int
    offset: int
    messages: list[MessageTrace]


class Health(BaseModel):
    status: str
    chains: dict[str, bool]
    relayer_queue: bool
    uptime: float


# ---------------------------------------------------------------- dependencies


class Context:
    def __init__(self, manifest: Manifest, queue_path: Path):
        self.manifest = manifest
        self.queue_path = queue_path
        self.started = time.time()
        self.http = httpx.AsyncClient(timeout=2.0, trust_env=False)
        self.names = {c.chain_id: c.name for c in manifest.chains}

    async def rpc(self, url: str, method: str, params: list[Any]) -> Any:
        r = await self.http.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        doc = r.json()
        if "error" in doc:
            raise RuntimeError(doc["error"].get("message"))
        return doc["result"]


def get_context(request: Request) -> Context:
    return request.app.state.context


Ctx = Annotated[Context, Depends(get_context)]


def resolve_chain(ctx: Context, value: str | None, param: str) -> int | None:
    if value is None:
        return None
    try:
        return ctx.manifest.chain(value).chain_id
    except KeyError:
        known = ", ".join(f"{c.name} ({c.chain_id})" for c in ctx.manifest.chains)
        raise HTTPException(422, f"{param}: unknown chain {value!r} (known: {known})") from None


# ---------------------------------------------------------------- app


def create_app(manifest: Manifest, queue_path: Path) -> FastAPI:
    app = FastAPI(
        title="Metalayer Devnet API",
        version="1",
        description="Chains, contracts, guardians and cross-chain messages of a local Metalayer devnet.",
    )
    app.state.context = Context(manifest, queue_path)

    @app.get("/health", response_model=Health, tags=["meta"])
    async def health(ctx: Ctx) -> Any:
        heads = await _heads(ctx)
        return Health(status="ok", chains={c.name: heads.get(c.chain_id) is not None for c in ctx.manifest.chains},
                      relayer_queue=ctx.queue_path.exists(), uptime=round(time.time() - ctx.started, 3))

    @app.get("/v1/chains", response_model=list[ChainOut], tags=["chains"])
    async def chains(ctx: Ctx) -> Any:
        heads = await _heads(ctx)
        return [ChainOut(name=c.name, chain_id=c.chain_id, role=c.role, rpc_url=c.rpc_url, ws_url=c.ws_url,
                         block_time=c.block_time, head=heads.get(c.chain_id)) for c in ctx.manifest.chains]

    @app.get("/v1/contracts", response_model=list[ContractOut], tags=["chains"])
    async def contracts(ctx: Ctx) -> Any:
        all_ids = [c.chain_id for c in ctx.manifest.chains]
        hub = [ctx.manifest.hub.chain_id]
        return [ContractOut(name=n, address=c.address, chains=hub if n == "GuardianStaking" else all_ids)
                for n, c in ctx.manifest.contracts.items()]

    @app.get("/v1/guardians", response_model=list[GuardianOut], tags=["guardians"])
    async def guardians(ctx: Ctx) -> Any:
        async def one(g: Any) -> GuardianOut:
            try:
                r = await ctx.http.get(f"{g.url}/health", timeout=1.0)
                doc = r.json()
                return GuardianOut(index=g.index, address=g.address, url=g.url, healthy=r.status_code == 200,
                                   last_signed={k: v.get("last_signed") for k, v in doc.get("chains", {}).items()})
            except (httpx.HTTPError, ValueError) as exc:
                return GuardianOut(index=g.index, address=g.address, url=g.url, healthy=False,
                                   error=f"{type(exc).__name__}: {exc}")

        return await asyncio.gather(*(one(g) for g in ctx.manifest.guardians.members))

    @app.get("/v1/messages", response_model=MessageList, tags=["messages"])
    async def messages(
        ctx: Ctx,
        chain: Annotated[str | None, Query(description="source or destination chain (name or id)")] = None,
        source: Annotated[str | None, Query(description="source chain (name or id)")] = None,
        destination: Annotated[str | None, Query(description="destination chain (name or id)")] = None,
        status: Annotated[Literal["pending", "submitted", "delivered", "failed", "invalid"] | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> Any:
        ids = {param: resolve_chain(ctx, value, param)
               for value, param in ((chain, "chain"), (source, "source"), (destination, "destination"))}
        total, rows = QueueReader(ctx.queue_path).list(chain=ids["chain"], source=ids["source"],
                                                       destination=ids["destination"], status=status,
                                                       limit=limit, offset=offset)
        return MessageList(total=total, limit=limit, offset=offset,
                           messages=[trace_from_row(r, ctx.names) for r in rows])

    @app.get("/v1/messages/{message_id}", response_model=MessageTrace, tags=["messages"],
             responses={404: {"description": "unknown message id"}, 422: {"description": "malformed message id"}})
    async def message(
        ctx: Ctx,
        message_id: Annotated[str, PathParam(description="0x + 64 hex digits", pattern=MESSAGE_ID.pattern)],
    ) -> Any:
        mid = message_id.lower()
        row = QueueReader(ctx.queue_path).get(mid)
        if row is not None:
            return trace_from_row(row, ctx.names)
        found = await _find_on_chain(ctx, mid)
        if found is None:
            raise HTTPException(404, f"unknown message id {mid}: no gateway sent it")
        return found

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def dashboard() -> Any:
        return HTMLResponse(DASHBOARD.read_text())

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    return app


async def _heads(ctx: Context) -> dict[int, int | None]:
    async def head(c: Any) -> tuple[int, int | None]:
        try:
            return c.chain_id, int(await ctx.rpc(c.rpc_url, "eth_blockNumber", []), 16)
        except Exception:  # noqa: BLE001
            return c.chain_id, None

    return dict(await asyncio.gather(*(head(c) for c in ctx.manifest.chains)))


async def _find_on_chain(ctx: Context, mid: str) -> dict[str, Any] | None:
    """A message the relayer has not recorded yet: its MessageSent/MessageCommitted logs on some chain."""
    from services.common.abi import Abi
    from services.protocol.messages import Message

    try:
        gateway = ctx.manifest.address("MetalayerGateway")
        abi = Abi(ctx.manifest.abi("MetalayerGateway"))
    except (KeyError, FileNotFoundError):
        return None
    topics = [[abi.topic("MessageSent"), abi.topic("MessageCommitted")], mid]
    for c in ctx.manifest.chains:
        try:
            logs = await ctx.rpc(c.rpc_url, "eth_getLogs", [{"address": gateway, "topics": topics,
                                                            "fromBlock": "0x0", "toBlock": "latest"}])
        except Exception:  # noqa: BLE001
            continue
        decoded = {}
        for lg in logs:
            d = abi.decode_log(lg)
            if d:
                decoded[d[0]] = (d[1], lg)
        if "MessageSent" in decoded and "MessageCommitted" in decoded:
            (sent, lg), (committed, _) = decoded["MessageSent"], decoded["MessageCommitted"]
            msg = Message.from_events(sent, committed)
            return trace_from_row({
                "id": mid, "status": "pending", "src": c.chain_id, "dst": msg.destination_chain_id,
                "nonce": msg.nonce, "sender": msg.sender, "recipient": msg.recipient, "payload": msg.payload,
                "sent_block": int(lg["blockNumber"], 16), "sent_block_hash": lg["blockHash"],
                "sent_tx": lg["transactionHash"], "last_error": "not yet picked up by the relayer",
            }, ctx.names)
    return None


__all__ = ["create_app", "STATUSES"]
