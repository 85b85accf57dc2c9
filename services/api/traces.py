"""A message's trace (sent -> attested -> proved -> submitted -> delivered) from a relayer queue row.

Shared by the API and `devnet trace` (which falls back to reading the queue when the API is down).
Times are unix seconds; stage durations are milliseconds. "mined" is when the source block's
newHeads notification reached the relayer (the block timestamp has one-second resolution);
total_ms runs from there to the delivery receipt.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from services.api.reasons import decode_reason
from services.common.attest import checksum
from services.relayer.queue import STATUSES

__all__ = ["STATUSES", "format_trace", "trace_from_row"]


def _ms(a: float | None, b: float | None) -> float | None:
    if a is None or b is None:
        return None
    return round((b - a) * 1000.0, 3)


def trace_from_row(row: sqlite3.Row | dict[str, Any], chain_names: dict[int, str] | None = None) -> dict[str, Any]:
    r = dict(row)
    names = chain_names or {}
    payload = r.get("payload") or b""
    if isinstance(payload, (bytes, bytearray, memoryview)):
        payload = "0x" + bytes(payload).hex()
    delivered = r["status"] == "delivered"
    for key in ("sender", "recipient"):
        if isinstance(r.get(key), str) and r[key].startswith("0x") and len(r[key]) == 42:
            r[key] = checksum(bytes.fromhex(r[key][2:]))
    stages = {
        "detect_ms": _ms(r.get("mined_at"), r.get("seen_at")),
        "attest_ms": _ms(r.get("seen_at"), r.get("attested_at")),
        "prove_ms": _ms(r.get("attested_at"), r.get("proved_at")),
        "submit_ms": _ms(r.get("proved_at"), r.get("submitted_at")),
        "confirm_ms": _ms(r.get("submitted_at"), r.get("delivered_at")) if delivered else None,
        "total_ms": _ms(r.get("mined_at") or r.get("seen_at"), r.get("delivered_at")) if delivered else None,
    }
    return {
        "id": r["id"],
        "status": r["status"],
        "source": {"chain_id": r["src"], "name": names.get(r["src"])},
        "destination": {"chain_id": r["dst"], "name": names.get(r["dst"])},
        "nonce": r["nonce"],
        "sender": r["sender"],
        "recipient": r["recipient"],
        "payload": payload,
        "finality": "finalized" if r.get("finality") else "soft",
        "sent": {
            "block": r["sent_block"],
            "block_hash": r.get("sent_block_hash"),
            "tx": r.get("sent_tx"),
            "block_time": r.get("sent_time"),
            "mined_at": r.get("mined_at"),
            "seen_at": r.get("seen_at"),
        },
        "attested": {"block": r.get("attest_block"), "at": r.get("attested_at")} if r.get("attested_at") else None,
        "proved_at": r.get("proved_at"),
        "submitted": {"tx": r.get("delivery_tx"), "at": r.get("submitted_at")} if r.get("submitted_at") else None,
        "delivered": (
            {
                "tx": r.get("delivery_tx"),
                "block": r.get("delivered_block"),
                "at": r.get("delivered_at"),
                "gas_used_by_batch": r.get("gas_used"),
                "batch_size": r.get("batch_size"),
            }
            if delivered
            else None
        ),
        "attempts": r.get("attempts", 0),
        "last_error": decode_reason(r.get("last_error")),
        "revert_reason": decode_reason(r.get("revert_reason")),
        "stages": stages,
    }


def format_trace(t: dict[str, Any]) -> str:
    """Human-readable trace for `devnet trace`."""

    def chain(c: dict[str, Any]) -> str:
        return f"{c.get('name') or '?'} ({c['chain_id']})"

    def stage(ms: float | None) -> str:
        return "" if ms is None else f"  (+{ms:.1f} ms)"

    lines = [
        f"message {t['id']}",
        f"  route      {chain(t['source'])} -> {chain(t['destination'])}, nonce {t['nonce']}",
        f"  sender     {t['sender']}",
        f"  recipient  {t['recipient']}",
        f"  finality   {t.get('finality', 'soft')}",
        f"  status     {t['status']}" + (f"  ({t['attempts']} attempt(s))" if t.get("attempts") else ""),
    ]
    s = t["sent"]
    lines.append(f"  sent       block {s['block']}  tx {s.get('tx')}")
    st = t.get("stages") or {}
    if t.get("attested"):
        lines.append(f"  attested   root of block {t['attested']['block']}{stage(st.get('attest_ms'))}")
    if t.get("proved_at"):
        lines.append(f"  proved     eth_getProof{stage(st.get('prove_ms'))}")
    if t.get("submitted"):
        lines.append(f"  submitted  tx {t['submitted']['tx']}{stage(st.get('submit_ms'))}")
    if t.get("delivered"):
        d = t["delivered"]
        lines.append(f"  delivered  block {d['block']}  tx {d['tx']}{stage(st.get('confirm_ms'))}")
        if st.get("total_ms") is not None:
            lines.append(f"  total      {st['total_ms']:.1f} ms from the send being mined to delivery")
    if t.get("revert_reason"):
        lines.append(f"  reverted   {t['revert_reason']}")
    if t.get("last_error") and t["status"] != "delivered":
        lines.append(f"  last error {t['last_error']}")
    return "\n".join(lines)
