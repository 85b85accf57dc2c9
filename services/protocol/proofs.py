"""`eth_getProof` fetching and encoding into the calldata the gateway expects.

The gateway takes proofs as `bytes[]` (the RLP trie nodes exactly as eth_getProof
returns them): `accountProof` for the gateway account (or any account for
`verifyStorage`) against the attested `stateRoot`, and one `storageProof` per slot
against that account's `storageHash`.

    ProofBundle(address, block_number, account_proof, storage_hash, storage_proofs, storage_values)
        storage_proofs / storage_values: dict slot(bytes32) -> list[bytes] / int
        .storage_proof(slot) -> list[bytes]
        .verify(state_root) -> bool    # local check with py-trie (optional sanity check)
    parse_proof(result, block_number) -> ProofBundle   # from a raw JSON-RPC or web3 eth_getProof result
    fetch_proof(w3, address, slots, block_number) -> ProofBundle          # web3.Web3
    await afetch_proof(aw3, address, slots, block_number) -> ProofBundle  # web3.AsyncWeb3
    fetch_message_proofs(w3, gateway, messages, block_number) -> (account_proof, [storage_proof...])
        # ready for deliverBatch; one eth_getProof call for all slots
    compress_storage_proofs(storage_proofs) -> [storage_proof...]
        # for deliverBatch / attestAndDeliverBatch only: a node equal to the node at the same
        # position of the previous message's proof is replaced by b"" (the gateway reuses it);
        # saves ~40% of a batch's gas. Never use it for deliverMessage.

Slots may be given as bytes32 or int; in the bundle they are normalised to 32 bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import rlp
from eth_utils import keccak, to_canonical_address, to_checksum_address

# keccak(rlp(b"")): the root of a trie with no keys (an account without storage)
EMPTY_TRIE_ROOT = bytes.fromhex("56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421")


def _bytes(value: Any) -> bytes:
    if isinstance(value, str):
        return bytes.fromhex(value.removeprefix("0x").rjust(2 * ((len(value.removeprefix("0x")) + 1) // 2), "0"))
    if isinstance(value, int):
        return value.to_bytes(32, "big")
    return bytes(value)


def _slot(value: Any) -> bytes:
    if isinstance(value, int):
        return value.to_bytes(32, "big")
    raw = _bytes(value)
    return raw.rjust(32, b"\0")


def _int(value: Any) -> int:
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return int(value, 16)
    return int.from_bytes(bytes(value), "big")


@dataclass(frozen=True)
class ProofBundle:
    address: str
    block_number: int
    account_proof: list[bytes]
    storage_hash: bytes
    storage_proofs: dict[bytes, list[bytes]] = field(default_factory=dict)
    storage_values: dict[bytes, int] = field(default_factory=dict)

    def storage_proof(self, slot: bytes | int) -> list[bytes]:
        return self.storage_proofs[_slot(slot)]

    def verify(self, state_root: bytes) -> bool:
        """Check the account and storage proofs locally against `state_root` (py-trie)."""
        from trie import HexaryTrie

        try:
            account_rlp = HexaryTrie.get_from_proof(
                bytes(state_root),
                keccak(to_canonical_address(self.address)),
                [rlp.decode(n) for n in self.account_proof],
            )
            if not account_rlp:  # the account does not exist (exclusion proof): its storage is empty
                return self.storage_hash == EMPTY_TRIE_ROOT and not any(self.storage_values.values())
            _nonce, _balance, storage_root, _code = rlp.decode(account_rlp)
            if storage_root != self.storage_hash:
                return False
            if storage_root == EMPTY_TRIE_ROOT:  # no storage: every slot is 0, nothing more to prove
                return not any(self.storage_values.values())
            for slot, proof in self.storage_proofs.items():
                value = HexaryTrie.get_from_proof(storage_root, keccak(slot), [rlp.decode(n) for n in proof])
                expected = self.storage_values[slot]
                got = int.from_bytes(rlp.decode(value), "big") if value else 0
                if got != expected:
                    return False
        except Exception:
            return False
        return True


def parse_proof(result: Mapping[str, Any], block_number: int) -> ProofBundle:
    proofs: dict[bytes, list[bytes]] = {}
    values: dict[bytes, int] = {}
    for entry in result.get("storageProof", []):
        slot = _slot(entry["key"])
        proofs[slot] = [_bytes(node) for node in entry["proof"]]
        values[slot] = _int(entry["value"])
    return ProofBundle(
        address=to_checksum_address(result["address"]),
        block_number=block_number,
        account_proof=[_bytes(node) for node in result["accountProof"]],
        storage_hash=_slot(result["storageHash"]),
        storage_proofs=proofs,
        storage_values=values,
    )


def _slot_params(slots: Iterable[bytes | int]) -> list[str]:
    return ["0x" + _slot(s).hex() for s in slots]


def fetch_proof(w3: Any, address: str, slots: Sequence[bytes | int], block_number: int) -> ProofBundle:
    """eth_getProof through a synchronous web3.Web3 (raw request: no result munging)."""
    resp = w3.provider.make_request(
        "eth_getProof", [to_checksum_address(address), _slot_params(slots), hex(block_number)]
    )
    if "error" in resp:
        raise RuntimeError(f"eth_getProof: {resp['error']}")
    return parse_proof(resp["result"], block_number)


async def afetch_proof(aw3: Any, address: str, slots: Sequence[bytes | int], block_number: int) -> ProofBundle:
    """eth_getProof through a web3.AsyncWeb3."""
    resp = await aw3.provider.make_request(
        "eth_getProof", [to_checksum_address(address), _slot_params(slots), hex(block_number)]
    )
    if "error" in resp:
        raise RuntimeError(f"eth_getProof: {resp['error']}")
    return parse_proof(resp["result"], block_number)


def fetch_message_proofs(
    w3: Any, gateway: str, messages: Sequence[Any], block_number: int
) -> tuple[list[bytes], list[list[bytes]]]:
    """(accountProof, storageProofs) for `messages` (services.protocol.Message) at `block_number`."""
    bundle = fetch_proof(w3, gateway, [m.slot for m in messages], block_number)
    return bundle.account_proof, [bundle.storage_proof(m.slot) for m in messages]


def compress_storage_proofs(storage_proofs: Sequence[Sequence[bytes]]) -> list[list[bytes]]:
    """Replace each node equal to the previous proof's node at the same position by b"".

    The gateway (deliverBatch, attestAndDeliverBatch) resolves an empty node to the node at the
    same position of the previous message's (resolved) proof and hash-checks it as usual.
    """
    out: list[list[bytes]] = []
    previous: list[bytes] = []
    for proof in storage_proofs:
        nodes = [bytes(n) for n in proof]
        out.append([b"" if j < len(previous) and node == previous[j] else node for j, node in enumerate(nodes)])
        # the gateway remembers, per position, the last node it was given (or reused)
        previous = nodes + previous[len(nodes) :]
    return out
