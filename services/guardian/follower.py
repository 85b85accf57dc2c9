"""One chain as a guardian follows it: its own WebSocket, the newest head, signing heads.

Heads are signed by one task per chain that always takes the newest: a block whose logs bloom
may hold a gateway `MessageSent` at once (a relayer is about to ask for it), any other block at
most every IDLE_SIGN seconds (the newest such block), so `latest` and the feed stay fresh
without signing every block of a busy chain. Anything skipped is signed on demand
(`attestation`), once the block is at `confirmations` depth.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any, Protocol

from services.common import bloom
from services.common.http import HttpError
from services.common.manifest import Chain
from services.common.rpc import RpcError, WsRpc, hexbytes, hexint
from services.guardian.store import Signed, SignedStore

log = logging.getLogger("guardian")

IDLE_SIGN = 0.05  # s: a block without gateway messages waits at most this long for its eager signature


class Signer(Protocol):
    """What a follower needs of its guardian (services.guardian.service.Guardian)."""

    confirmations: int
    message_bits: list[bloom.Bits]  # the logs-bloom bits of a gateway MessageSent ([]: none known)
    store: SignedStore

    def sign_block(
        self, chain_id: int, number: int, block_hash: bytes, state_root: bytes, message_block: bool = False
    ) -> Signed: ...


class ChainFollower:
    """One chain: its own WebSocket, the newest head, and waiters for the next one."""

    def __init__(self, guardian: Signer, chain: Chain):
        self.guardian = guardian
        self.chain = chain
        self.rpc = WsRpc(chain.ws_url, name=chain.name)
        self.head = -1
        self._next_head = asyncio.Event()
        # Heads are signed by one task that always takes the newest: when a burst of blocks
        # arrives faster than they can be signed, the ones in between are skipped (they are
        # still signed on demand), so a guardian never falls behind the chain.
        self._latest_header: dict[str, Any] | None = None
        self._sign_wake = asyncio.Event()
        self._signer: asyncio.Task[None] | None = None
        self._blooms: dict[int, str | None] = {}  # recent block -> logsBloom (conf > 0 signs older blocks)
        self._idle_due = 0.0  # loop time after which a block without messages is signed eagerly

    async def connect(self) -> None:
        if not self.rpc.connected.is_set():
            await self.rpc.connect(timeout=30)

    async def start(self) -> None:
        self._signer = asyncio.create_task(self._sign_heads(), name=f"sign-{self.chain.name}")
        await self.connect()
        self.rpc.on_reconnect = self._sync_head
        await self.rpc.subscribe(["newHeads"], self._on_head)
        await self._sync_head()

    async def _sync_head(self) -> None:
        block = await self.rpc.call("eth_getBlockByNumber", ["latest", False])
        self._on_head(block)

    def _on_head(self, header: dict[str, Any]) -> None:
        number = hexint(header["number"])
        if number > self.head:
            self.head = number
        self._blooms[number] = header.get("logsBloom")
        if len(self._blooms) > 512:
            del self._blooms[next(iter(self._blooms))]  # the longest held (no scan per head)
        if self._latest_header is None or number >= hexint(self._latest_header["number"]):
            self._latest_header = header
            self._sign_wake.set()
        ev, self._next_head = self._next_head, asyncio.Event()
        ev.set()

    def _urgent(self, number: int) -> bool:
        """Whether block `number` may hold a message (its bloom, unknown counts as yes)."""
        if not self.guardian.message_bits:
            return True  # no gateway known: every block is signed at once
        return not bloom.excludes_all(self._blooms.get(number), self.guardian.message_bits)

    async def _sign_heads(self) -> None:
        conf = self.guardian.confirmations
        loop = asyncio.get_running_loop()
        while True:
            await self._sign_wake.wait()
            self._sign_wake.clear()
            header = self._latest_header
            if header is None:
                continue
            number = hexint(header["number"])
            urgent = self._urgent(number - conf)
            if not urgent and (delay := self._idle_due - loop.time()) > 0:
                # wait for a newer head (taken instead) or the due time, then look again
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._sign_wake.wait(), delay)
                self._sign_wake.set()
                continue
            self._latest_header = None
            if not urgent:
                self._idle_due = loop.time() + IDLE_SIGN
            try:
                if conf == 0:
                    self.guardian.sign_block(
                        self.chain.chain_id, number, hexbytes(header["hash"]), hexbytes(header["stateRoot"]), urgent
                    )
                elif number - conf >= 0:
                    await self._sign_at(number - conf, urgent)
            except Exception:
                log.exception("%s: signing head %d failed", self.chain.name, number)
            await asyncio.sleep(0)

    async def _sign_at(self, number: int, message_block: bool = False) -> Signed | None:
        if self.guardian.store.get(self.chain.chain_id, number) is not None:
            return None
        block = await self.rpc.call("eth_getBlockByNumber", [hex(number), False])
        if block is None:
            return None
        return self.guardian.sign_block(
            self.chain.chain_id, number, hexbytes(block["hash"]), hexbytes(block["stateRoot"]), message_block
        )

    async def wait_head(self, timeout: float) -> None:
        await asyncio.wait_for(self._next_head.wait(), timeout)

    async def attestation(self, number: int, wait: float) -> Signed:
        """The signed attestation for block `number`, signing it if it is at confirmations depth."""
        store = self.guardian.store
        deadline = time.monotonic() + wait
        conf = self.guardian.confirmations
        refreshed = False
        while True:
            stored = store.get(self.chain.chain_id, number)
            if stored is not None:
                return stored
            if number + conf <= self.head:
                signed = await self._sign_at(number)
                if signed is not None:
                    return signed
                stored = store.get(self.chain.chain_id, number)
                if stored is not None:
                    return stored
            elif not refreshed:
                # The head notification may still be on its way: ask the node once.
                refreshed = True
                with contextlib.suppress(RpcError, ConnectionError):
                    self.head = max(self.head, hexint(await self.rpc.call("eth_blockNumber")))
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise HttpError(
                    404,
                    f"block {number} of chain {self.chain.chain_id} is not signable yet "
                    f"(head {self.head}, confirmations {conf})",
                )
            with contextlib.suppress(asyncio.TimeoutError):
                await self.wait_head(remaining)
