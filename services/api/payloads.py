"""A message payload from what a client sends: hex, text, or a contract call (cast-style).

encode_call("increment(uint256)", [7])  -> selector + abi.encode(uint256 7)
"""

from __future__ import annotations

import re
from typing import Any

import eth_abi
from eth_abi.exceptions import EncodingError, ParseError
from eth_abi.grammar import ABIType, BasicType, TupleType, parse
from eth_utils import keccak

from services.api.schemas import MAX_PAYLOAD_BYTES, CallPayload, HexPayload, TextPayload

SIGNATURE = re.compile(r"^\s*([A-Za-z_$][A-Za-z0-9_$]*)\s*\((.*)\)\s*$", re.S)


class PayloadError(ValueError):
    """The payload cannot be encoded (the message says why)."""


def encode(payload: HexPayload | TextPayload | CallPayload | None) -> bytes:
    """The payload's bytes, at most MAX_PAYLOAD_BYTES whatever form it came in (checked before any chain call)."""
    data = _bytes(payload)
    if len(data) > MAX_PAYLOAD_BYTES:
        raise PayloadError(f"payload is {len(data)} bytes; the API accepts at most {MAX_PAYLOAD_BYTES}")
    return data


def _bytes(payload: HexPayload | TextPayload | CallPayload | None) -> bytes:
    if payload is None:
        return b""
    if isinstance(payload, HexPayload):
        digits = payload.hex[2:] if payload.hex[:2].lower() == "0x" else payload.hex
        return bytes.fromhex(digits)
    if isinstance(payload, TextPayload):
        return payload.text.encode()
    return encode_call(payload.sig, payload.args)


def encode_call(sig: str, args: list[Any]) -> bytes:
    match = SIGNATURE.match(sig)
    if not match:
        raise PayloadError(f"sig {sig!r} is not a function signature like increment(uint256)")
    name, params = match.groups()
    types = _param_types(sig, params)
    if len(args) != len(types):
        raise PayloadError(f"{name} takes {len(types)} argument(s), {len(args)} given")
    canonical = [t.to_type_str() for t in types]
    try:
        values = [_coerce(t, a) for t, a in zip(types, args, strict=True)]
        encoded = eth_abi.encode(canonical, values)
    except (EncodingError, ValueError, TypeError, OverflowError) as exc:
        raise PayloadError(f"{name}({','.join(canonical)}): {exc}") from None
    return keccak(text=f"{name}({','.join(canonical)})")[:4] + encoded


def _param_types(sig: str, params: str) -> list[ABIType]:
    if not params.strip():  # f(): the selector alone (eth_abi refuses the zero-sized tuple "()")
        return []
    try:
        tuple_type = parse(f"({params})")
    except (ParseError, ValueError) as exc:
        raise PayloadError(f"sig {sig!r}: {exc}") from None
    if not isinstance(tuple_type, TupleType):
        raise PayloadError(f"sig {sig!r}: parameters must be a list of types")
    return list(tuple_type.components)


def _coerce(t: ABIType, value: Any) -> Any:
    """JSON has no bytes and clients send big integers as strings: convert what eth_abi expects."""
    if t.is_array:
        if not isinstance(value, list):
            raise PayloadError(f"{t.to_type_str()} needs a list, got {value!r}")
        return [_coerce(t.item_type, v) for v in value]
    if isinstance(t, TupleType):
        if not isinstance(value, list):
            raise PayloadError(f"{t.to_type_str()} needs a list, got {value!r}")
        if len(value) != len(t.components):
            raise PayloadError(f"{t.to_type_str()} needs {len(t.components)} values")
        return tuple(_coerce(c, v) for c, v in zip(t.components, value, strict=True))
    assert isinstance(t, BasicType)
    if t.base in ("uint", "int") and isinstance(value, str):
        return int(value, 0)
    if t.base == "bytes" and isinstance(value, str):
        return bytes.fromhex(value[2:] if value[:2].lower() == "0x" else value)
    if t.base == "string" and not isinstance(value, str):
        raise PayloadError(f"string needs a JSON string, got {value!r}")
    return value
