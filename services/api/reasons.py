"""Revert reasons a person can read: bare revert data decoded with every ABI the devnet knows.

The relayer decodes what it can before it stores a reason; data it stored as hex (an error
only a later-compiled artifact declares) is decoded again here, with the project's artifacts
and OpenZeppelin's (services.common.errors).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from services.common.errors import ErrorDecoder

HEX = re.compile(r"^0x(?:[0-9a-fA-F]{2}){4,}$")


@lru_cache(maxsize=1)
def _decoder() -> ErrorDecoder:
    from services.common.errors import ErrorDecoder  # only now: eth_abi costs ~6 MB of RSS

    return ErrorDecoder()


def decode_reason(reason: str | None) -> str | None:
    """`reason` with bare revert data at its end decoded, else as the relayer wrote it."""
    if reason is None:
        return None
    tail = reason.rsplit(": ", 1)[-1].strip()
    if not HEX.match(tail):
        return reason
    decoded = _decoder().describe(tail)
    return reason if decoded == tail.lower() else reason[: len(reason) - len(tail)] + decoded
