"""The relayer's durable queue (SQLite, WAL): messages, per-chain cursors, evidence.

Crash safety (kill -9 at any moment):
- a block's messages and the chain cursor move forward in one transaction, so a
  restart re-reads exactly the blocks whose messages are not stored;
- a batch is marked `submitted` with its transaction hash *before* the
  transaction is broadcast; on restart, `submitted` rows are resolved from that
  transaction's receipt or the gateway's on-chain `isDelivered` before anything
  is sent again (and the gateway itself rejects replays).

Message states: pending -> submitted -> delivered; a recipient revert makes it
`failed` (with the reason) and it is retried with backoff until delivered.
The API reads this file read-only.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from services.common import db

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id              TEXT PRIMARY KEY,
    src             INTEGER NOT NULL,
    dst             INTEGER NOT NULL,
    nonce           INTEGER NOT NULL,
    sender          TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    payload         BLOB NOT NULL,
    sent_block      INTEGER NOT NULL,
    sent_block_hash TEXT,
    sent_tx         TEXT,
    sent_time       REAL,      -- source block timestamp (s)
    seen_at         REAL,      -- relayer saw the log (unix time)
    mined_at        REAL,      -- the source block's newHeads reached the relayer (unix time)
    status          TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt    REAL NOT NULL DEFAULT 0,
    last_error      TEXT,
    revert_reason   TEXT,
    attest_block    INTEGER,
    attested_at     REAL,      -- quorum of signatures collected
    proved_at       REAL,      -- eth_getProof fetched
    submitted_at    REAL,      -- delivery transaction broadcast
    delivery_tx     TEXT,
    delivered_at    REAL,      -- receipt seen
    delivered_block INTEGER,
    gas_used        INTEGER,   -- of the whole batch transaction
    batch_size      INTEGER,
    UNIQUE (src, nonce)
);
CREATE INDEX IF NOT EXISTS messages_ready ON messages(dst, status, next_attempt);
CREATE INDEX IF NOT EXISTS messages_src ON messages(src, sent_block);
CREATE TABLE IF NOT EXISTS cursors (chain_id INTEGER PRIMARY KEY, block INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS seen_attestations (
    guardian   TEXT NOT NULL,
    chain_id   INTEGER NOT NULL,
    block      INTEGER NOT NULL,
    block_hash TEXT NOT NULL,
    state_root TEXT NOT NULL,
    signature  TEXT NOT NULL,
    PRIMARY KEY (guardian, chain_id, block)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS feed_cursors (url TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS slashes (
    guardian   TEXT PRIMARY KEY,
    chain_id   INTEGER NOT NULL,
    block      INTEGER NOT NULL,
    evidence   TEXT NOT NULL,
    status     TEXT NOT NULL,      -- detected | slashed | rejected (reverted) | failed (retried)
    tx         TEXT,
    error      TEXT,
    detected_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT);
"""

COLUMNS = (
    "id",
    "src",
    "dst",
    "nonce",
    "sender",
    "recipient",
    "payload",
    "sent_block",
    "sent_block_hash",
    "sent_tx",
    "sent_time",
    "seen_at",
    "mined_at",
)


