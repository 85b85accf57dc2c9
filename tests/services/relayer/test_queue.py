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
from services.relayer.queue import Queue, QueueReader


def msg(i: int, src: int = 901, dst: int = 902, block: int = 1) -> dict:
    return {
        "id": f"0x{i:064x}",
        "src": src,
        "dst": dst,
        "nonce": i,
        "sender": "0x" + "11" * 20,
        "recipient": "0x" + "22" * 20,
        "payload": b"p%d" % i,
        "sent_block": block,
        "sent_block_hash": "0x" + "33" * 32,
        "sent_tx": "0x" + "44" * 32,
        "sent_time": 1.0,
        "seen_at": 2.0,
    }


def test_ingest_is_idempotent_and_moves_the_cursor(tmp_path):
    q = Queue(tmp_path / "q.sqlite")
    assert q.cursor(901) is None
    assert q.ingest(901, 5, [msg(1), msg(2)]) == [msg(1)["id"], msg(2)["id"]]
    assert q.ingest(901, 3, [msg(2), msg(3)]) == [msg(3)["id"]]  # replayed range: only the new one
    assert q.cursor(901) == 5  # never moves backwards
    assert q.stats()["messages"] == {"pending": 3}


def test_a_message_stored_early_is_confirmed_or_orphaned_by_the_scan_of_its_block(tmp_path):
    q = Queue(tmp_path / "q.sqlite")
    assert q.ingest_early([msg(1, block=7), msg(2, block=7), msg(3, block=9)]) == [msg(i)["id"] for i in (1, 2, 3)]
    assert q.cursor(901) is None  # pushed logs never move the cursor: only a scan does
    assert q.ingest_early([msg(1, block=7)]) == []  # pushed twice: stored once
    # the scan of blocks 5..8 finds message 1 only: 2 was rewound away before it; 3 is not in range
    assert q.ingest(901, 8, [msg(1, block=7)], from_block=5) == []
    assert q.cursor(901) == 8
    assert [q.get(msg(i)["id"])["status"] for i in (1, 2, 3)] == ["pending", "orphaned", "pending"]
    assert "rewound" in q.get(msg(2)["id"])["last_error"]
    # seen again in a later block (re-mined): revived there, like any orphaned message
    assert q.ingest(901, 12, [msg(2, block=11), msg(3, block=9)], from_block=9) == [msg(2)["id"]]
    assert (q.get(msg(2)["id"])["status"], q.get(msg(2)["id"])["sent_block"]) == ("pending", 11)
    q.mark_stage([msg(3)["id"]], status="delivered")
    q.ingest(901, 20, [], from_block=13)
    q.ingest(901, 20, [], from_block=0)  # a delivered message is never orphaned by a scan
    assert q.get(msg(3)["id"])["status"] == "delivered"


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
    assert row["status"] == "retrying" and row["revert_reason"] == "Refused(42)" and row["attempts"] == 1
    assert ids[1] not in {r["id"] for r in q.ready(902, time.time(), 10)}  # backing off
    assert ids[1] in {r["id"] for r in q.ready(902, time.time() + 61, 10)}
    # a delivered message never goes back
    q.mark_retry([ids[0]], "late error", 0)
    q.mark_failed({ids[0]: "x"}, {ids[0]: 0}, None, None)
    assert q.get(ids[0])["status"] == "delivered"
    q.mark_submitted([msg(3)["id"]], "0xtx2", 3, 1, 1, 1)
    q.unsubmit([msg(3)["id"]], "restarted")
    assert q.get(msg(3)["id"])["status"] == "pending"
    assert q.stats()["messages"] == {"delivered": 1, "retrying": 1, "pending": 3}


def test_every_attempt_is_recorded_and_the_cap_is_final(tmp_path):
    q = Queue(tmp_path / "q.sqlite")
    q.ingest(901, 9, [msg(1), msg(2)])
    a, b = msg(1)["id"], msg(2)["id"]
    q.mark_retry([a], "no quorum", 0, count_attempt=True, outcome="no_quorum", at=1.0)  # attempt 1
    q.mark_submitted([a, b], "0xt1", 1, 2.0, 2.1, 2.2, started_at=1.9, gas_limit=300_000)  # a: 2, b: 1
    q.mark_failed({a: "Refused(42)"}, {a: 0}, "0xt1", 5, at=2.5)
    q.mark_delivered([b], "0xt1", 5, 2.5, 90_000)
    q.mark_failed({a: "Refused(42)"}, {a: 0}, None, None, at=3.0, outcome="rejected")  # attempt 3, no tx
    q.mark_failed({a: "Refused(42)"}, {a: 0}, None, None, final={a}, at=4.0, outcome="rejected")  # 4: final
    row = q.get(a)
    assert (row["status"], row["attempts"], row["failures"], row["first_failed_at"], row["quarantined"]) == (
        "failed",
        4,
        3,
        2.5,
        1,
    )
    assert q.ready(902, 10.0, 10) == []  # a final failure is never picked up again
    q.mark_retry([a], "late", 0)  # nor put back by a stale batch
    assert q.get(a)["status"] == "failed"
    att = q.attempts(a)
    assert [(x["attempt"], x["outcome"]) for x in att] == [
        (1, "no_quorum"),
        (2, "failed"),
        (3, "rejected"),
        (4, "rejected"),
    ]
    assert att[1]["tx"] == "0xt1" and att[1]["started_at"] == 1.9 and att[1]["submitted_at"] == 2.2
    assert att[1]["reason"] == "Refused(42)" and att[2]["tx"] is None
    [ok] = q.attempts(b)
    assert (ok["outcome"], ok["gas_used"], ok["gas_limit"], ok["batch_size"]) == ("delivered", 90_000, 300_000, 2)
    assert QueueReader(tmp_path / "q.sqlite").attempts(a.upper().replace("0X", "0x")) == att

    assert q.requeue(b) == "delivered" and q.requeue("0x" + "00" * 32) is None
    assert q.requeue(a) == "pending"
    row = q.get(a)
    assert (row["status"], row["failures"], row["first_failed_at"]) == ("pending", 0, None)
    assert [r["id"] for r in q.ready(902, 10.0, 10)] == [a]


