"""One chain as the solver sees it: a WebSocket with newHeads, eth_call, and a nonce-ordered sender.

Kept separate from the relayer's ChainLink on purpose: the solver needs a smaller surface (no
own-transaction bookkeeping) and a lock per chain around spending (fills and rebalances draw on the
same inventory).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from services.common.manifest import Chain
from services.common.rpc import RpcError, WsRpc, hexint
from services.common.tx import Signer

log = logging.getLogger("solver")

MAX_FEE = 100 * 10**9
PRIORITY_FEE = 10**9
MIN_ETH = 10 * 10**18


class SolverChain:
    def __init__(self, chain: Chain, signer: Signer):
        self.chain = chain
        self.chain_id = chain.chain_id
        self.name = chain.name
        self.signer = signer
        self.rpc = WsRpc(chain.ws_url, name=chain.name)
        self.head = -1
        self.head_time = 0  # timestamp of the newest head (this chain's clock, time travel included)
        self.spend_lock = asyncio.Lock()  # one spender of this chain's inventory at a time
        self.on_head: Callable[[int], None] | None = None
        self._head_event = asyncio.Event()
        self._nonce: int | None = None
        self._send_lock = asyncio.Lock()

    async def start(self) -> None:
        await self.rpc.connect(timeout=30)
        await self.rpc.subscribe(["newHeads"], self._on_head)
        self.rpc.on_reconnect = self._resync
        await self._resync()
        balance = hexint(await self.rpc.call("eth_getBalance", [self.signer.address, "latest"]))
        if balance < MIN_ETH:  # devnet: gas money for the solver key
            await self.rpc.call("anvil_setBalance", [self.signer.address, hex(1000 * 10**18)])

    async def close(self) -> None:
        await self.rpc.close()

    async def _resync(self) -> None:
        self._on_head(await self.rpc.call("eth_getBlockByNumber", ["latest", False]))
        self._nonce = None

    def _on_head(self, header: dict[str, Any]) -> None:
        number = hexint(header["number"])
        if number >= self.head:
            self.head = number
            self.head_time = hexint(header.get("timestamp"))
        ev, self._head_event = self._head_event, asyncio.Event()
        ev.set()
        if self.on_head is not None:
            self.on_head(number)

    async def wait_head(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._head_event.wait(), timeout)

    async def call(self, to: str, data: bytes) -> bytes:
        raw = await self.rpc.call(
            "eth_call", [{"from": self.signer.address, "to": to, "data": "0x" + data.hex()}, "latest"]
        )
        return bytes.fromhex(raw[2:])

    async def send(self, to: str, data: bytes, gas: int, before_broadcast: Callable[[str], None]) -> str:
        """Sign and broadcast; `before_broadcast(tx_hash)` records it durably first."""
        async with self._send_lock:
            if self._nonce is None:
                self._nonce = hexint(await self.rpc.call("eth_getTransactionCount", [self.signer.address, "pending"]))
            nonce = self._nonce
            raw, tx_hash = self.signer.sign_1559(self.chain_id, nonce, to, data, gas, MAX_FEE, PRIORITY_FEE)
            before_broadcast(tx_hash)
            try:
                await self.rpc.call("eth_sendRawTransaction", ["0x" + raw.hex()])
            except RpcError as exc:
                self._nonce = None
                if "already known" in exc.message.lower():
                    return tx_hash
                raise
            except BaseException:
                self._nonce = None
                raise
            self._nonce = nonce + 1
            return tx_hash

    async def receipt(self, tx_hash: str, timeout: float = 30.0) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        while True:
            r = await self.rpc.call("eth_getTransactionReceipt", [tx_hash])
            if r is not None:
                return r
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._nonce = None  # dropped or stuck: take the nonce from the chain next time
                return None
            await self.wait_head(min(remaining, 0.5))

    async def transact(
        self, to: str, data: bytes, gas: int, record: Callable[[str], None] = lambda _h: None
    ) -> dict[str, Any] | None:
        return await self.receipt(await self.send(to, data, gas, record))
