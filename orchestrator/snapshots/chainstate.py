"""One chain's state in and out of anvil, and stopping its clock while a cut is taken.

A chain is anything with `name`, `rpc_url` and `block_time`: a config's Any or a manifest's Chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from orchestrator.chains import dumps
from orchestrator.chains.rpc import rpc


def freeze(chains: Sequence[Any]) -> None:
    """No more blocks on any chain: transactions sent meanwhile wait in the pool until `thaw`."""
    for chain in chains:
        rpc(chain.rpc_url, "evm_setIntervalMining", [0])
        rpc(chain.rpc_url, "evm_setAutomine", [False])


def thaw(chains: Sequence[Any]) -> None:
    """Back to each chain's configured mining: its block time, else automine."""
    for chain in chains:
        mine([chain], float(chain.block_time or 0))


def mine(chains: Sequence[Any], seconds: float) -> None:
    """A block every `seconds` on every chain; 0: a block per transaction (automine).

    evm_setIntervalMining takes whole seconds: a fractional block time (set by `anvil --block-time`
    at start) comes back rounded, at least 1 s."""
    for chain in chains:
        if seconds:
            rpc(chain.rpc_url, "evm_setAutomine", [False])
            rpc(chain.rpc_url, "evm_setIntervalMining", [max(1, round(seconds))])
        else:
            rpc(chain.rpc_url, "evm_setIntervalMining", [0])
            rpc(chain.rpc_url, "evm_setAutomine", [True])


def dump(chain: Any, attempts: int = 5) -> dumps.Dump:
    """The chain's whole state (orchestrator/chains/dumps.py), for a frozen chain: a block still
    being mined at the freeze can tear the first dump, never the next."""
    for _ in range(attempts):
        whole = dumps.take(chain.rpc_url, timeout=60)
        if whole is not None:
            return whole
    raise RuntimeError(f"chain {chain.name}: blocks kept coming while frozen; no whole state dump")


def block_hash(chain: Any, number: int) -> tuple[int, str]:
    """A block's number and hash."""
    block = rpc(chain.rpc_url, "eth_getBlockByNumber", [hex(number), False])
    return number, str(block["hash"])
