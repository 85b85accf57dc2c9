"""Cross-chain roles and ERA governance over HTTP (services.governance.client, docs/GOVERNANCE.md).

    GET  /v1/roles                                   role names -> ids, role changes still in flight
    GET  /v1/roles/{account}                         the account's roles on every chain
    POST /v1/roles/{account}/grant | .../revoke      on the hub (bootstrap key, or a dev account)
    POST /v1/governance/delegate                     activate a dev account's ERA votes
    POST /v1/governance/proposals                    propose actions on any chain
    GET  /v1/governance/proposals/{id}               state, votes, quorum, each chain's execution
    POST /v1/governance/proposals/{id}/votes         vote from a dev account
    POST /v1/governance/proposals/{id}/execute       execute a succeeded proposal
    POST /v1/time/advance                            move every chain's clock together

Chain calls are blocking web3 calls: they run in a worker thread; each transaction takes the
devnet's nonce lock of its sender (services/common/nonces.py, shared with POST /v1/messages,
the reads and the CLI), so nonces never collide. Bad input is 422, a proposal that does not exist
404, a transaction the contracts refuse 409 (the message names the contract error), a chain that
does not answer 503. Proposal ids and vote weights are uint256: ids are strings in JSON.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

import requests
from fastapi import APIRouter, Path
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from services.api.context import Context, Ctx
from services.api.errors import ApiError, errors
from services.api.schemas import ACCOUNT_REF, ADDRESS_PATTERN, CHAIN_REF, Int, not_bool
from services.governance import client as gc
from services.governance.args import coerce
from services.governance.roles import ROLE_NAMES
from services.governance.tx import ChainTxError

router = APIRouter(prefix="/v1", tags=["governance"])

T = TypeVar("T")
PROPOSAL_ID_PATTERN = r"^([0-9]{1,78}|0[xX][0-9a-fA-F]{1,64})$"
MAX_ADVANCE_SECONDS = 30 * 86400  # enough for any voting period or lock; bounded so a fuzzer cannot run away
MAX_ADVANCE_BLOCKS = 128  # > the default voting period (50); mining more per request gets slow on a busy host
SECONDS_PER_BLOCK = 12

Account = Annotated[str, Path(description="0x address", pattern=ADDRESS_PATTERN)]
ProposalId = Annotated[str, Path(description="proposal id: decimal or 0x hex (uint256)", pattern=PROPOSAL_ID_PATTERN)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RoleChange(_Strict):
    role: str = Field(max_length=80, examples=["DAPP_OPERATOR"], description="ADMIN, DAPP_OPERATOR, PUBLIC or a number")
    delay: Int = Field(0, ge=0, le=2**32 - 1, description="grant only: AccessManager execution delay (seconds)")
    signer: Annotated[int, Field(ge=0), BeforeValidator(not_bool)] | None = Field(
        None, json_schema_extra=ACCOUNT_REF, description="dev account that sends; null = the bootstrap hub admin"
    )


class ActionIn(_Strict):
    chain: str = Field(max_length=64, json_schema_extra=CHAIN_REF, description="chain name or id")
    contract: str = Field(max_length=80, examples=["MetalayerGateway"], description="manifest name or 0x address")
    signature: str = Field(max_length=1000, examples=["setPaused(bool)"], description="function signature")
    args: list[Any] = Field(default_factory=list, max_length=64, description="typed by the signature (JSON)")


class ProposalIn(_Strict):
    description: str = Field(min_length=1, max_length=4000)
    actions: list[ActionIn] = Field(min_length=1, max_length=32)
    account: Int = Field(0, ge=0, json_schema_extra=ACCOUNT_REF, description="dev account that proposes")


class VoteIn(_Strict):
    support: Literal["for", "against", "abstain"]
    reason: str = Field("", max_length=1000)
    account: Int = Field(0, ge=0, json_schema_extra=ACCOUNT_REF, description="dev account that votes")


class DelegateIn(_Strict):
    account: Int = Field(0, ge=0, json_schema_extra=ACCOUNT_REF, description="dev account whose ERA votes")
    to: str | None = Field(None, pattern=ADDRESS_PATTERN, description="delegatee; null = the account itself")


class ExecuteIn(_Strict):
    account: Int = Field(0, ge=0, json_schema_extra=ACCOUNT_REF, description="dev account that executes")


class AdvanceIn(_Strict):
    seconds: Int = Field(ge=0, le=MAX_ADVANCE_SECONDS, description="added to every chain's clock")
    blocks: Annotated[int, Field(ge=1, le=MAX_ADVANCE_BLOCKS), BeforeValidator(not_bool)] | None = Field(
        None, description=f"default: one per 12 s, 1..{MAX_ADVANCE_BLOCKS}"
    )


class RoleChangeOut(BaseModel):
    role: int
    account: str
    messages: list[str] = Field(description="gateway messages carrying the change to the rollups")


class ProposalCreated(BaseModel):
    id: str = Field(description="decimal uint256")
    id_hex: str


class VoteOut(BaseModel):
    id: str
    support: str
    weight: str = Field(description="votes counted (decimal uint256)")


SUPPORT = {"against": gc.AGAINST, "for": gc.FOR, "abstain": gc.ABSTAIN}


# ---------------------------------------------------------------- plumbing


async def _call(ctx: Context, fn: Callable[[], T]) -> T:
    """Run a blocking governance call; translate its failures into the API's error statuses."""
    try:
        return await asyncio.to_thread(fn)
    except gc.GovernanceError as exc:
        message = str(exc).splitlines()[0] if str(exc) else "refused"
        if message.startswith("no proposal"):
            raise ApiError(404, message) from None
        raise ApiError(409 if isinstance(exc.__context__, ChainTxError) else 422, message) from None
    except ValueError as exc:  # argument coercion, bad addresses
        raise ApiError(422, str(exc).splitlines()[0]) from None
    except (requests.exceptions.RequestException, OSError) as exc:
        raise ApiError(503, f"a chain does not answer: {type(exc).__name__}") from None


