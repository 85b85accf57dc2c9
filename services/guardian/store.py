"""What a guardian signed, in SQLite, so it never signs a second root for a (chain, block).

One honest row per (chain, block) is enforced by a unique index, across
restarts. Rows written through `add_forced` (only reachable with the
test-only `--allow-equivocation-for-tests` flag) are kept apart from that
index so a test can make the guardian equivocate on purpose.

A store belongs to one devnet instance (the salt of the signed EIP-712 domain): opened for
another instance, its rows are dropped, since signatures under another domain verify nowhere
in this one and serving them would only make the guardian look silent.

Each store has a random id (`store_id`), made with the file: the feed (GET /v1/attestations)
carries it, so a reader's cursor (a seq) is known to belong to this store. A store that was lost
and started again numbers its rows from 1: a relayer that kept its old cursor read nothing the
new store signed below it (seen: a guardian reset with its store deleted served a second root for
a height, and the relayer's equivocation watcher never saw it).
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from services.common import db

SCHEMA = """
CREATE TABLE IF NOT EXISTS signed (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    chain_id     INTEGER NOT NULL,
    block_number INTEGER NOT NULL,
    block_hash   BLOB NOT NULL,
    state_root   BLOB NOT NULL,
    signature    BLOB NOT NULL,
    signed_at    REAL NOT NULL,
    forced       INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS signed_once ON signed(chain_id, block_number) WHERE forced = 0;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
"""


@dataclass(frozen=True)
class Signed:
    seq: int
    chain_id: int
    block_number: int
    block_hash: bytes
    state_root: bytes
    signature: bytes
    signed_at: float
    forced: bool = False

    def as_json(self, signer: str, index: int | None = None) -> dict[str, object]:
        doc: dict[str, object] = {
            "chain_id": self.chain_id,
            "block_number": self.block_number,
            "block_hash": "0x" + self.block_hash.hex(),
            "state_root": "0x" + self.state_root.hex(),
            "signature": "0x" + self.signature.hex(),
            "signer": signer,
            "signed_at": self.signed_at,
            "seq": self.seq,
        }
        if index is not None:
            doc["guardian"] = index
        return doc


def _row(r: sqlite3.Row | None) -> Signed | None:
    if r is None:
        return None
    return Signed(
        r["seq"],
        r["chain_id"],
        r["block_number"],
        bytes(r["block_hash"]),
        bytes(r["state_root"]),
        bytes(r["signature"]),
        r["signed_at"],
        bool(r["forced"]),
    )


RECENT = 4096  # honest rows kept in memory


class SignedStore:
    def __init__(self, path: str | Path, instance_id: bytes):
        self._recent: dict[tuple[int, int], Signed] = {}  # (chain, block) -> honest row, newest last
        self.conn = db.connect(path)
        self.conn.executescript(SCHEMA)
        self.dropped = self._bind_instance(bytes(instance_id))
        self.store_id = self._store_id()

    def _bind_instance(self, instance_id: bytes) -> int:
        """Tie the store to `instance_id`; returns how many rows of another instance were dropped."""
        row = self.conn.execute("SELECT value FROM meta WHERE key='instance'").fetchone()
        if row is not None and bytes(row[0]) == instance_id:
            return 0
        with db.Tx(self.conn):
            dropped = self.conn.execute("DELETE FROM signed").rowcount
            self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('instance', ?)", (instance_id,))
        return dropped

    def _store_id(self) -> str:
        """This store's id, made once with it (and again when its rows are dropped)."""
        row = self.conn.execute("SELECT value FROM meta WHERE key='store'").fetchone()
        if row is not None and not self.dropped:
            return str(row[0])
        store_id = secrets.token_hex(8)
        with db.Tx(self.conn):
            self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('store', ?)", (store_id,))
        return store_id

    def close(self) -> None:
        self.conn.close()

    def get(self, chain_id: int, block_number: int) -> Signed | None:
        key = (chain_id, block_number)
        hit = self._recent.get(key)
        if hit is not None:
            return hit
        row = _row(
            self.conn.execute(
                "SELECT * FROM signed WHERE chain_id=? AND block_number=? AND forced=0", (chain_id, block_number)
            ).fetchone()
        )
        if row is not None:
            self._remember(row)
        return row

    def _remember(self, row: Signed) -> Signed:
        """Keep a stored honest row in memory: it never changes (one root per block, forever), and
        every relayer ask reads one (a SQLite query was ~10% of an answer's CPU)."""
        self._recent[(row.chain_id, row.block_number)] = row
        if len(self._recent) > RECENT:
            del self._recent[next(iter(self._recent))]
        return row

    def latest(self, chain_id: int) -> Signed | None:
        return _row(
            self.conn.execute(
                "SELECT * FROM signed WHERE chain_id=? AND forced=0 ORDER BY block_number DESC LIMIT 1", (chain_id,)
            ).fetchone()
        )

    def put_once(
        self, chain_id: int, block_number: int, block_hash: bytes, state_root: bytes, signature: bytes
    ) -> Signed:
        """Store the signature unless one exists for (chain, block); return what is stored."""
        now = time.time()
        cur = self.conn.execute(
            "INSERT OR IGNORE INTO signed(chain_id, block_number, block_hash, state_root, signature, signed_at) "
            "VALUES (?,?,?,?,?,?)",
            (chain_id, block_number, block_hash, state_root, signature, now),
        )
        if cur.rowcount == 1:
            return self._remember(
                Signed(cur.lastrowid, chain_id, block_number, block_hash, state_root, signature, now)  # type: ignore[arg-type]
            )
        stored = self.get(chain_id, block_number)
        assert stored is not None
        return stored

    def add_forced(
        self, chain_id: int, block_number: int, block_hash: bytes, state_root: bytes, signature: bytes
    ) -> Signed:
        cur = self.conn.execute(
            "INSERT INTO signed(chain_id, block_number, block_hash, state_root, signature, signed_at, forced) "
            "VALUES (?,?,?,?,?,?,1)",
            (chain_id, block_number, block_hash, state_root, signature, time.time()),
        )
        return _row(self.conn.execute("SELECT * FROM signed WHERE seq=?", (cur.lastrowid,)).fetchone())  # type: ignore[return-value]

    def feed(self, after: int, limit: int, chain_id: int | None = None) -> list[Signed]:
        """Everything signed (forced rows too) with seq > after, oldest first."""
        if chain_id is None:
            rows = self.conn.execute("SELECT * FROM signed WHERE seq>? ORDER BY seq LIMIT ?", (after, limit))
        else:
            rows = self.conn.execute(
                "SELECT * FROM signed WHERE seq>? AND chain_id=? ORDER BY seq LIMIT ?", (after, chain_id, limit)
            )
        return [_row(r) for r in rows]  # type: ignore[misc]

    def count(self) -> int:
        """Signatures made so far (rows are never deleted, so the last seq; O(log n), unlike COUNT(*))."""
        return self.conn.execute("SELECT coalesce(max(seq), 0) FROM signed").fetchone()[0]
