"""Proposal action arguments from text or JSON, typed by the function signature (cast-like).

    coerce("setFeeConfig((uint128,uint128,uint16,uint16,uint16,address,address))",
           ['[1000000000000, 0, 5000, 3000, 2000, "0xf39F…", "0x7099…"]'])
    coerce("setGuardians(address[],uint256)", [["0xab…", "0xcd…"], "2"])

Each argument is either already typed (JSON: numbers, booleans, arrays) or a string: integers in
decimal, 0x hex or `1e18` notation, addresses as 0x hex, booleans true/false, bytes as 0x hex,
tuples and arrays as a JSON array (nested the same way). Anything else raises GovernanceArgError.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from eth_abi.grammar import ABIType, BasicType, TupleType
from eth_abi.grammar import parse as parse_abi_type
from eth_utils import to_checksum_address

MAX_ARG_CHARS = 20_000  # one argument's text (a JSON array of many guardians still fits)
_SCIENTIFIC = re.compile(r"^-?\d+(\.\d+)?(e\d{1,3})?$")


class GovernanceArgError(ValueError):
    """An argument that does not fit its type; the message names the argument and the type."""


def parameter_types(signature: str) -> list[ABIType]:
    """The parameter types of "name(type,...)"."""
    if "(" not in signature or not signature.endswith(")") or not signature.index("("):
        raise GovernanceArgError(f"bad function signature {signature!r}: use name(type,...), e.g. setPaused(bool)")
    if signature.endswith("()"):
        return []  # eth_abi's grammar has no empty tuple
    try:
        parsed = parse_abi_type(signature[signature.index("(") :])
    except Exception as exc:  # parsimonious raises its own types for bad grammar
        raise GovernanceArgError(f"bad function signature {signature!r}: {str(exc).splitlines()[0]}") from None
    if not isinstance(parsed, TupleType) or parsed.arrlist:
        raise GovernanceArgError(f"bad function signature {signature!r}")
    return list(parsed.components)


def coerce(signature: str, values: Sequence[Any]) -> list[Any]:
    """`values` converted to what eth_abi encodes for `signature`'s parameters."""
    types = parameter_types(signature)
    if len(values) != len(types):
        raise GovernanceArgError(
            f"{signature} takes {len(types)} argument(s) ({', '.join(t.to_type_str() for t in types)}), "
            f"got {len(values)}"
        )
    return [_value(t, v, f"argument {i + 1}") for i, (t, v) in enumerate(zip(types, values, strict=True))]


def _value(typ: ABIType, value: Any, where: str) -> Any:
    if isinstance(value, str) and len(value) > MAX_ARG_CHARS:
        raise GovernanceArgError(f"{where}: longer than {MAX_ARG_CHARS} characters")
    if typ.arrlist:
        items = _sequence(value, typ, where)
        fixed = typ.arrlist[-1]
        if fixed and len(items) != fixed[0]:
            raise GovernanceArgError(f"{where}: {typ.to_type_str()} needs {fixed[0]} items, got {len(items)}")
        return [_value(typ.item_type, v, f"{where}[{i}]") for i, v in enumerate(items)]
    if isinstance(typ, TupleType):
        items = _sequence(value, typ, where)
        if len(items) != len(typ.components):
            raise GovernanceArgError(f"{where}: {typ.to_type_str()} has {len(typ.components)} fields, got {len(items)}")
        return tuple(_value(t, v, f"{where}.{i}") for i, (t, v) in enumerate(zip(typ.components, items, strict=True)))
    assert isinstance(typ, BasicType)
    return _basic(typ, value, where)


def _sequence(value: Any, typ: ABIType, where: str) -> list[Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise GovernanceArgError(f"{where}: {typ.to_type_str()} is written as a JSON array") from None
    if not isinstance(value, (list, tuple)):
        raise GovernanceArgError(f"{where}: {typ.to_type_str()} is written as a JSON array, got {value!r}")
    return list(value)


def _basic(typ: BasicType, value: Any, where: str) -> Any:
    base, kind = typ.base, typ.to_type_str()
    try:
        if base in ("uint", "int"):
            number = _integer(value)
            bits = int(typ.sub or 256)
            low, high = (0, 2**bits - 1) if base == "uint" else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
            if not low <= number <= high:
                raise ValueError(f"out of range for {kind}")
            return number
        if base == "address":
            return to_checksum_address(value)
        if base == "bool":
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("true", "false", "1", "0"):
                return str(value).lower() in ("true", "1")
            raise ValueError("use true or false")
        if base == "bytes":
            data = bytes.fromhex(str(value).removeprefix("0x"))
            if typ.sub and len(data) != int(typ.sub):
                raise ValueError(f"needs {typ.sub} bytes, got {len(data)}")
            return data
        if base == "string" and isinstance(value, str):
            return value
    except (ValueError, TypeError) as exc:
        raise GovernanceArgError(f"{where}: {value!r} is not a {kind}: {exc}") from None
    raise GovernanceArgError(f"{where}: {value!r} is not a {kind}")


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    if isinstance(value, int):
        return value
    # a JSON 1e18 arrives as a float: its shortest repr is what was written
    text = repr(value).replace("+", "") if isinstance(value, float) else str(value).strip().lower()
    if _SCIENTIFIC.match(text):
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ValueError("bad number") from None
        if number != number.to_integral_value():
            raise ValueError("not a whole number")
        return int(number)
    return int(text, 0)
