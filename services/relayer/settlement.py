"""Settlement stage: a delivery transaction's receipt -> each message's status.

MessageDelivered / MessageFailed events in the receipt settle each message; a reverted
transaction puts its messages back (after checking the gateway for any that another
transaction delivered meanwhile). After a crash, `recover_submitted` resolves every batch
the queue still marks `submitted` before anything is sent again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from typing import Any

from eth_utils import keccak

from services.common.chain import TxLost
from services.common.rpc import RpcError, hexbytes, hexint
from services.relayer import backoff
from services.relayer.context import Context
from services.relayer.model import Batch, QueuedMessage

log = logging.getLogger("relayer")

INSUFFICIENT_GAS = keccak(text="InsufficientGas(bytes32,uint256,uint256)")[:4]
REVERTS_BEFORE_ALONE = 2  # whole-batch reverts that name no message before its messages go alone


def starved_id(revert_data: str | None) -> str | None:
    """The message an `InsufficientGas(id, gasLimit, gasLeft)` revert names: its recipient used up
    the gas the transaction left it, so the gateway reverted the whole delivery (it cannot tell an
    underfunded delivery from a recipient's own failure any other way)."""
    try:
        raw = hexbytes(revert_data) if revert_data else b""
    except ValueError:
        return None
    if len(raw) != 4 + 3 * 32 or raw[:4] != INSUFFICIENT_GAS:
        return None
    return "0x" + raw[4:36].hex()


class Settlement:
    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.delivered_topic = ctx.gw_abi.topic("MessageDelivered")
        self.failed_topic = ctx.gw_abi.topic("MessageFailed")
        self.gateway = ctx.gateway.lower()

    async def settle(self, batch: Batch, receipt: dict[str, Any], simulated: bool = True) -> None:
        """`simulated`: False for a transaction sent without a batch simulation (optimistic.py);
        should it revert, its messages are retried at once, and that retry simulates."""
        ctx, dst = self.ctx, batch.dst
        now = time.time()
        tx_hash = receipt["transactionHash"]
        block = hexint(receipt["blockNumber"])
        gas = hexint(receipt["gasUsed"])
        if hexint(receipt["status"]) != 1:
            await self.reverted(batch, tx_hash, block, simulated, now)
            return
        ok: list[str] = []
        failed: dict[str, str] = {}
        for lg in receipt["logs"]:
            if lg["address"].lower() != self.gateway:
                continue
            topic0 = lg["topics"][0] if lg["topics"] else None
            if topic0 == self.delivered_topic:
                ok.append(lg["topics"][1])
            elif topic0 == self.failed_topic:
                _, args = ctx.gw_abi.decode_log(lg)  # type: ignore[misc]
                failed[lg["topics"][1]] = ctx.describe(args["reason"])
        if ok:
            ctx.queue.mark_delivered(ok, tx_hash, block, now, gas)
            ctx.counters.delivered += len(ok)
            first_seen = batch.first_seen or now
            log.info(
                "delivered %d message(s) %s -> %s in %s (block %d, gas %d, %.1f ms after the send was seen)",
                len(ok),
                ctx.links[batch.src].name,
                ctx.links[dst].name,
                tx_hash,
                block,
                gas,
                (now - first_seen) * 1000,
            )
        if failed:
            await self.fail(batch.messages, failed, at=now, tx=tx_hash, block=block, outcome="failed")
        missing = [i for i in batch.ids if i not in ok and i not in failed]
        if missing:
            ctx.queue.unsubmit(missing, "no delivery event in the receipt")

    async def reverted(self, batch: Batch, tx_hash: str, block: int, simulated: bool, now: float) -> None:
        """A delivery transaction that reverted as a whole.

        When the gateway names a message (InsufficientGas: its recipient used up the gas it was
        left, though its simulation, run with a whole block's gas, needed less) that is the
        message's own failure: counted, and retried alone with the whole block's gas, where the
        gateway either delivers it or records the recipient's failure. The others go again at
        once. Any other revert is no message's failure: the next attempt re-simulates and bisects
        (at once after an optimistic send); a batch that keeps reverting without naming a
        message has its messages sent alone from the REVERTS_BEFORE_ALONE-th time."""
        ctx = self.ctx
        ctx.counters.reverted_txs += 1
        reason, data = await self.revert_details(batch.dst, tx_hash, block)
        log.warning("delivery tx %s on %s reverted: %s", tx_hash, ctx.links[batch.dst].name, reason)
        delivered = await self.delivered_on_chain(batch)
        if delivered:
            await self.settle_already_delivered(batch.dst, [m for m in batch.messages if m.id in delivered])
        rest = [i for i in batch.ids if i not in delivered]
        starved = starved_id(data)
        if starved in rest:
            await self.fail(batch.messages, {starved: reason}, at=now, tx=tx_hash, block=block, starved={starved})
            rest.remove(starved)
        ctx.counters.optimistic_reverts += not simulated
        what = "delivery transaction" if simulated else "optimistic delivery transaction (unsimulated)"
        again = 0.0 if starved is not None or not simulated else backoff.DELIVERY_FAILED.after(0)
        ctx.queue.mark_retry(rest, f"{what} reverted: {reason}", now + again, outcome="reverted", at=now)
        if starved is None and len(batch.ids) > 1:
            alone = ctx.queue.quarantine_reverted(rest, REVERTS_BEFORE_ALONE)
            if alone:
                log.warning("%d message(s) of batches that keep reverting go alone from now on", len(alone))

    async def fail(
        self,
        messages: Iterable[QueuedMessage],
        reasons: dict[str, str],
        at: float,
        tx: str | None = None,
        block: int | None = None,
        outcome: str = "failed",
        starved: set[str] | frozenset[str] = frozenset(),
    ) -> None:
        """Record failures of the messages' own: retried with backoff, `failed` for good at the cap.
        A message whose proof shows no commitment, and whose source indeed no longer holds it, is
        no failure: its send was lost with its block (a chain restarted from an older state, a
        rewind not scanned yet) and it becomes `orphaned`."""
        ctx = self.ctx
        by_id = {m.id: m for m in messages}
        gone = await self.gone_from_source(
            [by_id[i] for i, r in reasons.items() if r.startswith("InvalidStorageProof(")]
        )
        if gone:
            ctx.queue.orphan(sorted(gone), "its send is no longer on the source chain (its block was lost)")
            log.warning("%d message(s) whose sends the source no longer holds: orphaned", len(gone))
            reasons = {i: r for i, r in reasons.items() if i not in gone}
        nxt: dict[str, float] = {}
        final: set[str] = set()
        for i in reasons:
            m = by_id[i]
            nxt[i] = at + backoff.DELIVERY_FAILED.after(m.failures)
            if ctx.retry_cap.exhausted(m.failures + 1, m.first_failed_at or at, at):
                final.add(i)
        ctx.queue.mark_failed(reasons, nxt, tx, block, final=final, at=at, outcome=outcome, starved=starved)
        ctx.counters.failed_deliveries += len(reasons)
        ctx.counters.finally_failed += len(final)
        for i, reason in reasons.items():
            what = "recipient reverted" if outcome == "failed" else "delivery would fail"
            if i in final:
                log.error(
                    "message %s: %s: %s; failed for good after %d failure(s)", i, what, reason, by_id[i].failures + 1
                )
            else:
                log.warning("message %s: %s: %s (retry in %.1fs)", i, what, reason, nxt[i] - at)

    async def gone_from_source(self, messages: list[QueuedMessage]) -> set[str]:
        """Ids of those messages whose source gateway no longer holds their commitment (at its
        newest block; commitments are never deleted, so only a lost block takes one away)."""
        ctx, gone = self.ctx, set()
        for m in messages:
            link = ctx.links.get(m.src)
            if link is None:
                continue
            try:
                out = await link.call(ctx.gateway, ctx.gw_abi.encode("isCommitted", hexbytes(m.id)))
                if not ctx.gw_abi.decode_output("isCommitted", out)[0]:
                    gone.add(m.id)
            except (RpcError, ConnectionError, TimeoutError, ValueError):
                continue  # unknown: recorded as the failure it looks like
        return gone

    async def revert_reason(self, chain_id: int, tx_hash: str, block: int) -> str:
        """Replay a reverted transaction with eth_call on its parent block and decode the reason."""
        return (await self.revert_details(chain_id, tx_hash, block))[0]

    async def revert_details(self, chain_id: int, tx_hash: str, block: int) -> tuple[str, str | None]:
        """(the decoded reason, the raw revert data if the replay gave any) of a reverted transaction."""
        link = self.ctx.links[chain_id]
        try:
            tx = await link.rpc.call("eth_getTransactionByHash", [tx_hash])
            await link.rpc.call(
                "eth_call",
                [{"from": tx["from"], "to": tx["to"], "data": tx["input"], "gas": tx["gas"]}, hex(max(0, block - 1))],
            )
            return "reverted (not reproducible by eth_call)", None
        except RpcError as exc:
            data = exc.data if isinstance(exc.data, str) else None
            return (self.ctx.describe(data) if data else exc.message), data
        except Exception as exc:
            return f"unknown ({exc})", None

    async def delivered_on_chain(self, batch: Batch) -> set[str]:
        """Ids of the batch's messages that the destination gateway already delivered.

        A gateway keyed by message id answers `isMessageDelivered(src, nonce, id)`. One keyed
        by nonce (`isDelivered(src, nonce)`) cannot tell a message from another that reused
        its nonce after a source rewind, so a yes is confirmed by its MessageDelivered event."""
        ctx = self.ctx
        link = ctx.links[batch.dst]
        by_id = "isMessageDelivered" in ctx.gw_abi.functions
        fn = "isMessageDelivered" if by_id else "isDelivered"

        def args(m: QueuedMessage) -> tuple[Any, ...]:
            return (m.src, m.nonce, hexbytes(m.id)) if by_id else (m.src, m.nonce)

        results = await asyncio.gather(
            *(link.call(ctx.gateway, ctx.gw_abi.encode(fn, *args(m))) for m in batch.messages)
        )
        decode = ctx.gw_abi.decode_output
        found = {m.id for m, res in zip(batch.messages, results, strict=True) if decode(fn, res)[0]}
        if by_id or not found:
            return found
        confirmed = set()
        for i in found:
            if await self.delivery_event(batch.dst, i) is not None:
                confirmed.add(i)
        return confirmed

    async def delivery_event(self, dst: int, message_id: str) -> dict[str, Any] | None:
        """The newest MessageDelivered log of `message_id` on `dst`, if any."""
        logs = await self.ctx.links[dst].rpc.call(
            "eth_getLogs",
            [
                {
                    "address": self.ctx.gateway,
                    "topics": [self.delivered_topic, message_id],
                    "fromBlock": "0x0",
                    "toBlock": "latest",
                }
            ],
        )
        return logs[-1] if logs else None

    async def settle_already_delivered(self, dst: int, messages: list[QueuedMessage]) -> None:
        """Messages found delivered on chain: record the delivering transaction from its event."""
        ctx = self.ctx
        for m in messages:
            tx, block = None, None
            try:
                lg = await self.delivery_event(dst, m.id)
                if lg is not None:
                    tx, block = lg["transactionHash"], hexint(lg["blockNumber"])
            except RpcError:
                pass
            ctx.queue.mark_delivered([m.id], tx, block, time.time())
            log.info("message %s was already delivered on chain (tx %s)", m.id, tx)

    async def drop_delivered(self, batch: Batch) -> Batch:
        """The batch without messages delivered meanwhile (crash, another relayer), settling those."""
        delivered = await self.delivered_on_chain(batch)
        if delivered:
            await self.settle_already_delivered(batch.dst, [m for m in batch.messages if m.id in delivered])
            return batch.without(delivered)
        return batch

    async def recover_submitted(self, dst: int | None = None) -> None:
        """After a crash: settle every batch (to `dst`, else to any chain) that was marked
        submitted, before sending anything there."""
        ctx = self.ctx
        rows = [r for r in ctx.queue.submitted() if dst is None or r["dst"] == dst]
        by_tx: dict[tuple[int, int, str], list[QueuedMessage]] = {}
        for r in rows:
            by_tx.setdefault((r["src"], r["dst"], r["delivery_tx"]), []).append(QueuedMessage.from_row(r))
        for (src, dst, tx), msgs in by_tx.items():
            link = ctx.links.get(dst)
            if link is None:
                continue
            batch = Batch(src, dst, tuple(msgs))
            try:
                # bounded: a transaction dropped or stuck behind a nonce gap raises TxLost at once
                receipt = await link.receipt(tx, timeout=30) if tx else None
            except TxLost as exc:
                log.warning("recovery: %s", exc)
                receipt = None
            if receipt is not None:
                await self.settle(batch, receipt)
            else:
                rest = await self.drop_delivered(batch)
                ctx.queue.unsubmit(rest.ids, "relayer restarted before its transaction was mined", at=time.time())
        if rows:
            log.info("recovered %d message(s) that were in flight at the last stop", len(rows))
