"""Attestation digest, signing and recovery on the per-block hot path, with light imports.

The reference implementation is services.protocol.attestation (eth_abi + eth_account);
this module computes byte-identical results from raw bytes with eth_hash and libsecp256k1
(coincurve) and imports neither eth_account nor eth_utils, so a guardian process starts
~0.3 s faster, holds ~15 MB less, and signs a block in ~0.1 ms instead of ~0.6 ms.
tests/services/test_common.py checks every function against the reference.

The EIP-712 domain is salted with the devnet instance id (manifest `instance_id`), so a
`Domain` is made once per process and reused:

    domain = Domain(instance_id)            # 32 bytes or 0x-hex
    domain.digest(chain_id, block_number, block_hash, state_root) -> bytes32
    signer = AttestationSigner(private_key, domain); signer.address; signer.sign(...) -> 65 bytes (v 27/28)
    recover(digest, signature) -> checksummed address
"""

from __future__ import annotations

import coincurve
from eth_hash.auto import keccak

DOMAIN_TYPEHASH = keccak(b"EIP712Domain(string name,string version,bytes32 salt)")
ATTESTATION_TYPEHASH = keccak(b"Attestation(uint256 chainId,uint256 blockNumber,bytes32 blockHash,bytes32 stateRoot)")


def instance_bytes(instance_id: bytes | str) -> bytes:
    raw = bytes.fromhex(instance_id.removeprefix("0x")) if isinstance(instance_id, str) else bytes(instance_id)
    if len(raw) != 32:
        raise ValueError(f"an instance id is 32 bytes, got {len(raw)}")
    return raw


class Domain:
    """The EIP-712 domain of one devnet instance."""

    def __init__(self, instance_id: bytes | str):
        self.instance_id = instance_bytes(instance_id)
        self.separator = keccak(DOMAIN_TYPEHASH + keccak(b"Metalayer") + keccak(b"1") + self.instance_id)

    def digest(self, chain_id: int, block_number: int, block_hash: bytes, state_root: bytes) -> bytes:
        struct = keccak(
            ATTESTATION_TYPEHASH
            + chain_id.to_bytes(32, "big")
            + block_number.to_bytes(32, "big")
            + bytes(block_hash)
            + bytes(state_root)
        )
        return keccak(b"\x19\x01" + self.separator + struct)


def checksum(address: bytes) -> str:
    """EIP-55 checksummed hex of a 20-byte address."""
    hexaddr = address.hex()
    h = keccak(hexaddr.encode()).hex()
    return "0x" + "".join(c.upper() if int(h[i], 16) >= 8 else c for i, c in enumerate(hexaddr))


def checksum_ok(address: str) -> bool:
    """A 0x + 40 hex address in one case, or mixed case with a right EIP-55 checksum (else a typo)."""
    digits = address[2:]
    return digits in (digits.lower(), digits.upper()) or checksum(bytes.fromhex(digits)) == "0x" + digits


def _address_of(public_key: coincurve.PublicKey) -> str:
    return checksum(keccak(public_key.format(compressed=False)[1:])[-20:])


class AttestationSigner:
    def __init__(self, private_key: str | bytes, domain: Domain):
        raw = bytes.fromhex(private_key.removeprefix("0x")) if isinstance(private_key, str) else bytes(private_key)
        self._key = coincurve.PrivateKey(raw)
        self.domain = domain
        self.address = _address_of(self._key.public_key)

    def sign_digest(self, d: bytes) -> bytes:
        sig = self._key.sign_recoverable(d, hasher=None)
        return sig[:64] + bytes([sig[64] + 27])

    def sign(self, chain_id: int, block_number: int, block_hash: bytes, state_root: bytes) -> bytes:
        return self.sign_digest(self.domain.digest(chain_id, block_number, block_hash, state_root))


def recover(d: bytes, signature: bytes) -> str:
    if len(signature) != 65 or signature[64] not in (27, 28):
        raise ValueError("expected a 65-byte signature with v 27 or 28")
    pub = coincurve.PublicKey.from_signature_and_message(signature[:64] + bytes([signature[64] - 27]), d, hasher=None)
    return _address_of(pub)
