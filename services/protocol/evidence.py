"""Slashing evidence from what registries and guardians publish (watchtower, equivocation watcher).

Every root a StateRootRegistry stores is logged with its signers and their signatures
(`AttestationSubmitted`). A signature by one of those signers of a *different* root for the same
(chain, block), under the same instance, is evidence for `GuardianStaking.slash`.

    ATTESTATION_SUBMITTED_TOPIC                        # topic0; topics 1, 2 = chainId, blockNumber
    stored = StoredRoot.from_log(log)                  # a raw eth_getLogs entry or a web3 log
    for ev in equivocations(stored, [(att, sig), ...], instance_id):
        staking.slash(*ev.slash_args())                # (a tuple, sigA, b tuple, sigB)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from eth_abi import decode
from eth_utils import keccak, to_checksum_address

from services.protocol.attestation import Attestation, recover_signer

ATTESTATION_SUBMITTED_TOPIC = (
    "0x" + keccak(text="AttestationSubmitted(uint256,uint256,bytes32,bytes32,address[],bytes[])").hex()
)


def _bytes(value: Any) -> bytes:
    return bytes.fromhex(value[2:]) if isinstance(value, str) else bytes(value)


@dataclass(frozen=True)
class StoredRoot:
    """A root some registry stored, with who signed it."""

    attestation: Attestation
    signers: tuple[str, ...]  # checksummed, in submission order
    signatures: tuple[bytes, ...]

    @classmethod
    def from_log(cls, log: Mapping[str, Any]) -> StoredRoot:
        topics = [_bytes(t) for t in log["topics"]]
        if len(topics) != 3 or "0x" + topics[0].hex() != ATTESTATION_SUBMITTED_TOPIC:
            raise ValueError("not an AttestationSubmitted log")
        block_hash, state_root, signers, sigs = decode(
            ["bytes32", "bytes32", "address[]", "bytes[]"], _bytes(log["data"])
        )
        att = Attestation(int.from_bytes(topics[1], "big"), int.from_bytes(topics[2], "big"), block_hash, state_root)
        return cls(att, tuple(to_checksum_address(s) for s in signers), tuple(bytes(s) for s in sigs))

    def signature_of(self, signer: str) -> bytes | None:
        for s, sig in zip(self.signers, self.signatures, strict=True):
            if s.lower() == signer.lower():
                return sig
        return None


@dataclass(frozen=True)
class Evidence:
    """Two conflicting attestations signed by one guardian: the arguments of GuardianStaking.slash."""

    guardian: str
    a: Attestation
    sig_a: bytes
    b: Attestation
    sig_b: bytes

    def slash_args(self) -> tuple[tuple[int, int, bytes, bytes], bytes, tuple[int, int, bytes, bytes], bytes]:
        return self.a.as_tuple(), self.sig_a, self.b.as_tuple(), self.sig_b


def conflicting(a: Attestation, b: Attestation) -> bool:
    return (a.chain_id, a.block_number) == (b.chain_id, b.block_number) and (
        (a.block_hash, a.state_root) != (b.block_hash, b.state_root)
    )


def equivocations(
    stored: StoredRoot, others: Iterable[tuple[Attestation, bytes]], instance_id: bytes | str
) -> Iterator[Evidence]:
    """Evidence against every signer of `stored` that also signed a conflicting attestation in `others`.

    Signatures that do not recover under `instance_id` (another run, garbage) yield nothing.
    """
    for att, sig in others:
        if not conflicting(stored.attestation, att):
            continue
        try:
            signer = recover_signer(att, sig, instance_id)
        except Exception:  # a malformed signature is no evidence
            continue
        mine = stored.signature_of(signer)
        if mine is not None and recover_signer(stored.attestation, mine, instance_id) == signer:
            yield Evidence(signer, stored.attestation, mine, att, sig)
