"""Signing EIP-1559 transactions locally, fast (rlp + coincurve via eth_keys).

eth_account does the same through several layers of validation; the relayer
signs one transaction per delivery batch on the latency path.

    raw, tx_hash = sign_1559(private_key, chain_id, nonce, to, data, gas, max_fee, priority_fee)
"""

from __future__ import annotations

import rlp
from eth_keys import keys
from eth_utils import keccak


def _addr(address: str) -> bytes:
    return bytes.fromhex(address[2:] if address.startswith("0x") else address)


class Signer:
    def __init__(self, private_key: str | bytes):
        raw = bytes.fromhex(private_key[2:]) if isinstance(private_key, str) else bytes(private_key)
        self.key = keys.PrivateKey(raw)
        self.address = self.key.public_key.to_checksum_address()

    def sign_1559(
        self,
        chain_id: int,
        nonce: int,
        to: str | None,
        data: bytes,
        gas: int,
        max_fee: int,
        priority_fee: int,
        value: int = 0,
    ) -> tuple[bytes, str]:
        """(raw transaction bytes, 0x tx hash); `to=None` creates a contract."""
        fields = [chain_id, nonce, priority_fee, max_fee, gas, _addr(to) if to else b"", value, data, []]
        digest = keccak(b"\x02" + rlp.encode(fields))
        sig = self.key.sign_msg_hash(digest)
        raw = b"\x02" + rlp.encode(fields + [sig.v, sig.r, sig.s])
        return raw, "0x" + keccak(raw).hex()