def _key(ctx: Context, account: int | None) -> str:
    m = ctx.manifest
    if account is None:
        if m.keys.deployer is None:
            raise ApiError(409, "the manifest has no deployer key")
        return m.keys.deployer.private_key
    if account >= len(m.accounts):
        detail = {"loc": ["body", "account"], "msg": "no such dev account", "type": "value_error"}
        raise ApiError(422, f"account: no dev account {account} (0..{len(m.accounts) - 1})", [detail])
    return m.accounts[account].private_key


def _proposal_id(text: str) -> int:
    value = int(text, 0) if text[:2].lower() == "0x" else int(text)
    if value >= 2**256:
        raise ApiError(422, "proposal id: out of uint256 range")
    return value


def _actions(ctx: Context, proposal: ProposalIn) -> list[gc.Action]:
    actions = []
    for n, a in enumerate(proposal.actions):
        try:
            values = coerce(a.signature, a.args)
        except ValueError as exc:
            detail = {"loc": ["body", "actions", n], "msg": str(exc), "type": "value_error"}
            raise ApiError(422, f"actions[{n}]: {exc}", [detail]) from None
        ctx.chain_id(a.chain, f"actions[{n}].chain", "body")
        actions.append(gc.Action(a.chain, a.contract, a.signature, values))
    return actions


# ---------------------------------------------------------------- roles


@router.get("/roles", responses=errors(503))
async def roles(ctx: Ctx) -> dict[str, Any]:
    """Role names and ids, and the role changes the hub sent that a rollup has not executed yet."""
    pending = await _call(ctx, lambda: gc.pending_role_messages(ctx.manifest))
    return {"roles": dict(ROLE_NAMES), "pending": pending}


@router.get("/roles/{account}", responses=errors(503))
async def account_roles(ctx: Ctx, account: Account) -> dict[str, Any]:
    """`account`'s roles on every chain (role name -> member) and the role changes still in flight."""
    return await _call(ctx, lambda: gc.role_status(ctx.manifest, account))


