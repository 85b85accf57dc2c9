"""Simulation before sending: each recipient's gas, and which messages a batch must leave out.

- `recipient(m)`: the gateway's call `receiveMessage(id, sender, payload)` replayed with
  eth_call (it must return the selector, as the gateway demands) and eth_estimateGas (the
  gas the recipient needs), from the gateway's address, capped at the destination's block
  gas limit. A recipient that reverts, burns all gas or answers wrongly is found here,
  before any transaction, with its decoded reason.
- `isolate(messages, estimate)`: the batch transaction is estimated as a whole; when that
  reverts, halves are estimated until the offenders are found (bisection), so the others
  go out at once and an offender never holds them back by more than one batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from eth_abi import encode
from eth_utils import keccak

from services.common.rpc import RpcError, hexbytes, hexint
from services.protocol.erc7930 import encode_evm
from services.relayer.context import Context
from services.relayer.model import QueuedMessage

RECEIVE_MESSAGE = keccak(text="receiveMessage(bytes32,bytes,bytes)")[:4]
CALL_STIPEND = 64 / 63  # EIP-150: a call forwards at most 63/64 of what is left


@dataclass(frozen=True)
class RecipientResult:
    ok: bool
    gas: int = 0  # eth_estimateGas of the recipient call (0 when not ok)
    reason: str | None = None


@dataclass
class Isolation:
    deliverable: list[QueuedMessage]
    gas: int | None  # estimate of the batch of `deliverable`
    offenders: dict[str, str] = field(default_factory=dict)  # id -> decoded reason
    deferred: list[QueuedMessage] = field(default_factory=list)  # fine alone, left for the next batch


def revert_reason(ctx: Context, exc: RpcError) -> str:
    data = exc.data if isinstance(exc.data, str) and exc.data.startswith("0x") else None
    if isinstance(exc.data, dict):  # some nodes nest it: {"data": "0x..", "message": ..}
        inner = exc.data.get("data")
        data = inner if isinstance(inner, str) else None
    return ctx.describe(data) if data and data != "0x" else (exc.message or "reverted without a reason")


class Simulator:
    def __init__(self, ctx: Context):
        self.ctx = ctx
        self._gas_limits: dict[int, int] = {}

    async def block_gas_limit(self, chain_id: int) -> int:
        """The destination's block gas limit (read once; anvil's does not change)."""
        if chain_id not in self._gas_limits:
            head = await self.ctx.links[chain_id].rpc.call("eth_getBlockByNumber", ["latest", False])
            self._gas_limits[chain_id] = hexint(head["gasLimit"])
        return self._gas_limits[chain_id]

    def receive_call(self, m: QueuedMessage) -> bytes:
        sender = encode_evm(m.src, hexbytes(m.sender))
        return RECEIVE_MESSAGE + encode(["bytes32", "bytes", "bytes"], [hexbytes(m.id), sender, m.payload])

    async def recipient(self, m: QueuedMessage) -> RecipientResult:
        link = self.ctx.links[m.dst]
        cap = await self.block_gas_limit(m.dst)
        call = {"from": self.ctx.gateway, "to": m.recipient, "data": "0x" + self.receive_call(m).hex(), "gas": hex(cap)}
        answers: tuple[Any, ...] = await asyncio.gather(
            link.rpc.call("eth_call", [call, "latest"]),
            link.rpc.call("eth_estimateGas", [call, "latest"]),
            return_exceptions=True,
        )
        for answer in answers:
            if isinstance(answer, RpcError):
                return RecipientResult(False, reason=revert_reason(self.ctx, answer))
            if isinstance(answer, BaseException):
                raise answer
        ret, est = answers
        out = hexbytes(ret) if isinstance(ret, str) else b""
        if len(out) < 32 or out[:4] != RECEIVE_MESSAGE:
            return RecipientResult(False, reason="InvalidRecipientReturn()")
        return RecipientResult(True, gas=hexint(est))

    async def recipients(self, messages: list[QueuedMessage]) -> dict[str, RecipientResult]:
        results = await asyncio.gather(*(self.recipient(m) for m in messages))
        return {m.id: r for m, r in zip(messages, results, strict=True)}


def recipient_gas(m: QueuedMessage, simulated: int) -> int:
    """Gas to set aside for one recipient: what it needs, at least what its sender asked for,
    grossed up for the 63/64 rule of the gateway's call."""
    return int(max(simulated, m.gas_limit) * CALL_STIPEND) + 1


async def isolate(
    messages: list[QueuedMessage],
    estimate: Callable[[list[QueuedMessage]], Awaitable[int]],
    reason: Callable[[RpcError], str],
) -> Isolation:
    """Estimate the batch; if it would revert, bisect to the messages that make it revert."""
    try:
        return Isolation(messages, await estimate(messages))
    except RpcError as exc:
        if len(messages) == 1:
            return Isolation([], None, {messages[0].id: reason(exc)})
    mid = len(messages) // 2
    left = await isolate(messages[:mid], estimate, reason)
    right = await isolate(messages[mid:], estimate, reason)
    offenders = {**left.offenders, **right.offenders}
    deferred = left.deferred + right.deferred
    if not left.deliverable or not right.deliverable:
        one = left if left.deliverable else right
        return Isolation(one.deliverable, one.gas, offenders, deferred)
    together = left.deliverable + right.deliverable
    try:
        return Isolation(together, await estimate(together), offenders, deferred)
    except RpcError:
        # each half is fine alone but not together (they compete for something): the first
        # half now, the second in the next batch
        return Isolation(left.deliverable, left.gas, offenders, right.deliverable + deferred)
