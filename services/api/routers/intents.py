"""Intents (docs/INTENTS.md): plan, send or hand back unsigned, follow, measure.

    POST /v1/intents        {from_chain, to_chain, token, amount, recipient, account? | sender?, gasless?,
                             deadline?, route?}: plan (route and why), quote, id; with `account` the
                             devnet signs and sends (open, or openFor when gasless), else the answer
                             carries the unsigned transactions and the EIP-712 typed data
    GET  /v1/intents/{id}   planned -> opened -> filled -> settled (or refunded), timing per stage
    GET  /v1/metrics        intents per route, success rate, latency percentiles

Every input mistake is a 422 with the one error body, answered before anything is sent.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

import httpx
from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, BeforeValidator, Field

from services.api.context import Context, Ctx
from services.api.errors import ApiError, errors
from services.api.intents_send import send_intent
from services.api.intents_track import IntentTracker, gasless_order_id
from services.api.schemas import ACCOUNT_REF, CHAIN_REF, Int, _Strict, not_bool
from services.solver.planner import MAX_DEADLINE, IntentError, IntentPlan, IntentRequest, plan_intent
from services.solver.validation import parse_amount

router = APIRouter(tags=["intents"])

MAX_AMOUNT = 10**12  # token units; far above any devnet balance, keeps every number bounded
INTENT_ID = r"^0x[0-9a-fA-F]{32}$"


class IntentBody(_Strict):
    from_chain: str = Field(max_length=64, json_schema_extra=CHAIN_REF, description="origin chain, name or id")
    to_chain: str = Field(max_length=64, json_schema_extra=CHAIN_REF, description="destination chain, name or id")
    token: str = Field("USDC", max_length=64, description='"USDC" or its address')
    amount: Annotated[str | int, BeforeValidator(not_bool)] = Field(
        description='token units, e.g. "100" or "0.5" (6 decimals at most)'
    )
    recipient: str = Field(max_length=64, description="who receives it on to_chain (0x + 40 hex)")
    account: Int | None = Field(
        None, ge=0, json_schema_extra=ACCOUNT_REF, description="dev account index: the devnet signs and sends"
    )
    sender: str | None = Field(
        None, max_length=64, description="without account: the paying address (balance check, typed data)"
    )
    gasless: bool = Field(False, description="with account, solver route: sign the order, the devnet sends openFor")
    deadline: int | None = Field(None, ge=1, le=MAX_DEADLINE, description="fill deadline, unix seconds")
    route: Literal["solver", "canonical"] | None = Field(None, description="force a route (default: the planner's)")


class IntentAnswer(BaseModel):
    id: str
    status: str
    mode: str
    route: str
    reason: str
    quote: dict[str, Any]
    order_id: str | None = None
    transactions: list[dict[str, Any]] = Field(default_factory=list, description="unsigned, in order (no account)")
    typed_data: dict[str, Any] | None = None
    sent: list[str] = Field(default_factory=list, description="hashes of the transactions the devnet sent")
    plan: dict[str, Any]


def tracker(request: Request, ctx: Context) -> IntentTracker:
    found = getattr(request.app.state, "intent_tracker", None)
    if found is None:
        found = request.app.state.intent_tracker = IntentTracker(ctx)
    return found


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(422, message, [{"loc": ["body", field], "msg": message, "type": "value_error"}])


def _request(ctx: Context, body: IntentBody) -> IntentRequest:
    try:
        if parse_amount(body.amount) > MAX_AMOUNT * 10**6:
            raise IntentError("amount", f"amount must be at most {MAX_AMOUNT} tokens, got {body.amount}")
    except IntentError as exc:
        raise _invalid(exc.field, str(exc)) from None
    if ctx.manifest.intents is None:
        raise ApiError(503, "intents are not deployed on this devnet (no USDC in the manifest)")
    sender = body.sender
    if body.account is not None:
        if body.account >= len(ctx.manifest.accounts):
            n = len(ctx.manifest.accounts)
            raise _invalid("account", f"account {body.account}: the devnet has {n} dev accounts (0..{n - 1})")
        if body.sender is not None:
            raise _invalid("sender", "give either account (the devnet sends) or sender (your wallet sends), not both")
        sender = ctx.manifest.accounts[body.account].address
    elif body.gasless:
        raise _invalid("gasless", "gasless needs account: the devnet signs with that dev key")
    return IntentRequest(
        body.from_chain, body.to_chain, body.token, str(body.amount), body.recipient, sender, body.deadline, body.route
    )


async def _plan(ctx: Context, req: IntentRequest) -> IntentPlan:
    try:
        return await asyncio.to_thread(plan_intent, ctx.manifest, req)
    except IntentError as exc:
        raise _invalid(exc.field, str(exc)) from None
    except (httpx.HTTPError, RuntimeError, ValueError) as exc:
        raise ApiError(503, f"a chain did not answer while planning: {exc}") from None


@router.post("/v1/intents", response_model=IntentAnswer, responses=errors(400, 502, 503))
async def create_intent(body: IntentBody, request: Request, ctx: Ctx) -> Any:
    req = _request(ctx, body)
    t = tracker(request, ctx)
    async with ctx.account_turn(body.account):  # planned and sent before the account's next intent
        plan = await _plan(ctx, req)
        if body.gasless and plan.route != "solver":
            raise _invalid("gasless", f"gasless orders go through a solver; the plan chose {plan.route}: {plan.reason}")
        record = t.add(plan, "sent" if body.account is not None else "unsigned")
        if body.account is not None:
            try:
                await send_intent(ctx, record, body.account, body.gasless)
            except ApiError as exc:
                record.error = exc.message
                record.mark("failed")
                raise
        elif plan.route == "solver" and plan.typed_data is not None:
            record.order_id = gasless_order_id(plan)  # known before signing: tracked once someone opens it
    t.ensure_running()
    return IntentAnswer(
        id=record.id,
        status=record.status,
        mode=record.mode,
        route=plan.route,
        reason=plan.reason,
        quote=plan.quote,
        order_id=record.order_id,
        transactions=plan.transactions if body.account is None else [],
        typed_data=plan.typed_data if body.account is None else None,
        sent=record.transactions,
        plan=plan.to_json(),
    )


@router.get("/v1/intents/{intent_id}", responses=errors(404))
async def get_intent(
    intent_id: Annotated[str, Path(pattern=INTENT_ID, description="the id POST /v1/intents answered")],
    request: Request,
    ctx: Ctx,
) -> Any:
    record = tracker(request, ctx).records.get(intent_id.lower())
    if record is None:
        raise ApiError(404, f"unknown intent id {intent_id} (ids live as long as the API process)")
    return record.to_json()


@router.get("/v1/metrics", responses=errors())
async def metrics(request: Request, ctx: Ctx) -> Any:
    return {"intents": tracker(request, ctx).metrics()}
