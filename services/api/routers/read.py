"""GET /v1/read: one storage slot of one chain, proven against a guardian-attested root.

    GET /v1/read?chain=rollup-a&address=0xTOKEN&erc20_balance=0xHOLDER[&on=rollup-b]
    GET /v1/read?chain=901&address=0xC&slot=3&mapping=0xKEY[&block=N]

Combinations the schema cannot express (`slot` xor `erc20_balance`, `on` != `chain`) answer 422;
a read that cannot be proven now (no quorum, a revert) answers 409; past `[api] reads` (default 32)
reads in progress, 429 with Retry-After (services/api/limits.py). The answer holds the value,
the block, its hash and state root, the account and storage proofs, whether this request attested
the root on the reading chain (`on`; newest-state reads attest on demand), and whether the proofs
verified locally and through the reading chain's `MetalayerGateway.verifyStorage`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from services.api.context import Ctx
from services.api.errors import ApiError, errors
from services.api.schemas import CHAIN_REF
from services.protocol.reads import ReadError, StateReader, resolve_slot
from services.protocol.slots import LAYOUTS

router = APIRouter(prefix="/v1", tags=["reads"], responses=errors(409, 422, 429))

ADDRESS = r"^0x[0-9a-fA-F]{40}$"
WORD = r"^(0x[0-9a-fA-F]{1,64}|[0-9]{1,77})$"  # a slot or key: 0x-hex or decimal, at most 32 bytes
assert set(LAYOUTS) == {"oz", "oz-upgradeable"}


@router.get("/read")
async def read(
    ctx: Ctx,
    chain: Annotated[str, Query(description="chain read (name or id)", json_schema_extra=CHAIN_REF)],
    address: Annotated[str, Query(pattern=ADDRESS, description="contract whose storage is read")],
    slot: Annotated[str | None, Query(pattern=WORD, description="slot; with `mapping`, the mapping's slot")] = None,
    mapping: Annotated[str | None, Query(pattern=WORD, description="key of the mapping at `slot`")] = None,
    erc20_balance: Annotated[str | None, Query(pattern=ADDRESS, description="OZ 5 ERC20 balance of")] = None,
    erc20_layout: Literal["oz", "oz-upgradeable"] = "oz",
    block: Annotated[int | None, Query(ge=0, le=2**63 - 1, description="default: newest signable")] = None,
    on: Annotated[str | None, Query(description="chain that verifies", json_schema_extra=CHAIN_REF)] = None,
) -> dict[str, Any]:
    try:
        key = resolve_slot(slot, mapping, erc20_balance, erc20_layout)
        source = ctx.manifest.chain(chain)
        if on is not None and ctx.manifest.chain(on).chain_id == source.chain_id:
            raise ReadError(f"on={on!r}: the reading chain must differ from the chain read")
    except (ReadError, KeyError) as exc:
        # what JSON Schema cannot say (slot xor erc20_balance; on != chain): 422 like FastAPI's own checks
        raise ApiError(422, str(exc.args[0]) if isinstance(exc, KeyError) else str(exc)) from None
    try:
        reader = StateReader(ctx.manifest, on)
        got = await ctx.reads.run(reader.read, chain, address, key, block)  # 429 past [api] reads
    except ReadError as exc:
        raise ApiError(409, str(exc)) from None
    return got.as_json()
