"""Canonical ABI type strings and event topics from an ABI's JSON, without eth_abi.

Importing eth_abi costs a process ~120 ms and ~7 MB of RSS (measured on a guardian, which
needs one event topic from an ABI and nothing else); services.common.abi builds on this.
"""

from __future__ import annotations

from typing import Any

from eth_hash.auto import keccak


def canonical_type(param: dict[str, Any]) -> str:
    """The type as it appears in a signature: tuples spelled out, e.g. `(uint256,bytes)[]`."""
    t = str(param["type"])
    if t.startswith("tuple"):
        inner = ",".join(canonical_type(c) for c in param["components"])
        return f"({inner}){t[5:]}"
    return t


def event_signature(entry: dict[str, Any]) -> str:
    return f"{entry['name']}({','.join(canonical_type(p) for p in entry.get('inputs', []))})"


def event_topic(abi: list[dict[str, Any]], name: str) -> str:
    """topic0 (0x hex) of the event `name` in `abi`; KeyError when it has none."""
    for entry in abi:
        if entry.get("type") == "event" and entry.get("name") == name:
            return "0x" + keccak(event_signature(entry).encode()).hex()
    raise KeyError(f"no event {name} in the ABI")
