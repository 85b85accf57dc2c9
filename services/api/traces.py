"""A message's trace (sent -> attested -> proved -> submitted -> delivered) from a relayer queue row.

Shared by the API and `devnet trace` (which falls back to reading the queue when the API is down).
Times are unix seconds; stage durations are milliseconds. "mined" is when the source block's
newHeads notification reached the relayer (the block timestamp has one-second resolution);
total_ms runs from there to the delivery receipt.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from services.api.reasons import decode_reason
from services.common.attest import checksum
from services.common.faults import INSTANT_KINDS, Fault, FaultBook, faults_during
from services.relayer.queue import STATUSES

__all__ = ["STATUSES", "fault_spans", "format_trace", "trace_faults", "trace_from_row"]

BLOCK_TIME_TRUST = 120.0  # seconds a send's block time may precede the relayer seeing it

# how a fault reads in a trace line: "<target> <verb>", e.g. "relayer paused"
VERBS = {
    "kill": "killed",
    "pause": "paused",
    "resume": "resumed",
    "partition": "partitioned",
    "reorg": "reorged",
    "delay": "delayed",
    "drop": "dropping deliveries",
    "duplicate": "duplicating deliveries",
    "equivocate": "equivocated",
}


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


def _life(t: dict[str, Any], attempts: list[dict[str, Any]], now: float) -> tuple[float, float]:
    """[first sign of the message, its delivery or now]. The block time (whole seconds) counts
    too: a relayer that was stopped when the send was mined notices it only later."""
    sent = t.get("sent") or {}
    starts = [sent.get("mined_at"), sent.get("seen_at")] + [a.get("started_at") for a in attempts]
    known = [float(s) for s in starts if isinstance(s, (int, float)) and s > 0]
    start = min(known) if known else now
    block_time = sent.get("block_time")
    # block times are whole seconds: believed only when the relayer saw the send clearly late,
    # and not when the chain's clock was warped (evm_increaseTime, an old snapshot)
    if isinstance(block_time, (int, float)) and start - BLOCK_TIME_TRUST < block_time < start - 1.0:
        start = float(block_time)
    delivered = (t.get("delivered") or {}).get("at")
    return min(start, now), float(delivered) if delivered else now


def fault_spans(t: dict[str, Any], faults: list[Fault], now: float | None = None) -> list[dict[str, Any]]:
    """The faults in force at some moment of the message's life, each with the attempts it overlapped."""
    now = time.time() if now is None else now
    attempts = t.get("attempt_log") or []
    start, end = _life(t, attempts, now)
    spans = []
    for f in faults_during(faults, start, end):
        ended = f.ended_at(now)
        hit = [
            a["attempt"]
            for a in attempts
            if isinstance(a.get("started_at"), (int, float))
            and a["started_at"] <= (ended if ended is not None else now)
            and (a.get("settled_at") or now) >= f.started_at
        ]
        spans.append(
            {
                "id": f.id,
                "kind": f.kind,
                "target": f.target,
                "started_at": f.started_at,
                "ended_at": ended,
                "status": f.status,
                "detail": f.detail,
                "args": f.args,
                "attempts": hit,
            }
        )
    return spans


def trace_faults(t: dict[str, Any], run_dir: str | Path) -> dict[str, Any]:
    """The trace with `faults`: those of the devnet's fault log (`<run>/faults.json`) in its life."""
    return {**t, "faults": fault_spans(t, FaultBook(run_dir).all())}


def _clock(at: float) -> str:
    return datetime.fromtimestamp(at).strftime("%H:%M:%S.%f")[:-5]


def format_fault(f: dict[str, Any]) -> str:
    """ "relayer paused 12:00:01.2–12:00:03.4 (attempts 1, 2)" (one time for an instant fault)."""
    start, end = f["started_at"], f.get("ended_at")
    if end is None:
        when = f"{_clock(start)}– (in force)"
    elif f["kind"] in INSTANT_KINDS:  # a held fault keeps its span, however short it was
        when = _clock(start)
    else:
        when = f"{_clock(start)}–{_clock(end)}"
    hit = f.get("attempts") or []
    during = f" (attempt{'s' if len(hit) > 1 else ''} {', '.join(map(str, hit))})" if hit else ""
    return f"#{f['id']} {f['target']} {VERBS.get(f['kind'], f['kind'])} {when}{during}"


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
    faults = t.get("faults") or []
    if faults:
        lines.append("  faults     " + format_fault(faults[0]))
        lines.extend("             " + format_fault(f) for f in faults[1:])
    return "\n".join(lines)
