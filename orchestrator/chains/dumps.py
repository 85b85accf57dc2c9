"""A chain's state dump whose accounts match its blocks, or none.

anvil 1.7 builds `anvil_dumpState` in two reads under separate locks (`Backend::serialized_state`):
first the block list, then the accounts. A block being mined meanwhile (its state written, its
block not stored yet) is in the accounts but not in the blocks, and `--load-state` then keeps its
effects (a delivery, a nonce) without its block, receipt or logs. CI saw it after a chain
restart: the gateway said a message was delivered and no MessageDelivered event existed.
Reproduced here: 1 torn dump in 60 under steady traffic on a fresh chain.

    dump = take(rpc_url)   # None when a block was mined into it: keep the last whole one
    dump.state, dump.block # the JSON `anvil --load-state` reads; its newest block

Whole means: every externally owned account has, in the dump, the nonce the chain gives it at
the dump's newest block. Every transaction bumps its sender's nonce, so a block mined into the
dump always shows; comparing head numbers before and after does not (anvil stores the block
after releasing the state, so the head can still read the old number while the dump already
holds the new state). An empty block mined into a dump cannot be seen; its only effects are the
system contracts' history slots, and the relayer proves at a later block when a root disagrees.
The nonces come from a regex over the accounts section (anvil writes `nonce`, `balance`, `code`
in this order) rather than a parse of the whole dump, which is mostly blocks and transactions.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass

from orchestrator.chains.rpc import RpcClient

_BEST = re.compile(rb'"best_block_number":\s*(\d+)')
_EOA = re.compile(rb'"(0x[0-9a-f]{40})":\{"nonce":(\d+),"balance":"[^"]*","code":"0x"')


@dataclass(frozen=True)
class Dump:
    state: bytes  # the JSON `anvil --load-state` reads
    block: int  # its newest block


def take(rpc_url: str, timeout: float = 5.0) -> Dump | None:
    """The chain's state, or None when a block was mined into the dump (try again later)."""
    with RpcClient(rpc_url, timeout=timeout) as node:
        raw = str(node.call("anvil_dumpState"))
        state = gzip.decompress(bytes.fromhex(raw.removeprefix("0x")))
        dump = Dump(state, best_block(state))
        return None if torn(node, dump) else dump


def best_block(state: bytes) -> int:
    """The dump's newest block, read without parsing the whole JSON."""
    found = _BEST.search(state)
    if found is None:
        raise ValueError("anvil dump without best_block_number")
    return int(found.group(1))


def sender_nonces(state: bytes) -> dict[str, int]:
    """Nonce of every account without code that has sent a transaction, as the dump holds it."""
    accounts = state[: state.find(b'"best_block_number"')]
    return {m.group(1).decode(): int(m.group(2)) for m in _EOA.finditer(accounts) if m.group(2) != b"0"}


def torn(node: RpcClient, dump: Dump) -> bool:
    """True when the dump's accounts hold a transaction of a block after its newest one."""
    nonces = sender_nonces(dump.state)
    at = hex(dump.block)
    live = node.batch([("eth_getTransactionCount", [address, at]) for address in nonces])
    return any(isinstance(n, Exception) or int(n, 16) != nonces[a] for a, n in zip(nonces, live, strict=True))
