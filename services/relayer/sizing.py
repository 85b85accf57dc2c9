"""Batch sizes from calldata and gas against the destination block, never a constant.

A delivery transaction must fit the destination's block gas limit, and its gas limit must
cover the calldata floor of anvil's hardfork (EIP-7623: 10 gas per calldata token, a zero
byte one token, any other four). A transaction below that floor is answered with a hash and
then dropped by anvil, which would stall every later transaction of the relayer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from services.relayer.model import QueuedMessage

TX_BASE = 21_000
FLOOR_PER_TOKEN = 10  # EIP-7623 TOTAL_COST_FLOOR_PER_TOKEN
STANDARD_PER_TOKEN = 4  # EIP-2028: 4 per zero byte, 16 per other byte = 4 per token
HEADROOM = 0.9  # calldata and recipients may take this share of a block; the rest is proof checking


@dataclass(frozen=True)
class CalldataGas:
    standard: int  # intrinsic gas before execution
    floor: int  # the least gas limit the node accepts for this calldata

    @classmethod
    def of(cls, data: bytes) -> CalldataGas:
        zeros = data.count(0)
        tokens = zeros + 4 * (len(data) - zeros)
        return cls(TX_BASE + STANDARD_PER_TOKEN * tokens, TX_BASE + FLOOR_PER_TOKEN * tokens)


def fit_calldata(
    msgs: list[QueuedMessage], encode: Callable[[list[QueuedMessage]], bytes], need: dict[str, int], block_limit: int
) -> tuple[list[QueuedMessage], list[QueuedMessage]]:
    """(the longest prefix whose calldata and recipients fit the block, the rest), halving."""
    keep: list[QueuedMessage] = list(msgs)
    cut: list[QueuedMessage] = []
    while len(keep) > 1:
        gas = CalldataGas.of(encode(keep))
        if max(gas.floor, gas.standard + sum(need[m.id] for m in keep)) <= block_limit * HEADROOM:
            break
        half = (len(keep) + 1) // 2
        keep, cut = keep[:half], keep[half:] + cut
    return keep, cut


def fit_block(
    msgs: list[QueuedMessage], estimate: int, need: dict[str, int], floor: int, block_limit: int
) -> tuple[list[QueuedMessage], int, list[QueuedMessage]]:
    """(messages, transaction gas limit, messages cut) for one delivery transaction.

    The gas limit is the whole batch's estimate plus each recipient's need (the estimate may
    have found a limit at which a heavy recipient fails cleanly), at least the calldata
    floor, at most the block gas limit; messages are cut from the end until it fits."""
    keep: list[QueuedMessage] = list(msgs)
    cut: list[QueuedMessage] = []
    gas = estimate + sum(need[m.id] for m in keep)
    while gas > block_limit and len(keep) > 1:
        m = keep.pop()
        cut.insert(0, m)
        gas -= need[m.id]  # the estimate still counts it: an upper bound either way
    return keep, min(max(gas, floor), block_limit), cut
