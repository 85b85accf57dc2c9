"""Storage slots of common Solidity layouts, computed as solc lays them out.

    mapping_slot(key, base)               # keccak256(pad32(key) ++ pad32(base)): mapping(k => v) at `base`
    erc7201_slot("openzeppelin.storage.ERC20")   # keccak256(keccak256(id) - 1) & ~0xff (ERC-7201)
    erc20_balance_slot(holder)            # OpenZeppelin 5 ERC20 `_balances[holder]`

OpenZeppelin Contracts 5 (`@openzeppelin/contracts`) keeps `_balances` as the first state
variable, slot 0, of any token whose first base with storage is ERC20 (EraToken included).
The upgradeable package (`@openzeppelin/contracts-upgradeable`) keeps it in ERC-7201 namespaced
storage instead: `layout="oz-upgradeable"`. Any other layout: give the mapping's base slot.
"""

from __future__ import annotations

import re

from eth_utils import keccak

LAYOUTS = ("oz", "oz-upgradeable")
ERC20_NAMESPACE = "openzeppelin.storage.ERC20"


def to_word(value: int | str | bytes) -> bytes:
    """A key or slot as 32 bytes: ints big-endian, 0x-hex (addresses included) left-padded."""
    if isinstance(value, int):
        if value < 0 or value >= 2**256:
            raise ValueError(f"{value} does not fit in 32 bytes")
        return value.to_bytes(32, "big")
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"0x[0-9a-fA-F]{1,64}", text):
            return bytes.fromhex(text[2:].rjust(64, "0"))
        if re.fullmatch(r"[0-9]+", text):
            return to_word(int(text))
        raise ValueError(f"{value!r} is neither a number nor 0x-hex of at most 32 bytes")
    raw = bytes(value)
    if len(raw) > 32:
        raise ValueError("more than 32 bytes")
    return raw.rjust(32, b"\0")


def mapping_slot(key: int | str | bytes, base: int | str | bytes) -> bytes:
    """The slot of `m[key]` for a mapping `m` with a value-type key at slot `base`."""
    return keccak(to_word(key) + to_word(base))


def erc7201_slot(namespace: str) -> bytes:
    """The base slot of an ERC-7201 namespace (`@custom:storage-location erc7201:<namespace>`)."""
    inner = int.from_bytes(keccak(text=namespace), "big") - 1
    return (int.from_bytes(keccak(inner.to_bytes(32, "big")), "big") & ~0xFF).to_bytes(32, "big")


def erc20_balance_slot(holder: str, layout: str = "oz") -> bytes:
    """The slot of `holder`'s balance in an OpenZeppelin 5 ERC20 (`layout`: see LAYOUTS)."""
    if not re.fullmatch(r"0x[0-9a-fA-F]{40}", holder.strip()):  # to_word would pad 0x12 into a "holder"
        raise ValueError(f"ERC20 holder {holder!r} is not a 20-byte 0x address")
    if layout == "oz":
        return mapping_slot(holder, 0)
    if layout == "oz-upgradeable":
        return mapping_slot(holder, erc7201_slot(ERC20_NAMESPACE))  # _balances: first field
    raise ValueError(f"unknown ERC20 layout {layout!r} (known: {', '.join(LAYOUTS)})")
