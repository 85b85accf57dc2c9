"""EIP-712 state-root attestations, identical on every chain of one devnet instance.

Domain `EIP712Domain(string name,string version,bytes32 salt)` = ("Metalayer", "1", instance id):
no chainId, no verifyingContract, so one signature set verifies on every chain of the devnet;
the salt is the devnet instance id (fresh on every `devnet up`, in the manifest as `instance_id`
and in every registry as `instanceId()`), so nothing signed in one run verifies in another.
Type `Attestation(uint256 chainId,uint256 blockNumber,bytes32 blockHash,bytes32 stateRoot)`.

    Attestation(chain_id, block_number, block_hash, state_root)   .as_tuple() -> ABI tuple
    Attestation.from_block(chain_id, block)     # from a web3 block dict (number, hash, stateRoot)
    domain_separator(instance_id) -> bytes32    # == StateRootRegistry.domainSeparator()
    attestation_digest(att, instance_id) -> bytes32   # == StateRootRegistry.attestationDigest(att)
    sign_attestation(att, private_key, instance_id) -> bytes   # 65 bytes r|s|v (v in {27, 28})
    recover_signer(att, signature, instance_id) -> checksummed address
`instance_id` is 32 bytes or its 0x-hex string.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eth_abi import encode
from eth_utils import keccak

DOMAIN_TYPEHASH = keccak(text="EIP712Domain(string name,string version,bytes32 salt)")
ATTESTATION_TYPEHASH = keccak(
    text="Attestation(uint256 chainId,uint256 blockNumber,bytes32 blockHash,bytes32 stateRoot)"
)


def _b32(value: bytes | str) -> bytes:
    if isinstance(value, str):
        value = bytes.fromhex(value.removeprefix("0x"))
    value = bytes(value)
    if len(value) != 32:
        raise ValueError(f"expected 32 bytes, got {len(value)}")
    return value


@dataclass(frozen=True)
class Attestation:
    chain_id: int
    block_number: int
    block_hash: bytes
    state_root: bytes

    def __post_init__(self) -> None:
        object.__setattr__(self, "block_hash", _b32(self.block_hash))
        object.__setattr__(self, "state_root", _b32(self.state_root))

    @classmethod
    def from_block(cls, chain_id: int, block: Mapping[str, Any]) -> Attestation:
        return cls(chain_id, int(block["number"]), bytes(block["hash"]), bytes(block["stateRoot"]))

    def as_tuple(self) -> tuple[int, int, bytes, bytes]:
        return (self.chain_id, self.block_number, self.block_hash, self.state_root)

    def digest(self, instance_id: bytes | str) -> bytes:
        return attestation_digest(self, instance_id)


def domain_separator(instance_id: bytes | str) -> bytes:
    return keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "bytes32"],
            [DOMAIN_TYPEHASH, keccak(text="Metalayer"), keccak(text="1"), _b32(instance_id)],
        )
    )


def attestation_digest(att: Attestation, instance_id: bytes | str) -> bytes:
    struct_hash = keccak(
        encode(
            ["bytes32", "uint256", "uint256", "bytes32", "bytes32"],
            [ATTESTATION_TYPEHASH, att.chain_id, att.block_number, att.block_hash, att.state_root],
        )
    )
    return keccak(b"\x19\x01" + domain_separator(instance_id) + struct_hash)


def sign_attestation(att: Attestation, private_key: str | bytes, instance_id: bytes | str) -> bytes:
    from eth_account import Account  # here, not at the top: ~20 MB a relayer or solver need not hold

    signed = Account.unsafe_sign_hash(attestation_digest(att, instance_id), private_key)
    return signed.r.to_bytes(32, "big") + signed.s.to_bytes(32, "big") + bytes([signed.v])


def recover_signer(att: Attestation, signature: bytes, instance_id: bytes | str) -> str:
    from eth_account import Account

    return Account._recover_hash(attestation_digest(att, instance_id), signature=bytes(signature))