@router.post("/roles/{account}/grant", response_model=RoleChangeOut, responses=errors(400, 409, 503))
async def grant(ctx: Ctx, account: Account, change: RoleChange) -> Any:
    key = _key(ctx, change.signer)
    fn = lambda: gc.grant_role(ctx.manifest, change.role, account, key, change.delay)  # noqa: E731
    ids = await _call(ctx, fn)
    return RoleChangeOut(role=gc.role_id(change.role), account=account, messages=ids)


@router.post("/roles/{account}/revoke", response_model=RoleChangeOut, responses=errors(400, 409, 503))
async def revoke(ctx: Ctx, account: Account, change: RoleChange) -> Any:
    key = _key(ctx, change.signer)
    ids = await _call(ctx, lambda: gc.revoke_role(ctx.manifest, change.role, account, key))
    return RoleChangeOut(role=gc.role_id(change.role), account=account, messages=ids)


# ---------------------------------------------------------------- proposals


@router.post("/governance/delegate", responses=errors(400, 409, 503))
async def delegate(ctx: Ctx, body: DelegateIn) -> dict[str, Any]:
    """Activate a dev account's ERA voting power on the hub (ERC20Votes delegation)."""
    key = _key(ctx, body.account)
    await _call(ctx, lambda: gc.delegate(ctx.manifest, key, body.to))
    return {"account": ctx.manifest.accounts[body.account].address, "delegated_to": body.to or "self"}


@router.post("/governance/proposals", response_model=ProposalCreated, responses=errors(400, 409, 503))
async def propose(ctx: Ctx, proposal: ProposalIn) -> Any:
    key = _key(ctx, proposal.account)
    actions = _actions(ctx, proposal)
    pid = await _call(ctx, lambda: gc.propose(ctx.manifest, actions, proposal.description, key))
    return ProposalCreated(id=str(pid), id_hex=hex(pid))


@router.get("/governance/proposals/{proposal_id}", responses=errors(404, 503))
async def proposal(ctx: Ctx, proposal_id: ProposalId) -> dict[str, Any]:
    """State, votes (decimal strings), quorum and, per chain, whether its actions ran."""
    pid = _proposal_id(proposal_id)
    status = await _call(ctx, lambda: gc.proposal_status(ctx.manifest, pid))
    return _stringify(status)


@router.post("/governance/proposals/{proposal_id}/votes", response_model=VoteOut, responses=errors(400, 404, 409, 503))
async def vote(ctx: Ctx, proposal_id: ProposalId, ballot: VoteIn) -> Any:
    pid, key = _proposal_id(proposal_id), _key(ctx, ballot.account)
    fn = lambda: gc.vote(ctx.manifest, pid, SUPPORT[ballot.support], key, ballot.reason)  # noqa: E731
    weight = await _call(ctx, fn)
    return VoteOut(id=str(pid), support=ballot.support, weight=str(weight))


@router.post("/governance/proposals/{proposal_id}/execute", responses=errors(400, 404, 409, 503))
async def execute(ctx: Ctx, proposal_id: ProposalId, body: ExecuteIn) -> dict[str, Any]:
    """Execute on the hub; the rollups' actions leave as messages (see each chain's `executed`)."""
    pid, key = _proposal_id(proposal_id), _key(ctx, body.account)
    chains = await _call(ctx, lambda: gc.execute(ctx.manifest, pid, key))
    return {"id": str(pid), "chains": chains}


@router.post("/time/advance", responses=errors(400, 503))
async def advance(ctx: Ctx, body: AdvanceIn) -> dict[str, Any]:
    """Every chain: evm_increaseTime(seconds) and mine `blocks`; returns each chain's new head."""
    blocks = body.blocks or min(MAX_ADVANCE_BLOCKS, max(1, -(-body.seconds // SECONDS_PER_BLOCK)))
    heads = await _call(ctx, lambda: gc.advance_time(ctx.manifest, body.seconds, blocks))
    return {"seconds": body.seconds, "heads": heads}


def _stringify(status: dict[str, Any]) -> dict[str, Any]:
    """uint256 values as decimal strings (JSON numbers lose precision past 2**53 in most clients)."""
    out = dict(status, id=str(status["id"]), votes={k: str(v) for k, v in status["votes"].items()})
    out["quorum"] = None if status["quorum"] is None else str(status["quorum"])
    return out
