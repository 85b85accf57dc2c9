"""Which batches of a destination start now: cut by source, taken in turns, slots per source.

A destination's ready messages are cut into per-source batches (`make_batches`), taken one
source at a time (`interleave`), and each source has its own delivery slots (`Slots`). So no
source holds back another's messages to the same destination: not a backlog of one source
(its batches no longer all come first, as the queue's source order put them), and not a source
that stopped answering (SIGSTOP, a network partition), whose batches wait on its RPC until the
timeout (30 s) and, with slots shared by the destination, held every one of them meanwhile
(tests/services/relayer/test_fairness.py).
"""

from __future__ import annotations

from collections import Counter

from services.relayer.model import Batch, QueuedMessage

HEAVY_PAYLOAD = 32 * 1024  # bytes: a message this big is delivered alone, one at a time per destination


def is_heavy(batch: Batch) -> bool:
    return any(len(m.payload) >= HEAVY_PAYLOAD for m in batch.messages)


def make_batches(ready: list[QueuedMessage], max_batch: int) -> list[Batch]:
    """Ready messages (ordered by source, block, nonce) cut into per-source batches (finalized
    apart from soft ones, which need not wait for their depth); each quarantined or heavy
    (HEAVY_PAYLOAD) message alone, after the others."""
    by_src: dict[tuple[int, int], list[QueuedMessage]] = {}
    alone: list[Batch] = []
    for m in ready:
        if m.quarantined or len(m.payload) >= HEAVY_PAYLOAD:
            alone.append(Batch(m.src, m.dst, (m,)))
        else:
            by_src.setdefault((m.src, m.finality), []).append(m)
    batches = [
        Batch(src, msgs[0].dst, tuple(msgs[i : i + max_batch]))
        for (src, _), msgs in by_src.items()
        for i in range(0, len(msgs), max_batch)
    ]
    return batches + alone


def interleave(batches: list[Batch]) -> list[Batch]:
    """The batches one source at a time (each source's own order kept): the first of every
    source, then the second of every source, ..."""
    queues: dict[int, list[Batch]] = {}
    for b in batches:
        queues.setdefault(b.src, []).append(b)
    out: list[Batch] = []
    rounds = max((len(q) for q in queues.values()), default=0)
    for i in range(rounds):
        out.extend(q[i] for q in queues.values() if i < len(q))
    return out


class Slots:
    """Batches in flight to one destination, counted per source, at most `limit` each."""

    def __init__(self, limit: int):
        self.limit = limit
        self.taken: Counter[int] = Counter()

    def free(self, src: int) -> bool:
        return self.taken[src] < self.limit

    def take(self, src: int) -> None:
        self.taken[src] += 1

    def release(self, src: int) -> None:
        self.taken[src] -= 1
        if self.taken[src] <= 0:
            del self.taken[src]
