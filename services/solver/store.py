"""The solver's durable state (SQLite, WAL): orders it has seen, its fills, rebalances, scan cursors.

Crash safety (kill -9 at any moment):
- the Open/Settled/Refunded logs of a block range and the chain's cursor move in one transaction;
- a fill is marked `filling` with its transaction hash *before* broadcast; on restart such rows are
  resolved from the receipt or the DestinationSettler's fill record before anything is sent again
  (and the settler refuses a second fill anyway), so nothing is lost or filled twice;
- a rebalance is recorded `sending` with its hash before broadcast and counted as in flight until
  the gateway on the destination has delivered it.

Order states: new -> filling -> filled -> settled; or skipped (reason), lost (another solver filled
first), failed (reverted for another reason), refunded (the user took the escrow back).
Amounts are stored as decimal text (uint256).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from services.common import db

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    id            TEXT PRIMARY KEY,
    origin        INTEGER NOT NULL,
    destination   INTEGER NOT NULL,
    user          TEXT NOT NULL,
    input_token   TEXT NOT NULL,
    input_amount  TEXT NOT NULL,
    output_token  TEXT NOT NULL,
    output_amount TEXT NOT NULL,
    recipient     TEXT NOT NULL,
    fill_deadline INTEGER NOT NULL,
    origin_data   BLOB NOT NULL,
    open_block    INTEGER NOT NULL,
    open_tx       TEXT,
    seen_at       REAL NOT NULL,
    status        TEXT NOT NULL DEFAULT 'new',
    reason        TEXT,
    next_attempt  REAL NOT NULL DEFAULT 0,
    fill_tx       TEXT,
    fill_sent_at  REAL,
    filled_at     REAL,
    settled_at    REAL,
    updated_at    REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_ready ON orders(destination, status, next_attempt);
CREATE TABLE IF NOT EXISTS cursors (chain_id INTEGER PRIMARY KEY, block INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS rebalances (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    src         INTEGER NOT NULL,
    dst         INTEGER NOT NULL,
    amount      TEXT NOT NULL,
    tx          TEXT,
    nonce       INTEGER,            -- gateway outbound nonce of the message (arrival check)
    status      TEXT NOT NULL,      -- sending | sent | arrived | failed
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL
);
"""

ORDER_COLUMNS = (
    "id",
    "origin",
    "destination",
    "user",
    "input_token",
    "input_amount",
    "output_token",
    "output_amount",
    "recipient",
    "fill_deadline",
    "origin_data",
    "open_block",
    "open_tx",
    "seen_at",
    "updated_at",
)
PLACEHOLDERS = ",".join("?" * len(ORDER_COLUMNS))


