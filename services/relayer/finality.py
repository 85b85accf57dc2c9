"""Finalized messages: the depth the destination gateway demands before it delivers one.

The gateway delivers a `finality(1)` message proven at source block P only while its registry
holds a root of the source at least `confirmations` blocks newer (P + confirmations). The rule
this relayer follows: prove the batch at its usual block P (the newest sent block of the batch),
and before the delivery make sure the destination's registry has a root >= P + confirmations,
submitting the attestation of block P + confirmations (`submitAttestation`, its own
transaction) when it has not. Guardians sign that block once it is `confirmations` deep itself,
so a finalized message waits until its block is about 2 x confirmations deep on the source; until
the quorum exists the batch goes back to the queue (NoQuorum, retried with backoff).
"""

from __future__ import annotations

import logging

from services.common.rpc import hexint
from services.relayer.context import Context
from services.relayer.model import Batch
from services.relayer.roots import post_root

log = logging.getLogger("relayer")


async def confirmations(ctx: Context, dst: int) -> int:
    """The destination gateway's `confirmations` (read from the chain: the owner may change it)."""
    raw = await ctx.links[dst].call(ctx.gateway, ctx.gw_abi.encode("confirmations"))
    return int(ctx.gw_abi.decode_output("confirmations", raw)[0])


async def latest_root_block(ctx: Context, dst: int, src: int) -> int:
    """The newest block of `src` whose root the registry on `dst` holds."""
    raw = await ctx.links[dst].call(ctx.registry, ctx.reg_abi.encode("latestRoot", src))
    return int(ctx.reg_abi.decode_output("latestRoot", raw)[0])


async def ensure_depth(ctx: Context, batch: Batch, block: int, wait: float) -> None:
    """For a batch with a finalized message proven at `block`: make the destination's registry hold
    a root at least `confirmations` blocks newer (raises NoQuorum while guardians cannot sign it)."""
    if not batch.finalized:
        return
    conf = await confirmations(ctx, batch.dst)
    witness = block + conf
    if conf == 0 or await latest_root_block(ctx, batch.dst, batch.src) >= witness:
        return
    receipt = await post_root(ctx, batch.src, witness, batch.dst, wait=wait)
    link = ctx.links[batch.dst]
    if receipt is None or hexint(receipt["status"]) != 1:
        raise RuntimeError(f"attesting chain {batch.src} block {witness} on {link.name} failed")
    ctx.counters.roots_posted += 1
    log.info("%s: root of chain %d block %d posted for finalized delivery at %d", link.name, batch.src, witness, block)
