"""Which faults a message's trace lists: those in force at some moment of its life (no devnet)."""

from __future__ import annotations

import re
import time

from services.api.traces import fault_spans, format_fault, format_trace, trace_faults
from services.common.faults import Fault, FaultBook, faults_during

T = 1_700_000_000.0


def trace(mined: float, delivered: float | None, attempts: list[tuple[float, float | None]] = ()) -> dict:
    return {
        "id": "0x" + "ab" * 32,
        "status": "delivered" if delivered else "pending",
        "source": {"chain_id": 1, "name": "a"},
        "destination": {"chain_id": 2, "name": "b"},
        "nonce": 0,
        "sender": "0x" + "11" * 20,
        "recipient": "0x" + "22" * 20,
        "sent": {"block": 5, "tx": "0x" + "33" * 32, "block_time": int(mined), "mined_at": mined, "seen_at": mined},
        "delivered": {"block": 9, "tx": "0x" + "44" * 32, "at": delivered} if delivered else None,
        "attempt_log": [
            {"attempt": i + 1, "started_at": s, "settled_at": e, "outcome": "delivered" if e else None}
            for i, (s, e) in enumerate(attempts)
        ],
        "attempts": len(attempts),
    }


def test_a_fault_counts_while_in_force_healed_or_expired_never_when_requested_or_failed():
    paused = Fault(1, "pause", "relayer", T + 1, healed_at=T + 3, status="healed")
    timed = Fault(2, "delay", "relayer", T + 10, until=T + 12, healed_at=T + 12.2, status="healed")
    open_ended = Fault(3, "partition", "guardian-1", T + 20)
    killed = Fault(4, "kill", "relayer", T + 5, until=T + 5, healed_at=T + 5.01, status="healed")
    requested = Fault(5, "pause", "guardian-0", T, status="requested")
    failed = Fault(6, "pause", "guardian-9", T, healed_at=T, status="failed")
    every = [paused, timed, open_ended, killed, requested, failed]
    assert timed.ended_at(T + 100) == T + 12 and open_ended.ended_at(T + 100) is None
    assert [f.id for f in faults_during(every, T, T + 4)] == [1]
    assert [f.id for f in faults_during(every, T + 3.5, T + 30)] == [4, 2, 3]
    assert [f.id for f in faults_during(every, T + 12.1, T + 19.9)] == []  # between them: none
    assert [f.id for f in faults_during(every, T + 4, T + 6)] == [4]  # an instant fault inside the life


def test_trace_lists_the_faults_of_its_life_with_the_attempts_they_overlapped():
    t = trace(T, T + 8, attempts=[(T + 0.5, T + 2.0), (T + 6.0, T + 7.5)])
    faults = [
        Fault(1, "pause", "relayer", T - 5, healed_at=T - 2, status="healed"),  # before: not listed
        Fault(2, "drop", "relayer", T + 0.2, healed_at=T + 4, status="healed"),
        Fault(3, "partition", "guardian-1", T + 7, status="active"),  # still in force
        Fault(4, "delay", "relayer", T + 9, status="active"),  # after delivery: not listed
    ]
    spans = fault_spans(t, faults, now=T + 20)
    assert [(s["id"], s["attempts"], s["ended_at"]) for s in spans] == [(2, [1], T + 4), (3, [2], None)]
    text = format_trace({**t, "stages": {}, "faults": spans})
    assert re.search(
        r"faults +#2 relayer dropping deliveries \d\d:\d\d:\d\d\.\d–\d\d:\d\d:\d\d\.\d \(attempt 1\)", text
    )
    assert re.search(r"\n +#3 guardian-1 partitioned \S+– \(in force\) \(attempt 2\)", text)


def test_a_pending_message_lives_until_now_and_an_old_block_time_is_believed_only_within_bounds():
    now = time.time()
    late = trace(now - 3, None)
    late["sent"]["block_time"] = int(now - 10)  # the relayer saw the send 7 s late (it was stopped)
    stopped = Fault(1, "pause", "relayer", now - 12, healed_at=now - 4, status="healed")
    assert [s["id"] for s in fault_spans(late, [stopped])] == [1]
    warped = trace(now - 3, None)
    warped["sent"]["block_time"] = int(now - 86_400)  # a chain clock a day behind is not believed
    assert fault_spans(warped, [Fault(1, "pause", "relayer", now - 3600, healed_at=now - 60, status="healed")]) == []


def test_trace_faults_reads_the_run_directory_and_instant_faults_show_one_time(tmp_path):
    book = FaultBook(tmp_path)
    t = trace(time.time() - 1, None)
    assert trace_faults(t, tmp_path)["faults"] == []
    kill = book.add("kill", "rollup-b", duration=0.0)
    book.heal(kill.id)
    [span] = trace_faults(t, tmp_path)["faults"]
    assert span["kind"] == "kill" and span["target"] == "rollup-b" and span["status"] == "healed"
    assert re.fullmatch(r"#1 rollup-b killed \d\d:\d\d:\d\d\.\d", format_fault(span))
    # a pause healed 20 ms after it began is still shown as a span (start–end), not as an instant
    pause = book.add("pause", "guardian-1", duration=30.0)
    book.heal(pause.id)
    short = next(s for s in trace_faults(t, tmp_path)["faults"] if s["kind"] == "pause")
    assert re.fullmatch(r"#2 guardian-1 paused \S+–\S+", format_fault(short)), format_fault(short)
