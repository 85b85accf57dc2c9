"""Validation of intent input: one clear IntentError(field, message) per mistake, before any transaction."""

from __future__ import annotations

import re
from decimal import Context, Decimal, InvalidOperation

from eth_utils import is_address, is_checksum_address, to_checksum_address

from services.common.manifest import Chain, Manifest

DECIMALS = 6
AMOUNT = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")  # plain ASCII decimal
MAX_AMOUNT_TEXT = 100
MAX_AMOUNT_DIGITS = 40  # 10**40 tokens: far past any balance; callers apply their own, smaller limits
EXACT = Context(prec=2 * MAX_AMOUNT_TEXT)  # every digit an amount of MAX_AMOUNT_TEXT characters can have
SOLVER_MIN_MARGIN = 5  # seconds a solver's fill must leave before the fill deadline (solver --min-margin)


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
    text = str(amount).strip()
    # strict: Decimal() alone takes "1_0", "NaN", unicode digits and exponents it cannot scale
    try:
        if len(text) > MAX_AMOUNT_TEXT or not AMOUNT.fullmatch(text):
            raise InvalidOperation
        value = Decimal(text)  # InvalidOperation for an exponent past what decimal can hold
    except InvalidOperation:
        raise IntentError("amount", f"amount is not a number: {amount!r}") from None
    if value <= 0:
        raise IntentError("amount", f"amount must be positive, got {amount}")
    if value.adjusted() > MAX_AMOUNT_DIGITS:  # bounded before scaling: 1e999999 overflows the context
        raise IntentError("amount", f"amount is too large: {amount}")
    if value.adjusted() < -DECIMALS:  # below one base unit: scaling would round 1e-9999999999 to 0
        raise IntentError("amount", f"amount has more than {DECIMALS} decimals: {amount}")
    base = value.scaleb(DECIMALS, EXACT)
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
