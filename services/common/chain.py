"""One chain as a service sees it: a WebSocket, its head, and a transaction sender.

The relayer and the solver both reach their chains through a ChainLink. Transactions are signed
locally (services.common.tx) with locally tracked nonces; the send lock keeps nonces in order on
the wire. Receipts are awaited without sleeping or polling ahead of the chain: a receipt exists only once
its block is mined, and every mined block reaches us as a head, so the first look waits for the
next head (measured in `bench.py latency`: looking at once missed 60% of the time, and each miss
cost two more RPCs to tell a slow transaction from a lost one). A transaction the node
dropped or holds behind a nonce gap is detected on the first receipt miss (`TxLost`) and the next
send takes its nonce from the chain again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from services.common import bloom
from services.common.manifest import Chain
from services.common.rpc import RpcError, WsRpc, hexint
from services.common.tx import Signer

MAX_FEE = 100 * 10**9  # devnet: a flat 100 gwei cap; only gas used x base fee is charged
PRIORITY_FEE = 10**9


class TxLost(RuntimeError):
    """A sent transaction that will never be mined (dropped, or behind a nonce gap)."""


class OutOfFunds(RpcError):
    """The node refused a transaction of ours: the account cannot pay for its gas."""


class ChainLink:
    min_balance = 1_000 * 10**18  # ensure_funds tops the key up to `top_up` below this
    top_up = 10**6 * 10**18
    receipt_timeout = 60.0  # seconds receipt() waits by default
    first_receipt_wait = 0.25  # s receipt() waits for a head before its first look (a dropped tx makes none)

    def __init__(self, chain: Chain, signer: Signer, role: str = "relayer"):
        self.role = role  # who holds the key: names the log and the funding message
        self.out_of_funds: str | None = None  # why our last send was refused for want of gas money
        self.log = logging.getLogger(role)
        self.chain = chain
        self.chain_id = chain.chain_id
        self.name = chain.name
        self.signer = signer
        self.rpc = WsRpc(chain.ws_url, name=chain.name)
        self.head = -1
        self.head_time = 0  # timestamp of the newest head (this chain's clock, time travel included)
        self.head_times: dict[int, float] = {}  # block -> block timestamp (recent heads)
        self.head_arrivals: dict[int, float] = {}  # block -> when its newHeads reached us (unix time)
        self.head_hashes: dict[int, str | None] = {}  # block -> hash of the newest header seen for it
        self.head_blooms: dict[int, str | None] = {}  # block -> logsBloom of the newest header seen for it
        self.head_roots: dict[int, str | None] = {}  # block -> stateRoot of the newest header seen for it
        self.heads_seen = 0  # head notifications so far
        self._sent_at: dict[str, int] = {}  # tx hash -> heads_seen when it was broadcast
        self._head_event = asyncio.Event()
        self._nonce: int | None = None
        self._send_lock = asyncio.Lock()
        self.own_txs: deque[str] = deque(maxlen=5000)
        self.own_tx_set: set[str] = set()
        self.on_head: Callable[[int], None] | None = None
        self.on_regress: Callable[[int], None] | None = None  # head went back (restart from a dump)

    async def start(self, connect_timeout: float = 30.0) -> None:
        await self.rpc.connect(timeout=connect_timeout)
        await self.rpc.subscribe(["newHeads"], self._on_head)
        self.rpc.on_reconnect = self._resync
        await self._resync()
        await self.ensure_funds()

    async def close(self) -> None:
        await self.rpc.close()

    async def reopen(self) -> None:
        """After a start that failed (the node did not answer): a fresh connection for the next try."""
        await self.rpc.close()
        self.rpc = WsRpc(self.chain.ws_url, name=self.chain.name)

    async def _resync(self) -> None:
        header = await self.rpc.call("eth_getBlockByNumber", ["latest", False])
        number = hexint(header["number"])
        self.head = min(self.head, number)
        self.head_blooms.clear()  # heads may have been missed, and rewound blocks re-mined meanwhile
        if self.on_regress is not None:  # a node restarted from an older state lost later blocks
            self.on_regress(number)  # (its last heads may not have reached us: check always)
        self._on_head(header)
        self._nonce = None

    def forget_nonce(self) -> None:
        """The chain was rewound: our transactions in its lost blocks are gone with them, so the
        next send takes its nonce from the chain again."""
        self._nonce = None

    def _on_head(self, header: dict[str, Any]) -> None:
        number = hexint(header["number"])
        self.head_arrivals.setdefault(number, time.time())
        self.head_time = self.head_times[number] = hexint(header.get("timestamp"))
        if len(self.head_times) > 4096:
            for k in sorted(self.head_times)[:1024]:
                del self.head_times[k]
                self.head_arrivals.pop(k, None)
        self.head_hashes[number] = header.get("hash")
        self.head_blooms[number] = header.get("logsBloom")
        self.head_roots[number] = header.get("stateRoot")
        if len(self.head_hashes) > 4096:
            for k in sorted(self.head_hashes)[:1024]:
                del self.head_hashes[k]
                self.head_blooms.pop(k, None)
                self.head_roots.pop(k, None)
        self.heads_seen += 1
        # a lower number than before means the chain was rewound (evm_revert, reorg): follow it
        self.head = number
        ev, self._head_event = self._head_event, asyncio.Event()
        ev.set()
        if self.on_head is not None:
            self.on_head(number)

    def quiet(self, frm: int, to: int, topics: list[bloom.Bits]) -> bool:
        """True when the header of every block frm..to was seen and its bloom rules out every
        topic: an eth_getLogs for them would return nothing (services/common/bloom.py)."""
        if to - frm > 256:
            return False
        return all(bloom.excludes_all(self.head_blooms.get(n), topics) for n in range(frm, to + 1))

    def saw_header(self, number: int, block_hash: str, state_root: str) -> bool:
        """True when the newest header this link saw for `number` (not above the head) has this
        hash and state root: the chain itself announced that block."""
        seen_hash, seen_root = self.head_hashes.get(number), self.head_roots.get(number)
        return (
            number <= self.head
            and seen_hash is not None
            and seen_root is not None
            and seen_hash.lower() == block_hash.lower()
            and seen_root.lower() == state_root.lower()
        )

    async def wait_head(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._head_event.wait(), timeout)
            return True
        except TimeoutError:
            return False

    async def _out_of_funds(self, exc: RpcError) -> OutOfFunds:
        """The node's "Insufficient funds for gas * price + value" named neither the account nor
        the chain (seen in a message's trace): say both, with the balance, and remember it for
        /health until a transaction of ours goes through again."""
        try:
            balance = f"{hexint(await self.rpc.call('eth_getBalance', [self.signer.address, 'latest']))} wei"
        except Exception:  # the explanation is worth more than the balance
            balance = "unknown"
        self.out_of_funds = (
            f"{self.name}: the {self.role}'s account {self.signer.address} cannot pay for gas (balance "
            f"{balance}); fund it, e.g. anvil_setBalance on {self.chain.rpc_url}"
        )
        self.log.error(self.out_of_funds)
        return OutOfFunds(exc.method, {"code": exc.code, "message": self.out_of_funds, "data": exc.data})

    async def ensure_funds(self) -> None:
        """Devnet: top up the key with anvil_setBalance when it runs low."""
        balance = hexint(await self.rpc.call("eth_getBalance", [self.signer.address, "latest"]))
        if balance < self.min_balance:
            await self.rpc.call("anvil_setBalance", [self.signer.address, hex(self.top_up)])
            self.log.info("%s: funded %s %s with anvil_setBalance", self.name, self.role, self.signer.address)

    async def call(self, to: str, data: bytes, block: str | int = "latest") -> str:
        tag = block if isinstance(block, str) else hex(block)
        return await self.rpc.call("eth_call", [{"to": to, "data": "0x" + data.hex()}, tag])

    async def read(self, to: str, data: bytes) -> bytes:
        """eth_call at the newest block from our own address (msg.sender is the key's holder)."""
        raw = await self.rpc.call(
            "eth_call", [{"from": self.signer.address, "to": to, "data": "0x" + data.hex()}, "latest"]
        )
        return bytes.fromhex(raw[2:])

    async def send(self, to: str, data: bytes, gas: int, before_broadcast: Callable[[str], None] | None = None) -> str:
        """Sign and broadcast; `before_broadcast(tx_hash)` runs (durably) before the node sees it."""
        async with self._send_lock:
            if self._nonce is None:
                self._nonce = hexint(await self.rpc.call("eth_getTransactionCount", [self.signer.address, "pending"]))
            nonce = self._nonce
            heads = self.heads_seen
            raw, tx_hash = self.signer.sign_1559(self.chain_id, nonce, to, data, gas, MAX_FEE, PRIORITY_FEE)
            if before_broadcast is not None:
                before_broadcast(tx_hash)
            try:
                await self.rpc.call("eth_sendRawTransaction", ["0x" + raw.hex()])
            except RpcError as exc:
                self._nonce = None  # resync: the node may or may not have taken it
                if "already known" in exc.message.lower():
                    return tx_hash
                if "insufficient funds" in exc.message.lower():
                    raise await self._out_of_funds(exc) from None
                raise
            except BaseException:
                self._nonce = None
                raise
            self._nonce = nonce + 1
            self.out_of_funds = None
            self._sent_at[tx_hash] = heads
            if len(self._sent_at) > 1024:
                del self._sent_at[next(iter(self._sent_at))]
            self.own_txs.append(tx_hash)
            self.own_tx_set.add(tx_hash)
            if len(self.own_tx_set) > self.own_txs.maxlen:  # type: ignore[operator]
                self.own_tx_set = set(self.own_txs)
            return tx_hash

    async def receipt(self, tx_hash: str, timeout: float | None = None) -> dict[str, Any] | None:
        """The transaction's receipt (None after `timeout`, default receipt_timeout); raises TxLost at
        once when the node no longer has it, or holds it behind a nonce gap (it would never be
        mined), after resyncing the nonce."""
        deadline = time.monotonic() + (self.receipt_timeout if timeout is None else timeout)
        if self._sent_at.pop(tx_hash, None) == self.heads_seen:  # no block since the broadcast yet
            await self.wait_head(min(self.first_receipt_wait, max(0.0, deadline - time.monotonic())))
        while True:
            r = await self.rpc.call("eth_getTransactionReceipt", [tx_hash])
            if r is not None:
                return r
            await self.check_alive(tx_hash)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            await self.wait_head(min(remaining, 1.0))

    async def transact(
        self, to: str, data: bytes, gas: int, record: Callable[[str], None] | None = None
    ) -> dict[str, Any] | None:
        """send() then receipt(): `record(tx_hash)` runs before the broadcast."""
        return await self.receipt(await self.send(to, data, gas, record))

    async def check_alive(self, tx_hash: str) -> None:
        """Raise TxLost if `tx_hash` is neither mined nor executable in the node's pool.

        anvil answers a transaction below the calldata gas floor (EIP-7623) with a hash and
        then drops it; every later transaction of ours then waits behind the gap, forever.
        """
        tx = await self.rpc.call("eth_getTransactionByHash", [tx_hash])
        if tx is not None and tx.get("blockNumber") is not None:
            return
        if tx is None:
            self._nonce = None
            raise TxLost(f"{self.name}: transaction {tx_hash} was dropped by the node")
        pending = hexint(await self.rpc.call("eth_getTransactionCount", [self.signer.address, "pending"]))
        if hexint(tx["nonce"]) >= pending:  # queued, not executable: the pool will never run it
            self._nonce = None
            # free its nonce for the next transaction (a same-fee replacement would be refused)
            with contextlib.suppress(RpcError):
                await self.rpc.call("anvil_dropTransaction", [tx_hash])
            raise TxLost(
                f"{self.name}: transaction {tx_hash} will never be mined: the pool holds it but cannot run "
                f"it (nonce {hexint(tx['nonce'])}, next executable nonce {pending}: below the calldata "
                "floor or behind a nonce gap)"
            )
