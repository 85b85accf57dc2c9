"""A message payload from the command line: hex, text, a file, stdin, or a cast-style contract call.

payload_from_arg("0xc0ffee")                    # hex
payload_from_arg("@call.bin")                   # a file's bytes (0x-hex text in it is decoded)
payload_from_arg("-", stdin=sys.stdin.buffer)   # stdin, same rule
call_payload("increment(uint256)", ["7"])       # selector + abi.encode(7), like `cast calldata`
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import IO, Any

_HEX_TEXT = re.compile(rb"^\s*0[xX]([0-9a-fA-F]*)\s*$")


class PayloadError(ValueError):
    """The payload cannot be read or encoded (the message says why)."""


def _bytes_or_hex(data: bytes, what: str) -> bytes:
    """0x-hex decoded; anything else as is. Whatever starts with 0x must be hex: 0xzz is a typo, not text."""
    if data.lstrip()[:2].lower() != b"0x":
        return data
    match = _HEX_TEXT.match(data)
    if not match:
        raise PayloadError(f"{what} starts with 0x but is not hex")
    digits = match.group(1)
    if len(digits) % 2:
        raise PayloadError(f"{what} is hex with an odd number of digits")
    return bytes.fromhex(digits.decode())


def payload_from_arg(text: str, stdin: IO[bytes] | None = None) -> bytes:
    """`--payload`: 0x-hex, `@file`, `-` (stdin), or text sent as its UTF-8 bytes."""
    if text == "-":
        if stdin is None:
            raise PayloadError("--payload -: no standard input")
        return _bytes_or_hex(stdin.read(), "--payload - (standard input)")
    if text.startswith("@"):
        path = Path(text[1:]).expanduser()
        try:
            return _bytes_or_hex(path.read_bytes(), f"--payload {text}")
        except OSError as exc:
            raise PayloadError(f"--payload {text}: {exc.strerror or exc}") from None
    try:
        data = text.encode()
    except UnicodeEncodeError:  # argv bytes that are not UTF-8 arrive as lone surrogates
        raise PayloadError("--payload: not valid UTF-8 text (give raw bytes as 0x-hex or @FILE)") from None
    return _bytes_or_hex(data, f"--payload {text[:40]!r}")


def _cli_value(text: str) -> Any:
    """A command-line argument as the JSON-ish value encode_call coerces: lists/tuples as JSON, booleans."""
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            return json.loads(stripped)
        except ValueError:
            raise PayloadError(f"argument {text!r}: arrays and tuples are JSON lists, e.g. [1,2]") from None
    if stripped in ("true", "false"):
        return stripped == "true"
    return stripped


def call_payload(sig: str, args: list[str]) -> bytes:
    """`--sig "f(uint256,address)" 7 0x..`: the call's selector and ABI-encoded arguments (eth_abi)."""
    from services.api.payloads import PayloadError as ApiPayloadError
    from services.api.payloads import encode_call

    try:
        return encode_call(sig, [_cli_value(a) for a in args])
    except ApiPayloadError as exc:
        raise PayloadError(str(exc)) from None
