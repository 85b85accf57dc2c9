"""Messages: list and trace (from the relayer queue), send from a dev account, retry through the relayer."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Path, Query

from services.api.context import Context, Ctx
from services.api.errors import ApiError, errors
from services.api.onchain import find_on_chain
from services.api.reasons import decode_reason
from services.api.schemas import (
    CHAIN_REF,
    MAX_OFFSET,
    MESSAGE_ID_PATTERN,
    MessageList,
    MessageTrace,
    Party,
    RetryResult,
    SendRequest,
    SendResult,
    Status,
)
from services.api.traces import trace_faults, trace_from_row

router = APIRouter(prefix="/v1/messages", tags=["messages"])

MessageId = Annotated[str, Path(description="0x + 64 hex digits (either case)", pattern=MESSAGE_ID_PATTERN)]


def _chain_query(what: str) -> Any:
    return Query(description=f"{what} chain (name or id)", max_length=64, json_schema_extra=CHAIN_REF)


def attempt_log(ctx: Context, mid: str) -> list[dict[str, Any]]:
    """The relayer's record of every delivery attempt, oldest first, reasons decoded."""
    return [{**a, "reason": decode_reason(a.get("reason"))} for a in ctx.queue.attempts(mid)]


@router.get("", response_model=MessageList, responses=errors())
async def list_messages(
    ctx: Ctx,
    chain: Annotated[str | None, _chain_query("source or destination")] = None,
    source: Annotated[str | None, _chain_query("source")] = None,
    destination: Annotated[str | None, _chain_query("destination")] = None,
    status: Annotated[Status | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Any:
    ids = {
        param: ctx.chain_id(value, param) if value is not None else None
        for value, param in ((chain, "chain"), (source, "source"), (destination, "destination"))
    }
    total, rows = ctx.queue.list(
        chain=ids["chain"],
        source=ids["source"],
        destination=ids["destination"],
        status=status,
        limit=limit,
        offset=offset,
    )
    return MessageList(
        total=total,
        limit=limit,
        offset=offset,
        messages=[MessageTrace.model_validate(trace_from_row(r, ctx.names)) for r in rows],
    )


@router.get("/{message_id}", response_model=MessageTrace, responses=errors(404))
async def get_message(ctx: Ctx, message_id: MessageId) -> Any:
    mid = message_id.lower()
    row = ctx.queue.get(mid)
    found = (
        {**trace_from_row(row, ctx.names), "attempt_log": attempt_log(ctx, mid)}
        if row is not None
        else await find_on_chain(ctx, mid)
    )
    if found is None:
        raise ApiError(404, f"unknown message id {mid}: no gateway sent it")
    return trace_faults(found, ctx.manifest.run_dir)


@router.post("", response_model=SendResult, status_code=201, responses=errors(400, 502, 503))
async def send_message(ctx: Ctx, request: SendRequest) -> Any:
    """Send from dev account `account` through the source gateway; answers once the send is mined."""
    # imported here: eth_abi, rlp and eth_keys add ~10 MB to an API that mostly reads
    from services.api import sending
    from services.api.payloads import PayloadError, encode

    src = ctx.chain_id(request.source, "source", "body")
    dst = ctx.chain_id(request.destination, "destination", "body")
    try:
        payload = encode(request.payload)
    except PayloadError as exc:
        raise ApiError(
            422, f"payload: {exc}", [{"loc": ["body", "payload"], "msg": str(exc), "type": "value_error"}]
        ) from None
    sent = await sending.send(ctx, src, dst, request.recipient, request.account, payload)
    return SendResult(
        id=sent.id,
        source=Party(chain_id=src, name=ctx.names.get(src)),
        destination=Party(chain_id=dst, name=ctx.names.get(dst)),
        nonce=sent.nonce,
        sender=sent.sender,
        recipient=sent.recipient,
        payload="0x" + payload.hex(),
        tx=sent.tx,
        block=sent.block,
    )


@router.post("/{message_id}/retry", response_model=RetryResult, responses=errors(404, 409, 502, 503))
async def retry_message(ctx: Ctx, message_id: MessageId) -> Any:
    """Ask the relayer to deliver a failed message again now (it otherwise retries with backoff)."""
    mid = message_id.lower()
    try:
        r = await ctx.http.post(f"{ctx.relayer_url}/v1/messages/{mid}/retry", timeout=5.0)
    except httpx.HTTPError as exc:
        raise ApiError(503, f"the relayer does not answer ({type(exc).__name__})") from None
    doc = _json(r)
    reason = _reason(doc) or r.text[:200]
    if r.status_code == 200 and isinstance(doc, dict) and "status" in doc:
        return RetryResult(id=str(doc.get("id", mid)), status=str(doc["status"]))
    if r.status_code == 405 or (r.status_code == 404 and "no route" in reason.lower()) or doc is None:
        raise ApiError(503, "relayer does not support retry yet")
    if r.status_code in (404, 409):
        raise ApiError(r.status_code, reason or ("unknown message id" if r.status_code == 404 else "cannot retry"))
    raise ApiError(502, f"the relayer answered {r.status_code}: {reason}")


def _json(r: httpx.Response) -> Any:
    try:
        return r.json()
    except ValueError:
        return None


def _reason(doc: Any) -> str:
    if not isinstance(doc, dict):
        return ""
    err = doc.get("error")
    if isinstance(err, dict):
        return str(err.get("message", ""))
    return str(err or doc.get("detail") or doc.get("message") or "")