class Store:
    def __init__(self, path: str | Path):
        self.conn = db.connect(Path(path))
        self.conn.executescript(SCHEMA)

    def close(self) -> None:
        self.conn.close()

    # ------------------------------------------------------------ scanning

    def cursor(self, chain_id: int) -> int | None:
        row = self.conn.execute("SELECT block FROM cursors WHERE chain_id=?", (chain_id,)).fetchone()
        return row[0] if row else None

    def ingest(
        self,
        chain_id: int,
        upto: int,
        opened: Iterable[dict[str, Any]],
        settled: Iterable[str],
        refunded: Iterable[str],
    ) -> list[str]:
        """Store new orders and settlement outcomes and move the cursor, atomically; returns new order ids."""
        now = time.time()
        new = []
        with db.Tx(self.conn) as c:
            for o in opened:
                row = {**o, "seen_at": now, "updated_at": now}
                cur = c.execute(
                    f"INSERT OR IGNORE INTO orders({','.join(ORDER_COLUMNS)}) VALUES ({PLACEHOLDERS})",
                    tuple(str(row[k]) if k in ("input_amount", "output_amount") else row[k] for k in ORDER_COLUMNS),
                )
                if cur.rowcount:
                    new.append(o["id"])
            for oid in settled:
                c.execute("UPDATE orders SET status='settled', settled_at=?, updated_at=? WHERE id=?", (now, now, oid))
            for oid in refunded:
                c.execute(
                    "UPDATE orders SET status='refunded', updated_at=? WHERE id=? AND status!='settled'", (now, oid)
                )
            c.execute(
                "INSERT INTO cursors(chain_id, block) VALUES (?,?) "
                "ON CONFLICT(chain_id) DO UPDATE SET block=excluded.block",  # back too, after a rewind
                (chain_id, upto),
            )
        return new

    # ------------------------------------------------------------ orders

    def ready(self, destination: int, limit: int = 50) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT * FROM orders WHERE destination=? AND status='new' AND next_attempt<=? ORDER BY seen_at LIMIT ?",
            (destination, time.time(), limit),
        ).fetchall()
        return [dict(r) for r in rows]

    def in_state(self, status: str) -> list[dict[str, Any]]:
        return [dict(r) for r in self.conn.execute("SELECT * FROM orders WHERE status=?", (status,))]

    def get(self, order_id: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT * FROM orders WHERE id=?", (order_id,)).fetchone()
        return dict(row) if row else None

    def set_status(self, order_id: str, status: str, reason: str | None = None, **extra: Any) -> None:
        cols = ", ".join(f"{k}=?" for k in extra)
        sql = f"UPDATE orders SET status=?, reason=?, updated_at=?{', ' + cols if cols else ''} WHERE id=?"
        self.conn.execute(sql, (status, reason, time.time(), *extra.values(), order_id))

    def retry_later(self, order_id: str, reason: str, delay: float) -> None:
        self.conn.execute(
            "UPDATE orders SET reason=?, next_attempt=?, updated_at=? WHERE id=?",
            (reason, time.time() + delay, time.time(), order_id),
        )

    def mark_filling(self, order_id: str, tx_hash: str) -> None:
        self.conn.execute(
            "UPDATE orders SET status='filling', fill_tx=?, fill_sent_at=?, updated_at=? WHERE id=?",
            (tx_hash, time.time(), time.time(), order_id),
        )

    def mark_filled(self, order_id: str) -> None:
        """Our fill succeeded. An order already `settled` stays so: the relayer can deliver the
        settlement, and this solver scan it on the origin, before the fill's receipt reaches us."""
        now = time.time()
        self.conn.execute(
            "UPDATE orders SET status=CASE WHEN status='settled' THEN status ELSE 'filled' END, reason=NULL, "
            "filled_at=?, updated_at=? WHERE id=?",
            (now, now, order_id),
        )

    def counts(self) -> dict[str, int]:
        return {r[0]: r[1] for r in self.conn.execute("SELECT status, count(*) FROM orders GROUP BY status")}

    # ------------------------------------------------------------ rebalances

    def add_rebalance(self, src: int, dst: int, amount: int) -> int:
        now = time.time()
        cur = self.conn.execute(
            "INSERT INTO rebalances(src, dst, amount, status, created_at, updated_at) VALUES (?,?,?,'sending',?,?)",
            (src, dst, str(amount), now, now),
        )
        return int(cur.lastrowid or 0)

    def update_rebalance(self, rid: int, status: str, **extra: Any) -> None:
        cols = "".join(f", {k}=?" for k in extra)
        self.conn.execute(
            f"UPDATE rebalances SET status=?, updated_at=?{cols} WHERE id=?",
            (status, time.time(), *extra.values(), rid),
        )

    def rebalances(self, statuses: tuple[str, ...] = ("sending", "sent")) -> list[dict[str, Any]]:
        marks = ",".join("?" * len(statuses))
        return [dict(r) for r in self.conn.execute(f"SELECT * FROM rebalances WHERE status IN ({marks})", statuses)]

    def rebalance_counts(self) -> dict[str, int]:
        return {r[0]: r[1] for r in self.conn.execute("SELECT status, count(*) FROM rebalances GROUP BY status")}
