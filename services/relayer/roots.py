"""Root posting stage (optional): every interval, each chain's newest root to the others.

Skipped for a chain when nothing but the relayer's own transactions happened there since
the last post, so posting roots never feeds itself.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from services.common.chain import ChainLink
from services.relayer.context import Context

log = logging.getLogger("relayer")

LOOKBACK = 64  # newest blocks inspected for a foreign transaction
ROOT_TX_GAS = 500_000  # submitAttestation: a few signature checks and one stored root


async def post_root(ctx: Context, src: int, block: int, dst: int, wait: float | None = None) -> Any:
    """Attest `src`'s block on `dst`'s registry (`submitAttestation`) with a guardian quorum; the
    receipt, or None when none came (raises NoQuorum while the guardians cannot sign it)."""
    gset = ctx.sets[dst]
    quorum = await ctx.guardians.quorum(src, block, gset.members, gset.threshold, wait=wait)
    sigs = quorum.for_set(gset.members, gset.threshold)
    data = ctx.reg_abi.encode("submitAttestation", quorum.attestation.as_tuple(), sigs)
    link = ctx.links[dst]
    return await link.receipt(await link.send(ctx.registry, data, ROOT_TX_GAS))


class RootPoster:
    def __init__(self, ctx: Context, interval: float):
        self.ctx = ctx
        self.interval = interval
        self.last_posted: dict[tuple[int, int], int] = {}

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            for src, link in self.ctx.links.items():
                try:
                    await self.post(src, link)
                except Exception as exc:
                    log.warning("root posting for %s: %s", link.name, exc)

    async def has_foreign_activity(self, link: ChainLink, head: int, last: int) -> bool:
        for n in range(head, max(last, head - LOOKBACK), -1):
            blk = await link.rpc.call("eth_getBlockByNumber", [hex(n), False])
            if blk and any(h not in link.own_tx_set for h in blk["transactions"]):
                return True
        return False

    async def post(self, src: int, link: ChainLink) -> None:
        ctx = self.ctx
        head = link.head
        last = min((self.last_posted.get((src, d), -1) for d in ctx.links if d != src), default=-1)
        if head <= last or not await self.has_foreign_activity(link, head, last):
            return
        for dst in ctx.links:
            if dst == src or self.last_posted.get((src, dst), -1) >= head:
                continue
            await post_root(ctx, src, head, dst)
            self.last_posted[(src, dst)] = head
            ctx.counters.roots_posted += 1
