"""Validation of intent input: one clear IntentError(field, message) per mistake, before any transaction."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from eth_utils import is_address, is_checksum_address, to_checksum_address

from services.common.manifest import Chain, Manifest

DECIMALS = 6


class IntentError(ValueError):
    """Bad intent input: `field` names what is wrong, str(self) says it in one line."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name


def resolve_chain(m: Manifest, key: str | int, name: str) -> Chain:
    try:
        return m.chain(key)
    except KeyError:
        raise IntentError(name, f"unknown chain {key!r} (known: {', '.join(c.name for c in m.chains)})") from None


def check_address(value: str | None, name: str) -> str:
    if not isinstance(value, str) or not is_address(value) or not value.startswith("0x"):
        raise IntentError(name, f"{name} is not an address (0x + 40 hex digits, valid checksum): {value!r}")
    digits = value[2:]
    if digits != digits.lower() and digits != digits.upper() and not is_checksum_address(value):
        # eth_utils.is_address accepts any mixed case; a wrong EIP-55 checksum means a mistyped address
        raise IntentError(name, f"{name} is not an address (bad EIP-55 checksum): {value!r}")
    if int(value, 16) == 0:
        raise IntentError(name, f"{name} must not be the zero address")
    return to_checksum_address(value)


def parse_amount(amount: str | int | Decimal) -> int:
    """Token units ("100.5") to 6-decimal base units; zero, negative and over-precise amounts are refused."""
    try:
        value = Decimal(str(amount).strip())
    except InvalidOperation:
        raise IntentError("amount", f"amount is not a number: {amount!r}") from None
    if not value.is_finite() or value <= 0:
        raise IntentError("amount", f"amount must be positive, got {amount}")
    base = value * 10**DECIMALS
    if base != base.to_integral_value():
        raise IntentError("amount", f"amount has more than {DECIMALS} decimals: {amount}")
    return int(base)


def resolve_token(m: Manifest, token: str) -> str:
    usdc = m.address("USDC") if "USDC" in m.contracts else None
    if usdc is None:
        raise IntentError("token", "no intent token is deployed on this devnet (USDC missing from the manifest)")
    if not isinstance(token, str) or token.upper() != "USDC" and token.lower() != usdc.lower():
        raise IntentError("token", f"unknown token {token!r} (known: USDC)")
    return usdc
