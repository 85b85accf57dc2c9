"""ERC-7930 interoperable addresses (version 1, EVM chains), byte-compatible with OZ `InteroperableAddress`.

Layout: version (2 bytes, 0x0001) | chain type (2 bytes, 0x0000 = eip155) |
chain reference length (1) | chain reference (minimal big-endian chain id) |
address length (1) | address (20 bytes for EVM).

    encode_evm(chain_id, address) -> bytes        # formatEvmV1(chainid, addr)
    encode_evm_chain(chain_id) -> bytes           # formatEvmV1(chainid): chain only, empty address
    decode_evm(data) -> (chain_id, address|None)  # parseEvmV1; address checksummed, None if empty
    decode_recipient(data) -> (chain_id, address) # what the gateway accepts as a recipient: exactly
                                                  # encode_evm's output (InteropAddressError otherwise)
"""

from __future__ import annotations

from eth_utils import to_canonical_address, to_checksum_address

VERSION = b"\x00\x01"
CHAIN_TYPE_EIP155 = b"\x00\x00"


class InteropAddressError(ValueError):
    """Bytes that are not a version-1 EVM ERC-7930 address."""


def _chain_reference(chain_id: int) -> bytes:
    if chain_id <= 0:
        raise InteropAddressError(f"chain id must be positive, got {chain_id}")
    return chain_id.to_bytes((chain_id.bit_length() + 7) // 8, "big")


def encode_evm(chain_id: int, address: str | bytes) -> bytes:
    """ERC-7930 bytes for an account on an EVM chain."""
    ref = _chain_reference(chain_id)
    addr = to_canonical_address(address)
    return VERSION + CHAIN_TYPE_EIP155 + bytes([len(ref)]) + ref + bytes([20]) + addr


def encode_evm_chain(chain_id: int) -> bytes:
    """ERC-7930 bytes naming only an EVM chain (empty address)."""
    ref = _chain_reference(chain_id)
    return VERSION + CHAIN_TYPE_EIP155 + bytes([len(ref)]) + ref + b"\x00"


def decode_evm(data: bytes | str) -> tuple[int, str | None]:
    """(chain_id, checksummed address or None) of an EVM ERC-7930 address; chain_id 0 if absent."""
    if isinstance(data, str):
        data = bytes.fromhex(data.removeprefix("0x"))
    if len(data) < 6 or data[:2] != VERSION:
        raise InteropAddressError(f"not an ERC-7930 v1 address: 0x{data.hex()}")
    if data[2:4] != CHAIN_TYPE_EIP155:
        raise InteropAddressError(f"not an eip155 chain type: 0x{data[2:4].hex()}")
    ref_len = data[4]
    if len(data) < 6 + ref_len:
        raise InteropAddressError(f"truncated ERC-7930 address: 0x{data.hex()}")
    chain_id = int.from_bytes(data[5 : 5 + ref_len], "big") if ref_len else 0
    addr_len = data[5 + ref_len]
    addr = data[6 + ref_len : 6 + ref_len + addr_len]
    if len(addr) != addr_len or addr_len not in (0, 20):
        raise InteropAddressError(f"bad EVM address in ERC-7930 bytes: 0x{data.hex()}")
    return chain_id, (to_checksum_address(addr) if addr_len else None)


def decode_recipient(data: bytes | str) -> tuple[int, str]:
    """(chain_id, address) of a canonical recipient, as MetalayerGateway.sendMessage accepts it:
    a chain id > 0 with a minimal (no leading zero) reference, a non-zero 20-byte address, nothing after."""
    raw = bytes.fromhex(data.removeprefix("0x")) if isinstance(data, str) else bytes(data)
    chain_id, address = decode_evm(raw)
    if not chain_id or address is None or int(address, 16) == 0 or encode_evm(chain_id, address) != raw:
        raise InteropAddressError(f"not a canonical ERC-7930 EVM recipient: 0x{raw.hex()}")
    return chain_id, address
