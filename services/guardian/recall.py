"""What this guardian signed before, read back from the registries at start.

A guardian never signs two roots for one (chain, block): its store remembers the first. A store
that is lost (deleted, a fresh disk, a backup older than the run) forgot them, and after a
source rewind (evm_revert, anvil_reorg) the same height holds another block: seen on a devnet,
a guardian restarted with an empty store signed the new root of a height it had signed, which
is slashable evidence against an honest key. Every signature of it that reached a registry is in
that registry's AttestationSubmitted logs (signers and signatures), so they are put back in the
store before any head is signed. (Signatures that never reached a chain are gone with the store;
the relayer only submits what a quorum signed, so such a root was never used.)
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from services.common.rpc import RpcError
from services.guardian.store import SignedStore

log = logging.getLogger("guardian")


class Rpc(Protocol):
    async def call(
        self, method: str, params: list[Any] | tuple[Any, ...] = (), timeout: float | None = None
    ) -> Any: ...


async def recall(store: SignedStore, address: str, registry: str, rpcs: dict[int, Rpc]) -> int:
    """Put back in `store` every root `address` signed that a registry stored (on any chain of
    `rpcs`); the first stored root of a (chain, block) wins. Returns how many were added."""
    from services.protocol.evidence import ATTESTATION_SUBMITTED_TOPIC, StoredRoot  # eth_abi: only here

    added = 0
    for chain_id, rpc in rpcs.items():
        query = {"address": registry, "topics": [ATTESTATION_SUBMITTED_TOPIC], "fromBlock": "0x0", "toBlock": "latest"}
        try:
            logs = await rpc.call("eth_getLogs", [query])
        except (RpcError, ConnectionError, TimeoutError) as exc:
            log.warning("chain %d: cannot read its registry's stored roots (%s)", chain_id, exc)
            continue
        for lg in logs:
            if _known(store, lg):  # the usual case (the store is intact): no ABI decoding
                continue
            try:
                root = StoredRoot.from_log(lg)
            except (ValueError, KeyError, TypeError):
                continue
            sig = root.signature_of(address)
            att = root.attestation
            if sig is None or store.get(att.chain_id, att.block_number) is not None:
                continue
            store.put_once(att.chain_id, att.block_number, att.block_hash, att.state_root, sig)
            added += 1
    if added:
        log.warning("recalled %d root(s) this guardian signed from the registries: never signed otherwise", added)
    return added


def _known(store: SignedStore, lg: dict[str, Any]) -> bool:
    """The store holds a root for the log's (chain, block), read from its indexed topics: decoding
    every log's signers with eth_abi takes ~80 us (measured), at every start and every fixture resume."""
    try:
        topics = lg["topics"]
        return store.get(int(topics[1], 16), int(topics[2], 16)) is not None
    except (KeyError, IndexError, TypeError, ValueError):
        return False
