"""Delivery stage: ready messages -> batches -> quorum + proof -> one transaction each.

Per destination a worker groups ready messages by source chain (up to `max_batch`). For a
batch, a quorum of guardian signatures for its attest block and one eth_getProof for all
its commitment slots are fetched in parallel, then `attestAndDeliverBatch` stores the root
and delivers. The batch is marked `submitted` (with its tx hash) before broadcast; the
receipt goes to the settlement stage.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from eth_hash.auto import keccak

from services.common.rpc import hexbytes
from services.protocol.messages import commitment_slot
from services.protocol.proofs import parse_proof
from services.relayer import backoff
from services.relayer.chain import ChainLink
from services.relayer.context import Context
from services.relayer.guardians import NoQuorum
from services.relayer.model import Batch, QueuedMessage
from services.relayer.settlement import Settlement

log = logging.getLogger("relayer")

INFLIGHT_PER_DST = 4  # concurrent batches per destination chain (instant mining)
INFLIGHT_PER_DST_INTERVAL = 16  # with a block time, batches wait for the next block together


def proof_matches(proof: Any, state_root: bytes) -> bool:
    """The proof's root nodes hash to the attested state root and to the account's storage root."""
    if not proof.account_proof or keccak(proof.account_proof[0]) != bytes(state_root):
        return False
    return all(keccak(p[0]) == proof.storage_hash for p in proof.storage_proofs.values() if p)


def gas_for(batch: Batch) -> int:
    return min(15_000_000, 400_000 + sum(250_000 + 64 * len(m.payload) for m in batch.messages))


def make_batches(ready: list[QueuedMessage], max_batch: int) -> list[Batch]:
    """Ready messages (ordered by source, block, nonce) cut into per-source batches."""
    by_src: dict[int, list[QueuedMessage]] = {}
    for m in ready:
        by_src.setdefault(m.src, []).append(m)
    return [
        Batch(src, msgs[0].dst, tuple(msgs[i : i + max_batch]))
        for src, msgs in by_src.items()
        for i in range(0, len(msgs), max_batch)
    ]


class Delivery:
    """The delivery worker of one destination chain."""

    def __init__(self, ctx: Context, dst: int, settlement: Settlement, max_batch: int):
        self.ctx = ctx
        self.dst = dst
        self.link = ctx.links[dst]
        self.settlement = settlement
        self.max_batch = max_batch
        self.wake = asyncio.Event()
        self.inflight: set[str] = set()

    async def run(self) -> None:
        ctx = self.ctx
        limit = INFLIGHT_PER_DST_INTERVAL if ctx.manifest.chain(self.dst).block_time else INFLIGHT_PER_DST
        slots = asyncio.Semaphore(limit)
        while True:
            self.wake.clear()
            try:
                ready = [
                    QueuedMessage.from_row(r)
                    for r in ctx.queue.ready(self.dst, time.time(), self.max_batch * limit, exclude=self.inflight)
                ]
            except Exception:
                log.exception("%s: reading the queue failed", self.link.name)
                await asyncio.sleep(0.5)
                continue
            started = blocked = False
            for batch in make_batches(ready, self.max_batch):
                if slots.locked():
                    blocked = True
                    break
                await slots.acquire()
                self.inflight.update(batch.ids)
                started = True
                asyncio.create_task(self._run_batch(batch, slots))
            if started and not blocked:
                continue
            # Woken by new messages, a finished batch (a free slot) or the next retry time.
            nxt = None if blocked else ctx.queue.next_wakeup(self.dst)
            timeout = None if nxt is None else max(0.005, nxt - time.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout)

    def quorum_wait(self, chain_id: int) -> float:
        """How long guardians may hold a request: until `confirmations` more blocks can exist."""
        conf = self.ctx.manifest.guardians.confirmations
        block_time = self.ctx.manifest.chain(chain_id).block_time or 0.0
        return min(60.0, 2.0 + conf * block_time * 1.5)

    async def _run_batch(self, batch: Batch, slots: asyncio.Semaphore) -> None:
        queue = self.ctx.queue
        try:
            await self.deliver(batch)
        except NoQuorum as exc:
            self.ctx.counters.no_quorum += 1
            delay = backoff.NO_QUORUM.after(batch.max_attempts)
            queue.mark_retry(batch.ids, str(exc), time.time() + delay, count_attempt=True)
            log.warning("waiting for guardians: %s (retry in %.2fs)", exc, delay)
        except Exception as exc:
            log.exception("batch %s->%s failed", batch.src, batch.dst)
            queue.mark_retry(
                batch.ids,
                f"{type(exc).__name__}: {exc}",
                time.time() + backoff.BATCH_ERROR.after(batch.max_attempts),
                count_attempt=True,
            )
        finally:
            self.inflight.difference_update(batch.ids)
            slots.release()
            self.wake.set()

    async def deliver(self, batch: Batch) -> None:
        """Attest, prove and submit one batch, then settle it from the receipt."""
        ctx = self.ctx
        src_link = ctx.links[batch.src]
        gset = ctx.sets[self.dst]
        if batch.retried:
            batch = await self.settlement.drop_delivered(batch)
            if not batch.messages:
                return
        block = batch.attest_block
        slots = [commitment_slot(hexbytes(m.id)) for m in batch.messages]
        quorum_task = asyncio.ensure_future(
            ctx.guardians.quorum(batch.src, block, gset.members, gset.threshold, wait=self.quorum_wait(batch.src))
        )
        proof_task = asyncio.ensure_future(
            src_link.rpc.call("eth_getProof", [ctx.gateway, ["0x" + s.hex() for s in slots], hex(block)])
        )
        try:
            quorum = await quorum_task
        except BaseException:
            proof_task.cancel()
            raise
        attested_at = time.time()
        proof = parse_proof(await proof_task, block)
        if not proof_matches(proof, quorum.attestation.state_root):
            proof = await self.consistent_proof(src_link, slots, block, quorum.attestation.state_root)
        proved_at = time.time()
        sigs = quorum.for_set(gset.members, gset.threshold)
        assert sigs is not None
        data = ctx.gw_abi.encode(
            "attestAndDeliverBatch",
            quorum.attestation.as_tuple(),
            sigs,
            proof.account_proof,
            [m.gateway_tuple() for m in batch.messages],
            [proof.storage_proof(s) for s in slots],
        )
        ids = batch.ids

        def durable(tx_hash: str) -> None:
            ctx.queue.mark_submitted(ids, tx_hash, block, attested_at, proved_at, time.time())

        tx_hash = await self.link.send(ctx.gateway, data, gas_for(batch), before_broadcast=durable)
        ctx.counters.batches += 1
        receipt = await self.link.receipt(tx_hash)
        if receipt is None:
            raise TimeoutError(f"no receipt for {tx_hash} on {self.link.name}")
        await self.settlement.settle(batch, receipt)

    async def consistent_proof(self, link: ChainLink, slots: list[bytes], block: int, state_root: bytes) -> Any:
        """Fetch eth_getProof again until it matches the attested root.

        Measured: anvil answers eth_getProof for a block that was just mined, while further
        blocks are being mined, with nodes of another state about 5% of the time (1% when
        asked by block hash). Delivering such a proof only wastes a reverted transaction
        (InvalidAccountProof(INVALID_ROOT)), so it is checked here first.
        """
        for attempt in range(20):
            await asyncio.sleep(0.002 * (attempt + 1))
            proof = parse_proof(
                await link.rpc.call("eth_getProof", [self.ctx.gateway, ["0x" + s.hex() for s in slots], hex(block)]),
                block,
            )
            if proof_matches(proof, state_root):
                return proof
        raise RuntimeError(f"{link.name}: eth_getProof at block {block} keeps disagreeing with the attested root")
