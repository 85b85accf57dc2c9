"""GET /v1/read: one storage slot of one chain, proven against a guardian-attested root.

    GET /v1/read?chain=rollup-a&address=0xTOKEN&erc20_balance=0xHOLDER[&on=rollup-b]
    GET /v1/read?chain=901&address=0xC&slot=3&mapping=0xKEY[&block=N]

The answer holds the value, the block, its hash and state root, the account and storage
proofs, whether this request attested the root on the reading chain (`on`; newest-state reads
attest on demand), and whether the proofs verified locally and through the reading chain's
`MetalayerGateway.verifyStorage`.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from services.api.context import Ctx
from services.api.errors import ApiError, errors
from services.protocol.reads import ReadError, StateReader, resolve_slot
from services.protocol.slots import LAYOUTS

router = APIRouter(prefix="/v1", tags=["reads"], responses=errors(400, 409))

ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


@router.get("/read")
async def read(ctx: Ctx, chain: str, address: str, slot: str | None = None, mapping: str | None = None,
               erc20_balance: str | None = None, erc20_layout: str = "oz", block: int | None = None,
               on: str | None = None) -> dict[str, Any]:
    if not ADDRESS.fullmatch(address):
        raise ApiError(400, f"address {address!r} is not a 0x address")
    if erc20_balance is not None and not ADDRESS.fullmatch(erc20_balance):
        raise ApiError(400, f"erc20_balance {erc20_balance!r} is not a 0x address")
    if erc20_layout not in LAYOUTS:
        raise ApiError(400, f"erc20_layout {erc20_layout!r}: one of {', '.join(LAYOUTS)}")
    if block is not None and not 0 <= block < 2**63:
        raise ApiError(400, f"block {block} out of range")
    try:
        key = resolve_slot(slot, mapping, erc20_balance, erc20_layout)
        for name in (chain, on):
            if name is not None:
                ctx.manifest.chain(name)
    except (ReadError, KeyError) as exc:
        raise ApiError(400, str(exc.args[0]) if isinstance(exc, KeyError) else str(exc)) from None
    try:
        reader = StateReader(ctx.manifest, on)
        got = await run_in_threadpool(reader.read, chain, address, key, block)
    except ReadError as exc:
        raise ApiError(409, str(exc)) from None
    return got.as_json()