def test_equivocation_evidence_is_found_and_remembered(tmp_path):
    q = Queue(tmp_path / "q.sqlite")
    a = {
        "signer": "0xG",
        "chain_id": 901,
        "block_number": 7,
        "block_hash": "0xh",
        "state_root": "0xr1",
        "signature": "0xs1",
    }
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
    # a recipient's 3 MB revert string or raw data: stored, logged and served cut to a bounded size
    huge = describe_error(bytes.fromhex("08c379a0") + encode(["string"], ["x" * 3_000_000]))
    assert huge.startswith("xxx") and huge.endswith("(cut: 3000000 characters)") and len(huge) < 1100
    assert len(describe_error(b"\xde\xad\xbe\xef" * 500_000)) < 1100


def test_batches_that_keep_reverting_without_naming_a_message_send_their_messages_alone(tmp_path):
    q = Queue(tmp_path / "q.sqlite")
    q.ingest(901, 9, [msg(1), msg(2), msg(3)])
    a, b, c = (msg(i)["id"] for i in (1, 2, 3))
    q.mark_submitted([a, b], "0xt1", 1, 1.0, 1.0, 1.0)
    q.mark_retry([a, b], "delivery transaction reverted: out of gas", 0, outcome="reverted", at=1.5)
    assert q.quarantine_reverted([a, b], after=2) == []  # once may be the node's or a root's doing
    q.mark_submitted([a, b, c], "0xt2", 1, 2.0, 2.0, 2.0)
    q.mark_retry([a, b, c], "delivery transaction reverted: out of gas", 0, outcome="reverted", at=2.5)
    assert q.quarantine_reverted([a, b, c], after=2) == [a, b]  # c reverted once only
    rows = {i: q.get(i) for i in (a, b, c)}
    assert [rows[i]["quarantined"] for i in (a, b, c)] == [1, 1, 0]
    assert all(r["status"] == "pending" and r["failures"] == 0 for r in rows.values())  # not their failure


def test_a_queue_file_that_is_not_a_database_is_moved_aside_and_a_fresh_one_opened(tmp_path):
    """A corrupted queue file made every start of the relayer fail ("file is not a database"):
    the supervisor restarted it into the same failure for ever and nothing was delivered. The
    chains hold the truth (a fresh queue reads the sources again and finds old deliveries on
    chain), so the file is kept aside for a post-mortem and the relayer starts on a new one."""
    path = tmp_path / "relayer.sqlite"
    q = Queue(path)
    q.ingest(901, 1, [msg(1)])
    q.close()
    with open(path, "r+b") as f:
        f.write(os.urandom(4096))  # the header and the first page: not a database any more
    q = Queue(path)
    assert q.get(msg(1)["id"]) is None and q.cursor(901) is None
    q.ingest(901, 2, [msg(2)])
    assert q.get(msg(2)["id"])["status"] == "pending"
    aside = [p.name for p in tmp_path.iterdir() if p.name.startswith("relayer.sqlite.corrupt-")]
    assert len(aside) == 1 and q.moved_aside is not None and q.moved_aside.name == aside[0]
    q.close()


def test_a_locked_queue_is_not_taken_for_a_corrupt_one(tmp_path, monkeypatch):
    """ "database is locked" is a DatabaseError too (OperationalError): a sound queue busy in
    another connection must not be moved aside with every final state and attempt in it."""
    import sqlite3

    import pytest

    from services.common import db
    from services.relayer.queue import opening

    connect = db.connect

    path = tmp_path / "relayer.sqlite"
    q = Queue(path)
    q.ingest(901, 1, [msg(1)])
    q.close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")  # WAL lets readers in past a mere write lock
    holder.execute("BEGIN EXCLUSIVE")  # a writer that does not let go
    holder.execute("CREATE TABLE held (x)")
    monkeypatch.setattr(opening.db, "connect", lambda p: connect(p, timeout=0.2))  # not 5 s of waiting
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            Queue(path)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert [p.name for p in tmp_path.iterdir() if ".corrupt-" in p.name] == []
    assert Queue(path).get(msg(1)["id"]) is not None
