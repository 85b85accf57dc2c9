"""Scanner stage: a source chain's gateway logs -> new messages in the queue.

Every head wakes the chain's scanner, which reads gateway + registry logs from the stored
cursor to the head (eth_getLogs, at most LOG_RANGE blocks a call), pairs
MessageSent/MessageCommitted into messages, and stores them with the new cursor in one
SQLite transaction. New messages wake their destination's delivery worker; a
GuardianSetChanged on the registry reloads that chain's set. Ahead of the scan, the source
pushes the gateway's message logs (`subscribe`): see `Scanner.subscribe`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from services.common import bloom
from services.common.rpc import RpcError, hexbytes, hexint
from services.protocol.messages import commitment_slot
from services.relayer import backoff
from services.relayer.context import Context

log = logging.getLogger("relayer")

LOG_RANGE = 2000  # blocks per eth_getLogs while catching up


@dataclass(frozen=True)
class Topics:
    sent: str
    committed: str
    set_changed: str

    @classmethod
    def of(cls, ctx: Context) -> Topics:
        return cls(
            ctx.gw_abi.topic("MessageSent"),
            ctx.gw_abi.topic("MessageCommitted"),
            ctx.reg_abi.topic("GuardianSetChanged"),
        )


def decode_logs(
    logs: list[dict[str, Any]], topics: Topics, registry: str, strict: bool = True
) -> tuple[list[dict[str, Any]], bool]:
    """(message rows without chain/time fields, whether the guardian set changed).

    Hand-decoded (this runs for every message under load; eth_abi + checksumming cost ~1 ms
    per message): MessageSent gives the payload, MessageCommitted the rest.
    """
    payloads: dict[str, bytes] = {}
    committed: list[dict[str, Any]] = []
    set_changed = False
    registry = registry.lower()
    for lg in logs:
        tps = lg["topics"]
        if lg["address"].lower() == registry:
            set_changed = set_changed or tps[0] == topics.set_changed
            continue
        if tps[0] == topics.sent:
            data = hexbytes(lg["data"])
            off = int.from_bytes(data[64:96], "big")
            size = int.from_bytes(data[off : off + 32], "big")
            payloads[tps[1]] = data[off + 32 : off + 32 + size]
        elif tps[0] == topics.committed:
            committed.append(lg)
    rows = []
    for lg in committed:
        send_id = lg["topics"][1]
        payload = payloads.get(send_id)
        if payload is None:
            if strict:
                log.error("MessageCommitted %s without MessageSent", send_id)
            continue
        data = lg["data"][2:]
        rows.append(
            {
                "id": send_id,
                "dst": int(lg["topics"][2], 16),
                "nonce": int(data[0:64], 16),
                "sender": "0x" + data[88:128],
                "recipient": "0x" + data[152:192],
                # a gateway with the gas-limit attribute appends `uint256 gasLimit` (0 = none requested)
                "gas_limit": int(data[192:256], 16) if len(data) >= 256 else 0,
                # then `uint8 finality` (0 soft, 1 finalized)
                "finality": int(data[256:320], 16) if len(data) >= 320 else 0,
                "payload": payload,
                "sent_block": hexint(lg["blockNumber"]),
                "sent_block_hash": lg["blockHash"],
                "sent_tx": lg["transactionHash"],
                "block_time": hexint(lg["blockTimestamp"]) if lg.get("blockTimestamp") else None,
            }
        )
    return rows, set_changed


class Scanner:
    """One source chain's log follower."""

    def __init__(self, ctx: Context, chain_id: int, wake_destination: Callable[[int], None]):
        self.ctx = ctx
        self.chain_id = chain_id
        self.link = ctx.links[chain_id]
        self.topics = Topics.of(ctx)
        self.topic_bits = bloom.topic_bits([self.topics.sent, self.topics.committed, self.topics.set_changed])
        self.wake = asyncio.Event()
        self.wake_destination = wake_destination
        self.cursor = -1
        self._pushed: list[dict[str, Any]] = []  # gateway logs the source pushed, not yet stored
        self._flush_due = False

    async def subscribe(self) -> None:
        """Have the source push the gateway's message logs as their block is mined: a message is
        stored and its proof asked for without waiting for the scan's eth_getLogs (measured:
        that round trip was 0.64 ms of a delivery's p50 in the latency bench). The scan still
        reads every block and is the only one to move the cursor: a pushed log it does not find
        was rewound away (`Queue.ingest`), and one the subscription missed is found by it."""
        await self.link.rpc.subscribe(
            ["logs", {"address": self.ctx.gateway, "topics": [[self.topics.sent, self.topics.committed]]}],
            self._on_log,
        )

    def _on_log(self, lg: dict[str, Any]) -> None:
        try:
            if lg.get("removed") or hexint(lg.get("blockNumber")) <= self.cursor:
                return
        except (AttributeError, TypeError, ValueError):  # not a log: the scan reads the block anyway
            return
        self._pushed.append(lg)
        if not self._flush_due:  # the logs of one block come one notification each: store them together
            self._flush_due = True
            asyncio.get_running_loop().call_soon(self._flush_pushed)

    def _flush_pushed(self) -> None:
        self._flush_due = False
        logs, self._pushed = self._pushed, []
        try:
            rows, _ = decode_logs(logs, self.topics, self.ctx.registry, strict=False)
            paired = {r["id"] for r in rows}
            # a MessageSent whose MessageCommitted has not come yet waits for the next flush
            waiting = [g for g in logs if g["topics"][0] == self.topics.sent and g["topics"][1] not in paired]
            self._pushed = [g for g in waiting if hexint(g["blockNumber"]) > self.cursor][-256:]
            rows = [r for r in rows if r["dst"] in self.ctx.links and r["sent_block"] > self.cursor]
            if rows:
                self._stamp(rows)
                self._prefetch(rows)  # first: the source answers while the queue stores them
                self._wake(rows, self.ctx.queue.ingest_early(rows))
        except Exception:  # the scan stores these messages anyway
            log.exception("%s: storing pushed logs failed", self.link.name)

    def _stamp(self, rows: list[dict[str, Any]]) -> None:
        """Add the chain and the relayer's own times to decoded message rows."""
        link, now = self.link, time.time()
        for r in rows:
            block = r["sent_block"]
            r.update(
                src=self.chain_id,
                sent_time=link.head_times.get(block) or r.get("block_time"),
                seen_at=now,
                mined_at=min(now, link.head_arrivals.get(block, now)),
            )

    def _wake(self, rows: list[dict[str, Any]], new: list[str]) -> None:
        """Wake the destinations of the new messages (one to an unknown chain is invalid)."""
        new_set = set(new)
        for dst in {r["dst"] for r in rows if r["id"] in new_set}:
            if dst in self.ctx.links:
                self.wake_destination(dst)
            else:
                ids = [r["id"] for r in rows if r["dst"] == dst]
                self.ctx.queue.mark_stage(ids, status="invalid", last_error=f"unknown destination chain {dst}")

    async def run(self) -> None:
        cursor = self.ctx.queue.cursor(self.chain_id)
        if cursor is None:
            cursor = -1  # a new relayer reads the whole (short) devnet chain
        while True:
            self.wake.clear()
            try:
                cursor = self.cursor = await self.follow_rewinds(cursor)
            except (RpcError, ConnectionError, TimeoutError) as exc:
                log.warning("%s: rewind check failed (%s); retrying", self.link.name, exc)
                await asyncio.sleep(backoff.SCAN_RPC_ERROR.after(0))
                continue
            head = self.link.head
            try:
                while cursor < head:
                    to = min(head, cursor + LOG_RANGE)
                    await self.scan_range(cursor + 1, to)
                    cursor = to
            except (TimeoutError, RpcError, ConnectionError) as exc:
                log.warning("%s: log scan failed (%s); retrying", self.link.name, exc)
                await asyncio.sleep(backoff.SCAN_RPC_ERROR.after(0))
                continue
            except Exception:
                log.exception("%s: log scan failed; retrying", self.link.name)
                await asyncio.sleep(backoff.SCAN_ERROR.after(0))
                continue
            if self.link.head > cursor:
                continue
            await self.wake.wait()

    async def block_hash(self, number: int) -> str | None:
        """The hash of block `number` as the chain has it now (newHeads header, else RPC)."""
        block = await self.link.rpc.call("eth_getBlockByNumber", [hex(number), False])
        return block["hash"] if block else None

    async def follow_rewinds(self, cursor: int) -> int:
        """If the chain no longer has the cursor's block (evm_revert, anvil_reorg), move back to
        the newest scanned block it still has, orphan the messages of the blocks after it, and
        return the new cursor; else the cursor unchanged (no RPC when the head headers agree)."""
        if cursor < 0:
            return cursor
        stored = self.ctx.queue.block_hash(self.chain_id, cursor)
        if stored is None:
            return cursor
        if self.link.head >= cursor and self.link.head_hashes.get(cursor) == stored:
            return cursor
        # the headers disagree or lag: only the chain's own answer declares a rewind
        if await self.block_hash(cursor) == stored:
            return cursor
        ancestor = -1
        for number, known in self.ctx.queue.recent_hashes(self.chain_id, min(cursor, self.link.head)):
            if await self.block_hash(number) == known:
                ancestor = number
                break
        orphaned = self.ctx.queue.rewind(self.chain_id, ancestor)
        self.link.forget_nonce()
        # as a destination too: deliveries mined in the lost blocks are gone with them
        redeliver = self.ctx.queue.redeliver_after(self.chain_id, ancestor)
        if redeliver:
            self.wake_destination(self.chain_id)
        self.ctx.counters.rewinds += 1
        log.warning(
            "%s: rewound from block %d to %d; %d undelivered message(s) orphaned, %d delivery(ies) to send again",
            self.link.name,
            cursor,
            ancestor,
            len(orphaned),
            len(redeliver),
        )
        return ancestor

    def _prefetch(self, rows: list[dict[str, Any]]) -> None:
        """Ask now for the proof the newest block's (soft) messages will be delivered with."""
        newest = max((r["sent_block"] for r in rows), default=-1)
        fresh = [r for r in rows if r["sent_block"] == newest and r["finality"] == 0]
        if fresh and newest >= self.link.head - 1:
            slots = [commitment_slot(hexbytes(r["id"])) for r in fresh]
            self.ctx.prefetch.start(self.link, self.ctx.gateway, newest, slots)

    async def scan_range(self, frm: int, to: int) -> list[str]:
        """Ingest the messages of blocks frm..to and move the cursor to `to`; returns new ids."""
        ctx, link = self.ctx, self.link
        topics = [self.topics.sent, self.topics.committed, self.topics.set_changed]
        if link.quiet(frm, to, self.topic_bits):  # no such log in these blocks (their headers' blooms)
            logs = []
        else:
            logs = await link.rpc.call(
                "eth_getLogs",
                [
                    {
                        "address": [ctx.gateway, ctx.registry],
                        "topics": [topics],
                        "fromBlock": hex(frm),
                        "toBlock": hex(to),
                    }
                ],
            )
        rows, set_changed = decode_logs(logs, self.topics, ctx.registry)
        upto_hash = link.head_hashes.get(to) or await self.block_hash(to)
        self._stamp(rows)
        new = ctx.queue.ingest(self.chain_id, to, rows, upto_hash=upto_hash, from_block=frm)
        new_set = set(new)
        self._prefetch([r for r in rows if r["id"] in new_set])  # not those stored early
        self._wake(rows, new)
        self.cursor = to
        if set_changed:
            gset = await ctx.load_set(self.chain_id)
            log.info(
                "%s: guardian set changed: %d guardians, threshold %d", link.name, len(gset.members), gset.threshold
            )
        if new:
            log.debug("%s: %d new message(s) up to block %d", link.name, len(new), to)
        return new
