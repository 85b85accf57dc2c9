"""The relayer's SQLite queue: atomic ingest, state transitions, evidence, and kill -9 safety."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from services.common.abi import Abi, describe_error
from services.protocol import load_abi
from services.relayer.queue import Queue


def msg(i: int, src: int = 901, dst: int = 902, block: int = 1) -> dict:
    return {"id": f"0x{i:064x}", "src": src, "dst": dst, "nonce": i, "sender": "0x" + "11" * 20,
            "recipient": "0x" + "22" * 20, "payload": b"p%d" % i, "sent_block": block,
            "sent_block_hash": "0x" + "33" * 32, "sent_tx": "0x" + "44" * 32, "sent_time": 1.0, "seen_at": 2.0}


def test_ingest_is_idempotent_and_moves_the_cursor(tmp_path):
    q = Queue(tmp_path / "q.sqlite")
    assert q.cursor(901) is None
    assert q.ingest(901, 5, [msg(1), msg(2)]) == [msg(1)["id"], msg(2)["id"]]
    assert q.ingest(901, 3, [msg(2), msg(3)]) == [msg(3)["id"]]  # replayed range: only the new one
    assert q.cursor(901) == 5  # never moves backwards
    assert q.stats()["messages"] == {"pending": 3}


def test_state_transitions(tmp_path):
    q = Queue(tmp_path / "q.sqlite")
    q.ingest(901, 9, [msg(i, block=i) for i in range(1, 6)])
    ready = q.ready(902, time.time(), 10)
    assert [r["nonce"] for r in ready] == [1, 2, 3, 4, 5]
    assert [r["nonce"] for r in q.ready(902, time.time(), 10, exclude={msg(1)["id"]})] == [2, 3, 4, 5]
    ids = [msg(1)["id"], msg(2)["id"]]
    q.mark_submitted(ids, "0xtx", 2, 1.0, 1.1, 1.2)
    assert {r["id"] for r in q.submitted()} == set(ids)
    assert msg(1)["id"] not in {r["id"] for r in q.ready(902, time.time(), 10)}
    q.mark_delivered([ids[0]], "0xtx", 7, 1.3, 50_000)
    q.mark_failed({ids[1]: "Refused(42)"}, {ids[1]: time.time() + 60}, "0xtx", 7)
    row = q.get(ids[1])
    assert row["status"] == "failed" and row["revert_reason"] == "Refused(42)" and row["attempts"] == 1
    assert ids[1] not in {r["id"] for r in q.ready(902, time.time(), 10)}  # backing off
    assert ids[1] in {r["id"] for r in q.ready(902, time.time() + 61, 10)}
    # a delivered message never goes back
    q.mark_retry([ids[0]], "late error", 0)
    q.mark_failed({ids[0]: "x"}, {ids[0]: 0}, None, None)
    assert q.get(ids[0])["status"] == "delivered"
    q.mark_submitted([msg(3)["id"]], "0xtx2", 3, 1, 1, 1)
    q.unsubmit([msg(3)["id"]], "restarted")
    assert q.get(msg(3)["id"])["status"] == "pending"
    assert q.stats()["messages"] == {"delivered": 1, "failed": 1, "pending": 3}


def test_equivocation_evidence_is_found_and_remembered(tmp_path):
    q = Queue(tmp_path / "q.sqlite")
    a = {"signer": "0xG", "chain_id": 901, "block_number": 7, "block_hash": "0xh", "state_root": "0xr1",
         "signature": "0xs1"}
    assert q.record_attestations("http://g", 1, [a]) == []
    assert q.record_attestations("http://g", 2, [dict(a)]) == []  # the same statement again is fine
    b = dict(a, state_root="0xr2", signature="0xs2")
    q.close()
    q = Queue(tmp_path / "q.sqlite")  # across a restart
    [(first, second)] = q.record_attestations("http://g", 3, [b])
    assert first["state_root"] == "0xr1" and second["state_root"] == "0xr2"
    assert q.feed_cursor("http://g") == 3
    q.set_slash("0xG", 901, 7, {"a": 1}, "detected")
    q.set_slash("0xG", 901, 7, {"a": 1}, "slashed", tx="0xt")
    assert q.slash_record("0xG")["status"] == "slashed"


def test_kill9_during_ingest_never_leaves_half_a_block(tmp_path):
    db = tmp_path / "q.sqlite"
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(os.getcwd())!r})
        from services.relayer.queue import Queue
        from tests.services.relayer.test_queue import msg
        q = Queue({str(db)!r})
        block = 0
        while True:
            block += 1
            q.ingest(901, block, [msg(block * 100 + i, block=block) for i in range(10)])
            print(block, flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        for _ in range(50):
            proc.stdout.readline()
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    q = Queue(db)
    cursor = q.cursor(901)
    assert cursor >= 50
    assert q.stats()["total"] == cursor * 10  # every stored block is complete, nothing beyond the cursor


def test_revert_reasons_are_readable():
    gw = Abi(load_abi("MetalayerGateway"))
    err = next(iter(k for k, v in gw.errors.items() if v[0] == "AlreadyDelivered"))
    from eth_abi import encode

    assert describe_error(err + encode(["uint256", "uint256"], [901, 3]), [gw]) == "AlreadyDelivered(901, 3)"
    assert describe_error(bytes.fromhex("08c379a0") + encode(["string"], ["boom"])) == "boom"
    assert describe_error(bytes.fromhex("4e487b71") + encode(["uint256"], [0x11])) == "Panic(0x11)"
    assert describe_error("0x") == "reverted without a reason"
    assert describe_error("0xdeadbeef") == "0xdeadbeef"
