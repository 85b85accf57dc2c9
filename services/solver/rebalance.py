"""Shared liquidity: refill a chain's inventory from the richest chain over the canonical route.

A chain whose USDC (plus rebalances in flight to it) is under `low_watermark` gets `target - have`
from the chain with the most, as long as that one stays at `target`: `USDC.crosschainTransfer` to
the solver itself (burn there, mint here, proven and delivered by the relayer). Each transfer is
recorded `sending` with its hash before broadcast, `sent` with its gateway nonce, and `arrived` once
the destination gateway reports it delivered, so a restart neither forgets nor repeats one.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Protocol

from services.common.abi import Abi
from services.common.rpc import hexint
from services.protocol import encode_evm
from services.solver.chain import SolverChain
from services.solver.store import Store

log = logging.getLogger("solver")

REBALANCE_GAS = 300_000


class Watermarks(Protocol):
    @property
    def low_watermark(self) -> int: ...

    @property
    def target(self) -> int: ...


class Rebalancer:
    def __init__(
        self,
        chains: dict[int, SolverChain],
        store: Store,
        usdc: str,
        gateway: str,
        settings: Watermarks,
        abis: tuple[Abi, Abi],
    ):
        self.chains = chains
        self.store = store
        self.usdc, self.gateway = usdc, gateway
        self.settings = settings
        self.usdc_abi, self.gw_abi = abis
        self.me = next(iter(chains.values())).signer.address
        self.sent = 0

    async def track(self) -> None:
        for rb in self.store.rebalances(("sent",)):
            raw = await self.chains[rb["dst"]].read(
                self.gateway, self.gw_abi.encode("isDelivered", rb["src"], rb["nonce"])
            )
            if int.from_bytes(raw, "big"):
                self.store.update_rebalance(rb["id"], "arrived")
        for rb in self.store.rebalances(("sending",)):
            receipt = (
                await self.chains[rb["src"]].rpc.call("eth_getTransactionReceipt", [rb["tx"]]) if rb["tx"] else None
            )
            if receipt is not None:
                self._rebalance_sent(rb["id"], receipt)
            elif time.time() - rb["updated_at"] > 30:
                self.store.update_rebalance(rb["id"], "failed")

    async def rebalance(self, balances: dict[int, int], busy: frozenset[int] = frozenset()) -> None:
        """Top up chains under the watermark; not a `busy` one (a fill of it in flight: its balance
        may already show the fill while the fill's reservation is still counted, i.e. twice)."""
        s = self.settings
        inflight: dict[int, int] = dict.fromkeys(self.chains, 0)
        for rb in self.store.rebalances():
            inflight[rb["dst"]] += int(rb["amount"])
        for cid in self.chains:
            if cid in busy:
                continue
            have = balances[cid] + inflight[cid]
            if have >= s.low_watermark:
                continue
            donor = max((d for d in self.chains if d != cid), key=lambda d: balances[d], default=None)
            if donor is None:
                return
            amount = min(s.target - have, balances[donor] - s.target)
            if amount <= 0:
                continue
            await self._send_rebalance(donor, cid, amount)
            balances[donor] -= amount

    async def _send_rebalance(self, src: int, dst: int, amount: int) -> None:
        chain = self.chains[src]
        rid = self.store.add_rebalance(src, dst, amount)
        data = self.usdc_abi.encode("crosschainTransfer", encode_evm(dst, self.me), amount)
        async with chain.spend_lock:
            receipt = await chain.transact(
                self.usdc, data, REBALANCE_GAS, lambda h: self.store.update_rebalance(rid, "sending", tx=h)
            )
        if receipt is not None:
            self._rebalance_sent(rid, receipt)
        self.sent += 1
        log.info("rebalance %d: %d USDC units %s -> %s", rid, amount, chain.name, self.chains[dst].name)

    def _rebalance_sent(self, rid: int, receipt: dict[str, Any]) -> None:
        if hexint(receipt["status"]) != 1:
            self.store.update_rebalance(rid, "failed")
            return
        for lg in receipt["logs"]:
            decoded = self.gw_abi.decode_log(lg) if lg["address"].lower() == self.gateway.lower() else None
            if decoded and decoded[0] == "MessageCommitted":
                self.store.update_rebalance(rid, "sent", nonce=decoded[1]["nonce"])
                return
        self.store.update_rebalance(rid, "failed")
