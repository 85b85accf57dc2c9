"""The typed message/batch model and the one backoff policy (no chain needed)."""

from __future__ import annotations

from services.relayer import backoff
from services.relayer.model import Batch, Counters, QueuedMessage
from services.relayer.scheduling import make_batches


def qm(i: int, src: int = 901, block: int = 1, attempts: int = 0, seen: float | None = None) -> QueuedMessage:
    return QueuedMessage(
        id=f"0x{i:064x}",
        src=src,
        dst=902,
        nonce=i,
        sender="0x" + "11" * 20,
        recipient="0x" + "22" * 20,
        payload=b"p",
        sent_block=block,
        attempts=attempts,
        seen_at=seen,
    )


def test_message_from_a_queue_row_and_as_the_gateway_tuple():
    row = {
        "id": "0x" + "ab" * 32,
        "src": 901,
        "dst": 902,
        "nonce": 7,
        "sender": "0x" + "11" * 20,
        "recipient": "0x" + "22" * 20,
        "payload": memoryview(b"hi"),
        "sent_block": 5,
        "attempts": None,
        "seen_at": 1.5,
        "status": "failed",
    }
    m = QueuedMessage.from_row(row)
    assert m.payload == b"hi" and m.attempts == 0 and m.status == "failed"
    assert m.gateway_tuple() == (901, 902, 7, b"\x11" * 20, b"\x22" * 20, b"hi")


def test_batch_attests_its_newest_block_and_drops_ids():
    b = Batch(901, 902, (qm(1, block=3, seen=2.0), qm(2, block=9, attempts=2, seen=1.0), qm(3, block=4)))
    assert b.attest_block == 9 and b.retried and b.max_attempts == 2 and b.first_seen == 1.0 and len(b) == 3
    rest = b.without({qm(2).id})
    assert rest.ids == [qm(1).id, qm(3).id] and rest.attest_block == 4 and not rest.retried
    assert Batch(901, 902, (qm(1),)).first_seen is None


def test_batches_are_per_source_and_cut_at_max_batch():
    ready = [qm(i) for i in range(5)] + [qm(10 + i, src=903) for i in range(2)]
    batches = make_batches(ready, 2)
    assert [(b.src, [m.nonce for m in b.messages]) for b in batches] == [
        (901, [0, 1]),
        (901, [2, 3]),
        (901, [4]),
        (903, [10, 11]),
    ]
    assert make_batches([], 3) == []


def test_backoff_doubles_up_to_its_cap():
    assert [backoff.NO_QUORUM.after(a) for a in range(7)] == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0, 2.0]
    assert [backoff.DELIVERY_FAILED.after(a) for a in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0]
    assert backoff.DELIVERY_FAILED.after(10_000) == 10.0  # no overflow for a long-failing message
    assert backoff.BATCH_ERROR.after(0) == backoff.BATCH_ERROR.after(9) == 1.0
    assert backoff.NO_QUORUM.after(-1) == 0.25


def test_counters_as_dict_is_flat():
    c = Counters(batches=2)
    c.extra["quarantined"] = 1
    assert c.as_dict()["batches"] == 2 and c.as_dict()["quarantined"] == 1 and "extra" not in c.as_dict()


def test_finalized_messages_are_batched_apart_from_soft_ones():
    from dataclasses import replace

    ready = [qm(0), replace(qm(1), finality=1), qm(2), replace(qm(3), finality=1)]
    batches = make_batches(ready, 10)
    assert [([m.nonce for m in b.messages], b.finalized) for b in batches] == [([0, 2], False), ([1, 3], True)]


def test_heavy_messages_go_alone_after_the_light_ones_of_their_source():
    from dataclasses import replace

    from services.relayer.scheduling import HEAVY_PAYLOAD, is_heavy

    big = b"\x01" * HEAVY_PAYLOAD
    ready = [replace(qm(0), payload=big), qm(1), replace(qm(2), payload=big), qm(3)]
    batches = make_batches(ready, 10)
    assert [[m.nonce for m in b.messages] for b in batches] == [[1, 3], [0], [2]]
    assert [is_heavy(b) for b in batches] == [False, True, True]
    assert not is_heavy(Batch(901, 902, (replace(qm(4), payload=big[:-1]),)))


def test_heavy_batches_take_turns_so_nothing_waits_behind_more_than_one():
    from dataclasses import replace

    from services.relayer.delivery import Delivery
    from services.relayer.scheduling import HEAVY_PAYLOAD

    worker = Delivery.__new__(Delivery)
    worker.inflight, worker.heavy_inflight, worker.broadcasting = set(), False, 0
    big = b"\x01" * HEAVY_PAYLOAD
    light = Batch(901, 902, (qm(1),))
    heavy = [Batch(901, 902, (replace(qm(i), payload=big),)) for i in (2, 3)]
    # nothing in flight: one heavy batch, alone
    assert worker.turn([light, *heavy]) == [heavy[0]]
    # a heavy one in flight: light ones go (mined right after it), the other heavy one waits
    worker.inflight, worker.heavy_inflight = set(heavy[0].ids), True
    assert worker.turn([light, heavy[1]]) == [light]
    # light ones broadcast and a heavy one due: nothing new starts until they are mined
    worker.inflight, worker.heavy_inflight, worker.broadcasting = set(light.ids), False, 1
    assert worker.turn([Batch(903, 902, (qm(9, src=903),)), heavy[1]]) == []
    # light ones in flight but not broadcast yet (waiting for a quorum or a proof): the heavy one goes
    worker.broadcasting = 0
    assert worker.turn([Batch(903, 902, (qm(9, src=903),)), heavy[1]]) == [heavy[1]]
    # no heavy one due: light ones as before
    assert worker.turn([light]) == [light]
