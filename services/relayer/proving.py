"""One eth_getProof for all of a batch's commitment slots, checked against the attested root."""

from __future__ import annotations

import asyncio
from typing import Any

from eth_hash.auto import keccak

from services.common.chain import ChainLink
from services.protocol.proofs import parse_proof

RETRIES = 20


def proof_matches(proof: Any, state_root: bytes) -> bool:
    """The proof's root nodes hash to the attested state root and to the account's storage root."""
    if not proof.account_proof or keccak(proof.account_proof[0]) != bytes(state_root):
        return False
    return all(keccak(p[0]) == proof.storage_hash for p in proof.storage_proofs.values() if p)


async def get_proof(link: ChainLink, gateway: str, slots: list[bytes], block: int) -> Any:
    return parse_proof(
        await link.rpc.call("eth_getProof", [gateway, ["0x" + s.hex() for s in slots], hex(block)]), block
    )


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