class Queue:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.conn = db.connect(self.path)
        self.conn.executescript(SCHEMA)
        cols = {r[1] for r in self.conn.execute("PRAGMA table_info(messages)")}
        if "mined_at" not in cols:  # a queue written by an earlier version
            self.conn.execute("ALTER TABLE messages ADD COLUMN mined_at REAL")

    def close(self) -> None:
        self.conn.close()

    # ------------------------------------------------------------ ingest

    def cursor(self, chain_id: int) -> int | None:
        row = self.conn.execute("SELECT block FROM cursors WHERE chain_id=?", (chain_id,)).fetchone()
        return row[0] if row else None

    def ingest(self, chain_id: int, upto_block: int, messages: Iterable[dict[str, Any]]) -> list[str]:
        """Store new messages and move the chain's cursor to upto_block, atomically. Returns new ids."""
        new = []
        with db.Tx(self.conn) as c:
            for m in messages:
                cur = c.execute(
                    f"INSERT OR IGNORE INTO messages({','.join(COLUMNS)}) VALUES ({','.join('?' * len(COLUMNS))})",
                    tuple(m.get(k) for k in COLUMNS),
                )
                if cur.rowcount:
                    new.append(m["id"])
            c.execute(
                "INSERT INTO cursors(chain_id, block) VALUES (?,?) "
                "ON CONFLICT(chain_id) DO UPDATE SET block=max(block, excluded.block)",
                (chain_id, upto_block),
            )
        return new

    # ------------------------------------------------------------ delivery

    def ready(
        self, dst: int, now: float, limit: int, exclude: set[str] | frozenset[str] = frozenset()
    ) -> list[sqlite3.Row]:
        rows = self.conn.execute(
            "SELECT * FROM messages WHERE dst=? AND status IN ('pending','failed') AND next_attempt<=? "
            "ORDER BY src, sent_block, nonce LIMIT ?",
            (dst, now, limit + len(exclude)),
        ).fetchall()
        return [r for r in rows if r["id"] not in exclude][:limit]

    def next_wakeup(self, dst: int) -> float | None:
        row = self.conn.execute(
            "SELECT min(next_attempt) FROM messages WHERE dst=? AND status IN ('pending','failed')", (dst,)
        ).fetchone()
        return row[0]

    def mark_stage(self, ids: list[str], **fields: Any) -> None:
        sets = ",".join(f"{k}=?" for k in fields)
        with db.Tx(self.conn) as c:
            c.executemany(f"UPDATE messages SET {sets} WHERE id=?", [(*fields.values(), i) for i in ids])

    def mark_submitted(
        self, ids: list[str], tx_hash: str, attest_block: int, attested_at: float, proved_at: float, submitted_at: float
    ) -> None:
        with db.Tx(self.conn) as c:
            c.executemany(
                "UPDATE messages SET status='submitted', delivery_tx=?, attest_block=?, attested_at=?, proved_at=?, "
                "submitted_at=?, attempts=attempts+1, batch_size=? WHERE id=?",
                [(tx_hash, attest_block, attested_at, proved_at, submitted_at, len(ids), i) for i in ids],
            )

    def mark_delivered(
        self, ids: list[str], tx_hash: str | None, block: int | None, at: float, gas_used: int | None = None
    ) -> None:
        with db.Tx(self.conn) as c:
            c.executemany(
                "UPDATE messages SET status='delivered', delivery_tx=coalesce(?, delivery_tx), delivered_block=?, "
                "delivered_at=?, gas_used=?, last_error=NULL WHERE id=? AND status!='delivered'",
                [(tx_hash, block, at, gas_used, i) for i in ids],
            )

    def mark_failed(
        self, failures: dict[str, str], next_attempt: dict[str, float], tx_hash: str | None, block: int | None
    ) -> None:
        """Recipient reverted: keep it deliverable, with the reason, retry later."""
        with db.Tx(self.conn) as c:
            c.executemany(
                "UPDATE messages SET status='failed', revert_reason=?, last_error=?, next_attempt=?, "
                "delivery_tx=?, delivered_block=? WHERE id=? AND status!='delivered'",
                [
                    (reason, f"recipient reverted: {reason}", next_attempt[i], tx_hash, block, i)
                    for i, reason in failures.items()
                ],
            )

    def mark_retry(self, ids: list[str], error: str, next_attempt: float, count_attempt: bool = False) -> None:
        """The batch did not go through (no quorum yet, tx reverted, RPC error): back to pending."""
        with db.Tx(self.conn) as c:
            c.executemany(
                "UPDATE messages SET status=CASE WHEN status='failed' THEN 'failed' ELSE 'pending' END, "
                f"last_error=?, next_attempt=?{', attempts=attempts+1' if count_attempt else ''} "
                "WHERE id=? AND status!='delivered'",
                [(error[:500], next_attempt, i) for i in ids],
            )

    def unsubmit(self, ids: list[str], error: str | None = None) -> None:
        with db.Tx(self.conn) as c:
            c.executemany(
                "UPDATE messages SET status=CASE WHEN revert_reason IS NULL THEN 'pending' ELSE 'failed' END, "
                "last_error=coalesce(?, last_error) WHERE id=? AND status='submitted'",
                [(error, i) for i in ids],
            )

    def submitted(self) -> list[sqlite3.Row]:
        return self.conn.execute("SELECT * FROM messages WHERE status='submitted'").fetchall()

    def get(self, message_id: str) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM messages WHERE id=?", (message_id,)).fetchone()

    def stats(self) -> dict[str, Any]:
        by_status = {r[0]: r[1] for r in self.conn.execute("SELECT status, count(*) FROM messages GROUP BY status")}
        cursors = {str(r[0]): r[1] for r in self.conn.execute("SELECT chain_id, block FROM cursors")}
        return {"messages": by_status, "total": sum(by_status.values()), "cursors": cursors}

    # ------------------------------------------------------------ equivocation evidence

    def feed_cursor(self, url: str) -> int:
        row = self.conn.execute("SELECT seq FROM feed_cursors WHERE url=?", (url,)).fetchone()
        return row[0] if row else 0

    def record_attestations(
        self, url: str, next_seq: int, atts: list[dict[str, Any]]
    ) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """Remember what each guardian signed; return (first, conflicting) pairs found."""
        conflicts = []
        with db.Tx(self.conn) as c:
            for a in atts:
                signer = a["signer"]
                prev = c.execute(
                    "SELECT block_hash, state_root, signature FROM seen_attestations "
                    "WHERE guardian=? AND chain_id=? AND block=?",
                    (signer, a["chain_id"], a["block_number"]),
                ).fetchone()
                if prev is None:
                    c.execute(
                        "INSERT INTO seen_attestations VALUES (?,?,?,?,?,?)",
                        (signer, a["chain_id"], a["block_number"], a["block_hash"], a["state_root"], a["signature"]),
                    )
                elif (prev["state_root"], prev["block_hash"]) != (a["state_root"], a["block_hash"]):
                    first = {
                        "chain_id": a["chain_id"],
                        "block_number": a["block_number"],
                        "block_hash": prev["block_hash"],
                        "state_root": prev["state_root"],
                        "signature": prev["signature"],
                        "signer": signer,
                    }
                    conflicts.append((first, a))
            c.execute(
                "INSERT INTO feed_cursors(url, seq) VALUES (?,?) ON CONFLICT(url) DO UPDATE SET seq=excluded.seq",
                (url, next_seq),
            )
        return conflicts

    def prune_attestations(self, chain_id: int, below_block: int) -> None:
        self.conn.execute("DELETE FROM seen_attestations WHERE chain_id=? AND block<?", (chain_id, below_block))

    def slash_record(self, guardian: str) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM slashes WHERE guardian=?", (guardian,)).fetchone()

    def set_slash(
        self,
        guardian: str,
        chain_id: int,
        block: int,
        evidence: Any,
        status: str,
        tx: str | None = None,
        error: str | None = None,
    ) -> None:
        now = time.time()
        self.conn.execute(
            "INSERT INTO slashes(guardian, chain_id, block, evidence, status, tx, error, detected_at, updated_at) "
            "VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(guardian) DO UPDATE SET status=excluded.status, "
            "tx=coalesce(excluded.tx, slashes.tx), error=excluded.error, updated_at=excluded.updated_at",
            (guardian, chain_id, block, json.dumps(evidence), status, tx, error, now, now),
        )

    def slashes(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.conn.execute("SELECT * FROM slashes ORDER BY detected_at")]


