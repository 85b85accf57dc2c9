"""The services' SQLite files copied with SQLite's online backup API, and made fit for a new instance.

A backup is a consistent page-level copy even while the service writes (WAL included), so the
services need not stop while a snapshot is taken: the chains are frozen instead, and whatever
the services do meanwhile is consistent with the frozen chains.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

QUEUE = "relayer.sqlite"


def service_files(run_dir: Path) -> list[Path]:
    """The relayer queue and every guardian and solver store of a run directory."""
    return sorted(p for p in run_dir.glob("*.sqlite") if p.name == QUEUE or p.name.startswith(("guardian-", "solver-")))


def backup(source: Path, target: Path) -> None:
    """Copy `source` into `target` (created or overwritten in place, so open readers see the new rows)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=10)
    dst = sqlite3.connect(target, timeout=10)
    # no fsync: a devnet's copy need not survive a power loss, and each fsync costs ~10-30 ms
    dst.execute("PRAGMA synchronous=OFF")
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


def prove_at_cut(queue: Path, cuts: dict[int, tuple[int, str]]) -> int:
    """Move undelivered messages' proof block up to the cut; returns how many moved.

    A chain loaded from a dump has the state of the cut block and later, none of the blocks
    before it (anvil keeps no historical state across dump/load), so eth_getProof at a message's
    own block fails. Its commitment is still in the cut block's state, and the relayer proves a
    batch at its newest `sent_block`: the cut block (and its hash, for the reorg check) it is.
    """
    conn = sqlite3.connect(queue, timeout=10)
    moved = 0
    try:
        with conn:
            for chain_id, (block, block_hash) in cuts.items():
                moved += conn.execute(
                    "UPDATE messages SET sent_block=?, sent_block_hash=?, next_attempt=0 "
                    "WHERE src=? AND sent_block<? AND status!='delivered'",
                    (block, block_hash, chain_id, block),
                ).rowcount
    finally:
        conn.close()
    return moved


def forget_instance(queue: Path) -> None:
    """Drop what the relayer holds that is signed under the old instance id.

    Signatures it collected (equivocation evidence) would recover to the wrong signers under the
    new EIP-712 domain and look like equivocation; its feed cursors point into guardian stores
    that drop their rows when they open under the new id. Messages keep their state: a message
    in flight is delivered again from its nonce (the gateway's bitmap keeps that exactly once).
    A delivery transaction that was in the pool when the chains were frozen is not in the dump,
    so 'submitted' messages go back to 'pending'.
    """
    conn = sqlite3.connect(queue, timeout=10)
    try:
        with conn:
            conn.execute("DELETE FROM seen_attestations")
            conn.execute("DELETE FROM feed_cursors")
            conn.execute("UPDATE messages SET status='pending', next_attempt=0 WHERE status='submitted'")
    finally:
        conn.close()
