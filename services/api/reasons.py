"""Revert reasons a person can read: hex revert data decoded with every compiled artifact's errors.

The relayer decodes with the devnet's own contracts; a dapp's recipient may revert with an
error only its artifact knows, so the API also tries every ABI in contracts/out.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

from services.common.abi import Abi, describe_error
from services.common.manifest import REPO_ROOT

HEX = re.compile(r"^0x(?:[0-9a-fA-F]{2})+$")
ARTIFACTS = REPO_ROOT / "contracts" / "out"


@lru_cache(maxsize=1)
def _abis(directory: Path = ARTIFACTS) -> tuple[Abi, ...]:
    out = []
    for path in sorted(directory.glob("*.json")):
        try:
            abi = json.loads(path.read_text()).get("abi")
        except (OSError, ValueError):
            continue
        if isinstance(abi, list) and any(e.get("type") == "error" for e in abi):
            out.append(Abi(abi))
    return tuple(out)


def decode_reason(reason: str | None) -> str | None:
    """`reason` decoded if it is bare revert data, else as the relayer wrote it."""
    if reason is None:
        return None
    tail = reason.rsplit(": ", 1)[-1].strip()
    if not HEX.match(tail):
        return reason
    decoded = describe_error(tail, _abis())
    return reason if decoded == tail.lower() else reason[: len(reason) - len(tail)] + decoded
