"""Delivery stage: ready messages -> batches -> simulation, quorum, proof -> one transaction each.

Per destination a worker groups ready messages by source chain (up to `max_batch`; a
quarantined message — one whose own delivery failed before — goes alone). For a batch,
three things run in parallel: a quorum of guardian signatures for its attest block, one
eth_getProof for all its commitment slots, and a simulation of every recipient (gas it
needs, or the reason it would fail). A fresh batch whose recipients all passed goes out at
once, its gas limit from a calibrated model (optimistic.py). Any other batch (a rejected
recipient, a retry — which is what a reverted optimistic batch becomes — a quarantined
message) is simulated as a whole transaction; offenders (found by simulation, or by
bisecting a batch that would revert) are recorded as failed attempts and left out, so the
others go at once, its gas the simulated use plus each recipient's need (at least its
sender's gasLimit). Gas is never a constant, and the batch is cut to fit the destination's
block gas limit. It is marked `submitted` before broadcast; the receipt goes to the
settlement stage.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from services.common.chain import TxLost
from services.common.rpc import hexbytes, hexint
from services.protocol.messages import commitment_slot
from services.relayer import backoff, chaos, finality, optimistic
from services.relayer.context import Context
from services.relayer.guardians import NoQuorum, Quorum
from services.relayer.model import Batch, GuardianSet, QueuedMessage
from services.relayer.proving import ProofMismatch, StateGone, consistent_proof, get_proof, proof_matches
from services.relayer.scheduling import Slots, interleave, is_heavy, make_batches
from services.relayer.settlement import Settlement
from services.relayer.simulation import Simulator, isolate, recipient_gas
from services.relayer.sizing import CalldataGas, fit_block, fit_calldata

log = logging.getLogger("relayer")

INFLIGHT_PER_DST = 4  # concurrent batches per destination chain (instant mining)
INFLIGHT_PER_DST_INTERVAL = 16  # with a block time, batches wait for the next block together
MAX_REWOUND_HEIGHTS = 32  # later heights tried (doubling steps) when the guardians signed a rewound block
BLOCKED_POLL = 0.05  # s between looks at the queue while a source's slots are all taken
# s past its block's time: a message seen that late is checked on chain before its first send (a
# relayer whose queue was lost reads every message it ever delivered again, and sent them all)
SEEN_LATE = 10.0


class Delivery:
    """The delivery worker of one destination chain."""

    def __init__(self, ctx: Context, dst: int, settlement: Settlement, max_batch: int):
        self.ctx = ctx
        self.dst = dst
        self.link = ctx.links[dst]
        self.settlement = settlement
        self.simulator = Simulator(ctx)
        self.max_batch = max_batch
        self.wake = asyncio.Event()
        self.inflight: set[str] = set()
        # One heavy batch in flight per destination (see `turn`): several would take consecutive
        # nonces of the relayer's account, and a message arriving meanwhile would be mined behind
        # all of them (issue 11: unrelated traffic waits at most one batch).
        self.heavy_inflight = False
        # Batches whose transaction is broadcast and not yet settled. A heavy batch waits for
        # these only, not for batches still gathering a quorum or a proof: a source that stopped
        # answering holds its batches there for up to its RPC timeout (30 s), and held every
        # heavy message to this destination (and, while one waited, every light one) as long.
        self.broadcasting = 0

    async def run(self) -> None:
        ctx = self.ctx
        limit = INFLIGHT_PER_DST_INTERVAL if ctx.manifest.chain(self.dst).block_time else INFLIGHT_PER_DST
        slots = Slots(limit)  # per source: a source that stops answering holds only its own
        while True:
            self.wake.clear()
            try:
                rows = ctx.queue.ready(self.dst, time.time(), self.max_batch * limit, exclude=self.inflight)
                ready = [QueuedMessage.from_row(r) for r in rows]
            except Exception:
                log.exception("%s: reading the queue failed", self.link.name)
                await asyncio.sleep(0.5)
                continue
            started = blocked = False
            for batch in self.turn(interleave(make_batches(ready, self.max_batch))):
                if not slots.free(batch.src):
                    blocked = True  # its source's slots are taken; other sources' batches still start
                    continue
                slots.take(batch.src)
                heavy = is_heavy(batch)
                self.inflight.update(batch.ids)
                self.heavy_inflight = self.heavy_inflight or heavy
                started = True
                asyncio.create_task(self._run_batch(batch, slots, heavy))
            held = not started and bool(self.inflight)  # due work waits for batches in flight
            if started and not blocked:
                continue
            # Woken by new messages, a finished batch (a free slot) or the next retry time (a held
            # heavy message, or a batch whose source's slots are taken, is due now: poll gently
            # until a batch in flight is done and wakes us).
            nxt = ctx.queue.next_wakeup(self.dst)
            timeout = None if nxt is None else max(BLOCKED_POLL if held or blocked else 0.005, nxt - time.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout)

    def turn(self, batches: list[Batch]) -> list[Batch]:
        """The batches to start now. Heavy ones go one at a time and only when no transaction of
        ours is in the destination's pool; while one waits for that, no light batch starts (else
        heavy ones could starve); while one is in flight, light ones start (they are mined right
        after it). So no message waits behind more than one heavy batch, and a heavy one waits
        for at most one round."""
        light = [b for b in batches if not is_heavy(b)]
        heavy = [b for b in batches if is_heavy(b)]
        if self.heavy_inflight or not heavy:
            return light
        return heavy[:1] if not self.broadcasting else []

    def quorum_wait(self, chain_id: int) -> float:
        """How long guardians may hold a request: until `confirmations` more blocks can exist."""
        conf = self.ctx.manifest.guardians.confirmations
        block_time = self.ctx.manifest.chain(chain_id).block_time or 0.0
        return min(60.0, 2.0 + conf * block_time * 1.5)

    async def attest_block(self, batch: Batch) -> int:
        """The batch's newest block, unless the watchtower flagged a root stored for it: then the
        newest signable later block (it proves the same commitments). With distrusted guardians,
        the block is read from the source so their signatures of it can count."""
        ctx = self.ctx
        block = batch.attest_block
        if (batch.src, block) in ctx.suspect_blocks:
            link = ctx.links[batch.src]
            later = range(link.head - ctx.manifest.guardians.confirmations, block, -1)
            block = next((b for b in later if (batch.src, b) not in ctx.suspect_blocks), -1)
            if block < 0:
                raise NoQuorum(
                    f"a forged root is stored for chain {batch.src} block {batch.attest_block}: "
                    "waiting for a later block to attest"
                )
        if ctx.guardians.distrusted:
            header = await ctx.links[batch.src].rpc.call("eth_getBlockByNumber", [hex(block), False])
            if header is not None:
                ctx.guardians.vouch(batch.src, block, hexbytes(header["hash"]), hexbytes(header["stateRoot"]))
        return block

    async def _run_batch(self, batch: Batch, slots: Slots, heavy: bool = False) -> None:
        queue = self.ctx.queue
        try:
            await self.deliver(batch)
        except NoQuorum as exc:
            self.ctx.counters.no_quorum += 1
            delay = backoff.NO_QUORUM.after(batch.max_attempts)
            now = time.time()
            queue.mark_retry(batch.ids, str(exc), now + delay, count_attempt=True, outcome="no_quorum", at=now)
            log.warning("waiting for guardians: %s (retry in %.2fs)", exc, delay)
        except Exception as exc:
            log.exception("batch %s->%s failed", batch.src, batch.dst)
            now = time.time()
            queue.mark_retry(
                batch.ids,
                f"{type(exc).__name__}: {exc}",
                now + backoff.BATCH_ERROR.after(batch.max_attempts),
                count_attempt=True,
                outcome="error",
                at=now,
            )
        finally:
            self.inflight.difference_update(batch.ids)
            if heavy:
                self.heavy_inflight = False
            slots.release(batch.src)
            self.wake.set()

    async def deliver(self, batch: Batch) -> None:
        """Simulate, attest, prove and submit one batch, then settle it from the receipt."""
        ctx = self.ctx
        started_at = time.time()
        if batch.retried or batch.seen_late(SEEN_LATE):
            batch = await self.settlement.drop_delivered(batch)
            if not batch.messages:
                return
        await chaos.before_batch(ctx.manifest.run_dir)
        gset = ctx.sets[self.dst]
        block = await self.attest_block(batch)
        await finality.ensure_depth(ctx, batch, block, self.quorum_wait(batch.src))
        slots = {m.id: commitment_slot(hexbytes(m.id)) for m in batch.messages}
        # the proof first: its answer (the source's eth_getProof) is the slowest of the three
        prefetched = ctx.prefetch.take(batch.src, block, list(slots.values()))
        proof_task = prefetched or asyncio.ensure_future(
            get_proof(ctx.links[batch.src], ctx.gateway, list(slots.values()), block)
        )
        sims_task = asyncio.ensure_future(self.simulator.recipients(list(batch.messages)))
        quorum_task = asyncio.ensure_future(
            ctx.guardians.quorum(
                batch.src,
                block,
                gset.members,
                gset.threshold,
                wait=self.quorum_wait(batch.src),
                pushed=block == batch.attest_block,  # a message block: guardians push its signatures
            )
        )
        try:
            quorum = await quorum_task
        except BaseException:
            sims_task.cancel()
            if prefetched is None:  # a prefetched proof may serve other batches: left running
                proof_task.cancel()
            raise
        attested_at = time.time()
        try:
            proof = await (asyncio.shield(proof_task) if prefetched else proof_task)  # shared: never cancelled here
        except StateGone:  # restarted from a dump: a newer block proves the same commitments
            ctx.prefetch.forget(batch.src, block)
            block, quorum = await self._attest_later(batch.src, max(block, ctx.links[batch.src].head - 1), gset)
            proof = await self._proof_at(batch.src, list(slots.values()), block, quorum)
        if not proof_matches(proof, quorum.attestation.state_root):
            ctx.prefetch.forget(batch.src, block)
            if await self._rewound(batch.src, block, quorum.attestation.block_hash):
                block, quorum = await self._attest_later(batch.src, block, gset)
            try:
                proof = await self._proof_at(batch.src, list(slots.values()), block, quorum)
            except ProofMismatch as exc:
                # The source's trie and its header's root disagree at this block for good (seen on
                # anvil, rarely, around state dumps). Commitments are never deleted, so a later
                # block proves the same messages; with instant mining the relayer makes one.
                log.warning("%s: proving at a later block", exc)
                block, quorum = await self._attest_later(batch.src, block, gset)
                proof = await self._proof_at(batch.src, list(slots.values()), block, quorum)
        proved_at = time.time()
        sims = await sims_task
        # Simulation alone never makes a failure final: it runs the recipient from the gateway's
        # address (tx.origin, gas price, coinbase differ from the chain), so a message whose next
        # failure would be its last goes on chain, with a whole block's gas, and the gateway decides.
        now = time.time()
        last = {
            m.id
            for m in batch.messages
            if not sims[m.id].ok and ctx.retry_cap.exhausted(m.failures + 1, m.first_failed_at or now, now)
        }
        rejected = {i: r.reason or "would fail" for i, r in sims.items() if not r.ok and i not in last}
        if rejected:
            await self.settlement.fail(batch.messages, rejected, at=time.time(), outcome="rejected")
        sigs = quorum.for_set(gset.members, gset.threshold)
        assert sigs is not None

        def encode_batch(msgs: list[QueuedMessage]) -> bytes:
            return ctx.gw_abi.encode(
                "attestAndDeliverBatch",
                quorum.attestation.as_tuple(),
                sigs,
                proof.account_proof,
                [m.gateway_tuple(ctx.message_fields) for m in msgs],
                [proof.storage_proof(slots[m.id]) for m in msgs],
            )

        encoded: dict[tuple[str, ...], bytes] = {}

        def encode(msgs: list[QueuedMessage]) -> bytes:
            key = tuple(m.id for m in msgs)
            if key not in encoded:
                encoded[key] = encode_batch(msgs)
            return encoded[key]

        async def simulate(msgs: list[QueuedMessage]) -> int:
            return await self.simulator.batch(self.dst, ctx.signer.address, ctx.gateway, encode(msgs))

        candidates = [m for m in batch.messages if m.id not in rejected]
        if not candidates:
            return
        limit = await self.simulator.block_gas_limit(self.dst)
        # a starved message (its recipient used up less gas in simulation than on chain) gets the
        # whole block: the gateway then delivers it or records the recipient's own failure
        need = {m.id: limit if m.starved or m.id in last else recipient_gas(m, sims[m.id].gas) for m in candidates}
        candidates, too_big = fit_calldata(candidates, encode, need, limit)
        fast = optimistic.eligible(batch, rejected) and not last
        if fast:
            # every recipient passed: no batch simulation; a revert on chain falls back to it
            data = encode(candidates)
            reserve = {m.id: optimistic.recipient_reserve(m, sims[m.id].gas) for m in candidates}
            base = optimistic.batch_gas(data, len(sigs), proof.account_proof, list(reserve.values()))
            per_msg = {
                m.id: optimistic.message_gas(m, reserve[m.id], proof.storage_proof(slots[m.id])) for m in candidates
            }
            msgs, gas, cut = fit_block(candidates, base, per_msg, CalldataGas.of(data).floor, limit)
            offenders: dict[str, str] = {}
            deferred = too_big + cut
        else:
            iso = await isolate(candidates, simulate)
            msgs, gas, cut = [], 0, []
            if iso.deliverable and iso.gas is not None:
                data = encode(iso.deliverable)
                msgs, gas, cut = fit_block(iso.deliverable, iso.gas, need, CalldataGas.of(data).floor, limit)
            offenders, deferred = iso.offenders, iso.deferred + too_big + cut
        await self._set_aside(offenders, deferred, batch)
        if msgs:
            data = encode(msgs)  # cached unless cut
            tx = Batch(batch.src, batch.dst, tuple(msgs))
            await self._submit(tx, data, gas, block, (started_at, attested_at, proved_at), simulated=not fast)

    async def _proof_at(self, src: int, slots: list[bytes], block: int, quorum: Quorum) -> Any:
        link = self.ctx.links[src]
        return await consistent_proof(link, self.ctx.gateway, slots, block, quorum.attestation.state_root)

    async def _rewound(self, src: int, block: int, signed_hash: bytes) -> bool:
        """The source's block `block` is no longer the one the guardians signed (it was rewound)."""
        header = await self.ctx.links[src].rpc.call("eth_getBlockByNumber", [hex(block), False])
        return header is None or hexbytes(header["hash"]) != bytes(signed_hash)

    async def _attest_later(self, src: int, block: int, gset: GuardianSet) -> tuple[int, Quorum]:
        """A quorum for the first later block the guardians signed as the source has it now.

        After `evm_revert`/`anvil_reorg` the source re-mines heights the guardians already signed,
        and an honest guardian never signs a second root for a height (that is slashable), so a
        message in such a block is proven at a later one (commitments are never deleted). When
        the source has no later block yet, one 0-value transaction of the relayer's makes one.
        Heights are tried 1, 2, 4, ... past `block`: a rewind deeper than the guardians' signed
        range (80 blocks seen) is left behind in a few tries, mining at most twice its depth."""
        link = self.ctx.links[src]
        step = 1
        for _ in range(MAX_REWOUND_HEIGHTS):
            block += step
            step *= 2
            while hexint(await link.rpc.call("eth_blockNumber", [])) < block:
                tx_hash = await link.send(self.ctx.signer.address, b"", 21_000)
                await link.receipt(tx_hash)
            quorum = await self.ctx.guardians.quorum(
                src, block, gset.members, gset.threshold, wait=self.quorum_wait(src)
            )
            if not await self._rewound(src, block, quorum.attestation.block_hash):
                return block, quorum
        raise RuntimeError(
            f"{link.name}: guardians signed every height tried, up to {block}, as the source no longer has it"
        )

    async def _set_aside(self, offenders: dict[str, str], deferred: list[QueuedMessage], batch: Batch) -> None:
        """Offenders become failed attempts (found delivered meanwhile: settled); deferred wait a batch."""
        if offenders:
            by_id = {m.id: m for m in batch.messages}
            claimed = [by_id[i] for i, r in offenders.items() if r.startswith("AlreadyDelivered")]
            # delivered meanwhile (settled), unless the gateway means another message with the
            # same nonce (a rewound source): then it is this message's own failure
            done = (
                await self.settlement.delivered_on_chain(Batch(batch.src, batch.dst, tuple(claimed)))
                if claimed
                else set()
            )
            if done:
                await self.settlement.settle_already_delivered(self.dst, [by_id[i] for i in done])
            bad = {i: r for i, r in offenders.items() if i not in done}
            if bad:
                await self.settlement.fail(batch.messages, bad, at=time.time(), outcome="rejected")
        if deferred:
            self.ctx.counters.deferred += len(deferred)
            self.ctx.queue.mark_retry(
                [m.id for m in deferred],
                "deferred to the next batch (block gas or a neighbour that fails with it)",
                time.time(),
            )

    async def _submit(
        self, batch: Batch, data: bytes, gas: int, block: int, times: tuple[float, float, float], simulated: bool
    ) -> None:
        """Mark submitted (durably), broadcast, settle from the receipt. `times`: started, attested,
        proved; `simulated`: False when sent without a batch simulation (a revert falls back to one)."""
        ctx = self.ctx
        ids = batch.ids
        started_at, attested_at, proved_at = times

        def durable(tx_hash: str) -> None:
            ctx.queue.mark_submitted(
                ids, tx_hash, block, attested_at, proved_at, time.time(), started_at=started_at, gas_limit=gas
            )

        self.broadcasting += 1  # a transaction of ours in the destination's pool: see `turn`
        try:
            tx_hash = await self.link.send(ctx.gateway, data, gas, before_broadcast=durable)
            ctx.counters.batches += 1
            ctx.counters.optimistic_batches += not simulated
            if chaos.duplicate(ctx.manifest.run_dir):  # the same delivery again: the gateway must refuse it
                await self.link.send(ctx.gateway, data, gas)
            try:
                receipt = await self.link.receipt(tx_hash)
            except TxLost as exc:
                ctx.counters.lost_txs += 1
                log.warning("%s; its %d message(s) go out again now", exc, len(ids))
                ctx.queue.unsubmit(ids, str(exc), at=time.time())
                return
            if receipt is None:
                raise TimeoutError(f"no receipt for {tx_hash} on {self.link.name}")
            await self.settlement.settle(batch, receipt, simulated=simulated)
        finally:
            self.broadcasting -= 1
