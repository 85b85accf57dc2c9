"""What this guardian signed before, read back from the registries at start.

A guardian never signs two roots for one (chain, block): its store remembers the first. A store
that is lost (deleted, a fresh disk, a backup older than the run) forgot them, and after a
source rewind (evm_revert, anvil_reorg) the same height holds another block: seen on a devnet,
a guardian restarted with an empty store signed the new root of a height it had signed, which
is slashable evidence against an honest key. Every signature of it that reached a registry is in
that registry's AttestationSubmitted logs (signers and signatures), so they are put back in the
store before any head is signed. (Signatures that never reached a chain are gone with the store;
the relayer only submits what a quorum signed, so such a root was never used.)

The logs are decoded by hand (`_signed_by`), not with eth_abi: importing eth_abi costs each
guardian ~7 MB of RSS (40.3 -> 47.4 MB measured; three guardians +21 MB, which took the
throughput bench's whole devnet past its 600 MB target).
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from eth_hash.auto import keccak

from services.common.rpc import RpcError
from services.guardian.store import SignedStore

log = logging.getLogger("guardian")

ATTESTATION_SUBMITTED_TOPIC = (
    "0x" + keccak(b"AttestationSubmitted(uint256,uint256,bytes32,bytes32,address[],bytes[])").hex()
)
MAX_SIGNERS = 256  # a registry's guardian set is far smaller; bounds a malformed log's loops


class Rpc(Protocol):
    async def call(
        self, method: str, params: list[Any] | tuple[Any, ...] = (), timeout: float | None = None
    ) -> Any: ...


async def recall(store: SignedStore, address: str, registry: str, rpcs: dict[int, Rpc]) -> int:
    """Put back in `store` every root `address` signed that a registry stored (on any chain of
    `rpcs`); the first stored root of a (chain, block) wins. Returns how many were added."""
    added = 0
    me = bytes.fromhex(address.removeprefix("0x").lower())
    for chain_id, rpc in rpcs.items():
        query = {"address": registry, "topics": [ATTESTATION_SUBMITTED_TOPIC], "fromBlock": "0x0", "toBlock": "latest"}
        try:
            logs = await rpc.call("eth_getLogs", [query])
        except (RpcError, ConnectionError, TimeoutError) as exc:
            log.warning("chain %d: cannot read its registry's stored roots (%s)", chain_id, exc)
            continue
        for lg in logs:
            try:
                source, block = int(lg["topics"][1], 16), int(lg["topics"][2], 16)
                if store.get(source, block) is not None:  # the usual case: an intact store
                    continue
                signed = _signed_by(bytes.fromhex(lg["data"].removeprefix("0x")), me)
            except (KeyError, IndexError, TypeError, ValueError):
                continue
            if signed is not None:
                store.put_once(source, block, *signed)
                added += 1
    if added:
        log.warning("recalled %d root(s) this guardian signed from the registries: never signed otherwise", added)
    return added


def _word(data: bytes, at: int) -> int:
    if at < 0 or at + 32 > len(data):
        raise ValueError("log data too short")
    return int.from_bytes(data[at : at + 32], "big")


def _signed_by(data: bytes, signer: bytes) -> tuple[bytes, bytes, bytes] | None:
    """(block hash, state root, signer's signature) from an AttestationSubmitted log's data
    `(bytes32 blockHash, bytes32 stateRoot, address[] signers, bytes[] signatures)`, or None when
    `signer` is not among the signers; ValueError when the data is malformed."""
    block_hash, state_root = data[:32], data[32:64]
    signers_at, sigs_at = _word(data, 64), _word(data, 96)
    count = _word(data, signers_at)
    if count > MAX_SIGNERS or _word(data, sigs_at) != count:
        raise ValueError("signers and signatures do not match")
    for i in range(count):
        if _word(data, signers_at + 32 * (i + 1)).to_bytes(32, "big")[12:] != signer:
            continue
        head = sigs_at + 32  # the array's offsets are relative to the start of its contents
        at = head + _word(data, head + 32 * i)
        length = _word(data, at)
        if at + 32 + length > len(data):
            raise ValueError("signature past the end of the log data")
        return block_hash, state_root, data[at + 32 : at + 32 + length]
    return None
