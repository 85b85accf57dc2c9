"""One eth_getProof for all of a batch's commitment slots, checked against the attested root."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any

from eth_hash.auto import keccak

from services.common.chain import ChainLink
from services.common.rpc import RpcError
from services.protocol.proofs import parse_proof

RETRIES = 20


def proof_matches(proof: Any, state_root: bytes) -> bool:
    """The proof's root nodes hash to the attested state root and to the account's storage root."""
    if not proof.account_proof or keccak(proof.account_proof[0]) != bytes(state_root):
        return False
    return all(keccak(p[0]) == proof.storage_hash for p in proof.storage_proofs.values() if p)


class StateGone(RuntimeError):
    """The source keeps no state of that block any more: restarted from a dump (`--load-state`),
    anvil answers eth_getProof at older blocks with BlockOutOfRangeError. A newer block proves
    the same commitments (they are never deleted)."""


async def get_proof(link: ChainLink, gateway: str, slots: list[bytes], block: int) -> Any:
    try:
        answer = await link.rpc.call("eth_getProof", [gateway, ["0x" + s.hex() for s in slots], hex(block)])
    except RpcError as exc:
        if "BlockOutOfRange" in str(exc):
            raise StateGone(f"{link.name} keeps no state of block {block}: {exc}") from None
        raise
    return parse_proof(answer, block)


class ProofPrefetch:
    """Proofs asked for as soon as the scanner reads a block's messages, before they are queued
    and batched: the source answers eth_getProof (its slowest answer on the delivery path) while
    the relayer does that. A batch attested at that block whose slots are all in the proof uses
    it; any other asks for its own. Measured in `bench.py latency` (5 alternating pairs, with the
    lazy checking of pushed signatures in guardians.py): p50 5.48 against 5.73 ms."""

    def __init__(self, limit: int = 64):
        self.limit = limit
        self._proofs: OrderedDict[tuple[int, int], tuple[frozenset[bytes], asyncio.Future[Any]]] = OrderedDict()

    def start(self, link: ChainLink, gateway: str, block: int, slots: list[bytes]) -> None:
        key = (link.chain_id, block)
        if key in self._proofs:
            return
        proof = asyncio.ensure_future(get_proof(link, gateway, slots, block))
        proof.add_done_callback(lambda f: f.cancelled() or f.exception())  # an unused failure is no error
        self._proofs[key] = (frozenset(slots), proof)
        while len(self._proofs) > self.limit:
            _, (_, old) = self._proofs.popitem(last=False)
            old.cancel()

    def take(self, src: int, block: int, slots: list[bytes]) -> asyncio.Future[Any] | None:
        """The proof prefetched at (src, block) if it covers `slots` (shared: several batches of
        one block, to several destinations, use the same proof); else None."""
        entry = self._proofs.get((src, block))
        if entry is None or not entry[0].issuperset(slots) or entry[1].cancelled():
            return None
        return entry[1]

    def forget(self, src: int, block: int) -> None:
        """A proof that turned out useless (e.g. of another state): ask afresh next time."""
        self._proofs.pop((src, block), None)


class ProofMismatch(RuntimeError):
    """eth_getProof at a block keeps disagreeing with the root attested for it."""


async def consistent_proof(link: ChainLink, gateway: str, slots: list[bytes], block: int, state_root: bytes) -> Any:
    """Fetch eth_getProof again until it matches the attested root.

    Measured: anvil answers eth_getProof for a block that was just mined, while further
    blocks are being mined, with nodes of another state about 5% of the time (1% when
    asked by block hash). Delivering such a proof only wastes a reverted transaction
    (InvalidAccountProof(INVALID_ROOT)), so it is checked here first.
    """
    for attempt in range(RETRIES):
        await asyncio.sleep(0.002 * (attempt + 1))
        proof = await get_proof(link, gateway, slots, block)
        if proof_matches(proof, state_root):
            return proof
    raise ProofMismatch(f"{link.name}: eth_getProof at block {block} keeps disagreeing with the attested root")