class QueueReader:
    """Read-only view of the relayer's queue for the API and the CLI: the only SQL outside `Queue`.

    Opens the file read-only for each call (the relayer may not have created it yet, and a
    long-lived read connection would pin WAL checkpoints). Every method returns plain dicts.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def _connect(self) -> sqlite3.Connection | None:
        if not self.path.exists():
            return None
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5.0, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout=5000")
        return conn

    def get(self, message_id: str) -> dict[str, Any] | None:
        """One message row by id (lower-case 0x hex), or None."""
        conn = self._connect()
        if conn is None:
            return None
        try:
            row = conn.execute("SELECT * FROM messages WHERE id=?", (message_id.lower(),)).fetchone()
        finally:
            conn.close()
        return dict(row) if row else None

    def list(
        self,
        *,
        chain: int | None = None,
        source: int | None = None,
        destination: int | None = None,
        status: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[int, list[dict[str, Any]]]:
        """(total matching, the page of rows newest first). `chain` matches either end."""
        where: list[str] = []
        args: list[Any] = []
        if chain is not None:
            where.append("(src=? OR dst=?)")
            args += [chain, chain]
        if source is not None:
            where.append("src=?")
            args.append(source)
        if destination is not None:
            where.append("dst=?")
            args.append(destination)
        if status is not None:
            where.append("status=?")
            args.append(status)
        conn = self._connect()
        if conn is None:
            return 0, []
        sql_where = (" WHERE " + " AND ".join(where)) if where else ""
        try:
            total = conn.execute("SELECT count(*) FROM messages" + sql_where, args).fetchone()[0]
            rows = conn.execute(
                "SELECT * FROM messages" + sql_where + " ORDER BY seen_at DESC, nonce DESC LIMIT ? OFFSET ?",
                [*args, limit, offset],
            ).fetchall()
        finally:
            conn.close()
        return int(total), [dict(r) for r in rows]
