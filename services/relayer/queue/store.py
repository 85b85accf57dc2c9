"""The relayer's writable queue: messages, cursors and every delivery attempt."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from services.common import db
from services.relayer.queue.evidence import EvidenceStore
from services.relayer.queue.opening import open_queue
from services.relayer.queue.schema import COLUMNS
from services.relayer.queue.watch import WatchStore

READY = "('pending','retrying')"
# the attempt a message is on: its row in `attempts`
_CURRENT = "message_id=? AND attempt=(SELECT attempts FROM messages WHERE id=?)"


def _orphan(c: sqlite3.Connection, ids: list[str], why: str = "its source block was rewound away") -> None:
    """These messages' sends are no longer on their source: never delivered unless seen again."""
    c.executemany("UPDATE messages SET status='orphaned', last_error=? WHERE id=?", [(why, i) for i in ids])


class Queue(EvidenceStore, WatchStore):
    def __init__(self, path: str | Path):
        self.path = Path(path)
        # a corrupt file found at start is moved aside (kept for a post-mortem): opening.py
        self.conn, self.moved_aside = open_queue(self.path)

    def close(self) -> None:
        self.conn.close()

    # ------------------------------------------------------------ ingest

    def cursor(self, chain_id: int) -> int | None:
        row = self.conn.execute("SELECT block FROM cursors WHERE chain_id=?", (chain_id,)).fetchone()
        return row[0] if row else None

    def ingest(
        self,
        chain_id: int,
        upto_block: int,
        messages: Iterable[dict[str, Any]],
        upto_hash: str | None = None,
        from_block: int | None = None,
    ) -> list[str]:
        """Store new messages and move the chain's cursor to upto_block (remembering its hash),
        atomically. A message seen again after its block was rewound away comes back from
        `orphaned` with its new block. Returns the ids stored or revived.

        With `from_block`, `messages` are all the chain has in from_block..upto_block: a message
        stored early (`ingest_early`) for those blocks and not among them was rewound away
        before the scan, and becomes `orphaned` like any message of a rewound block."""
        messages = list(messages)
        with db.Tx(self.conn) as c:
            new = self._insert(c, messages)
            if from_block is not None:
                self._orphan_unseen(c, chain_id, from_block, upto_block, {m["id"] for m in messages})
            c.execute(
                "INSERT INTO cursors(chain_id, block) VALUES (?,?) "
                "ON CONFLICT(chain_id) DO UPDATE SET block=max(block, excluded.block)",
                (chain_id, upto_block),
            )
            if upto_hash is not None:
                c.execute(
                    "INSERT OR REPLACE INTO block_hashes(chain_id, block, hash) VALUES (?,?,?)",
                    (chain_id, upto_block, upto_hash),
                )
        return new

    def ingest_early(self, messages: list[dict[str, Any]]) -> list[str]:
        """Store messages the source pushed (a logs subscription) ahead of the scan of their
        blocks; the cursor stays, and that scan confirms them (`ingest` with `from_block`)."""
        with db.Tx(self.conn) as c:
            return self._insert(c, messages)

    @staticmethod
    def _insert(c: sqlite3.Connection, messages: list[dict[str, Any]]) -> list[str]:
        new = []
        cols = ",".join(COLUMNS)
        revive = ",".join(f"{k}=excluded.{k}" for k in COLUMNS if k != "id")
        for m in messages:
            cur = c.execute(
                f"INSERT INTO messages({cols}) VALUES ({','.join('?' * len(COLUMNS))}) "
                f"ON CONFLICT(id) DO UPDATE SET {revive}, status='pending', last_error=NULL "
                "WHERE messages.status='orphaned'",
                tuple(m.get(k, 0 if k in ("gas_limit", "finality") else None) for k in COLUMNS),
            )
            if cur.rowcount:
                new.append(m["id"])
        return new

    @staticmethod
    def _orphan_unseen(c: sqlite3.Connection, chain_id: int, frm: int, to: int, seen: set[str]) -> None:
        rows = c.execute(
            "SELECT id FROM messages WHERE src=? AND sent_block BETWEEN ? AND ? "
            "AND status NOT IN ('delivered','orphaned')",
            (chain_id, frm, to),
        )
        _orphan(c, [r[0] for r in rows if r[0] not in seen])

    # ------------------------------------------------------------ source rewinds

    def block_hash(self, chain_id: int, block: int) -> str | None:
        row = self.conn.execute(
            "SELECT hash FROM block_hashes WHERE chain_id=? AND block=?", (chain_id, block)
        ).fetchone()
        return row[0] if row else None

    def recent_hashes(self, chain_id: int, upto: int, limit: int = 256) -> list[tuple[int, str]]:
        """(block, hash) of scanned blocks at or below `upto`, newest first."""
        rows = self.conn.execute(
            "SELECT block, hash FROM block_hashes WHERE chain_id=? AND block<=? ORDER BY block DESC LIMIT ?",
            (chain_id, upto, limit),
        )
        return [(r[0], r[1]) for r in rows]

    def rewind(self, chain_id: int, ancestor: int) -> list[str]:
        """The source chain was rewound to `ancestor`: its later blocks are gone. Their messages
        that were not delivered become `orphaned` (a rescan revives those that exist again),
        and the cursor moves back. Returns the orphaned ids."""
        with db.Tx(self.conn) as c:
            ids = [
                r[0]
                for r in c.execute(
                    "SELECT id FROM messages WHERE src=? AND sent_block>? AND status NOT IN ('delivered','orphaned')",
                    (chain_id, ancestor),
                )
            ]
            _orphan(c, ids)
            c.execute("DELETE FROM block_hashes WHERE chain_id=? AND block>?", (chain_id, ancestor))
            c.execute(
                "INSERT INTO cursors(chain_id, block) VALUES (?,?) "
                "ON CONFLICT(chain_id) DO UPDATE SET block=excluded.block",
                (chain_id, ancestor),
            )
            c.execute("DELETE FROM block_hashes WHERE chain_id=? AND block<?", (chain_id, ancestor - 4096))
        return ids

    def orphan(self, ids: list[str], why: str) -> None:
        """Found gone from the source (its gateway no longer holds their commitments), whatever the
        scan saw: `orphaned`, revived only if a scan finds them again."""
        with db.Tx(self.conn) as c:
            live = [i for i in ids if self._status(i) not in (None, "delivered", "orphaned")]
            _orphan(c, live, why)

    # ------------------------------------------------------------ delivery

    def ready(
        self, dst: int, now: float, limit: int, exclude: set[str] | frozenset[str] = frozenset()
    ) -> list[sqlite3.Row]:
        """Due messages to `dst` not in `exclude`, ordered by source, block, nonce: at most `limit`
        of each source, so a backlog of one source never hides another's messages."""
        rows = self.conn.execute(
            "SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY src ORDER BY sent_block, nonce) AS nth "
            f"FROM messages WHERE dst=? AND status IN {READY} AND next_attempt<=?) "
            "WHERE nth<=? ORDER BY src, sent_block, nonce",
            (dst, now, limit + len(exclude)),
        ).fetchall()
        taken: dict[int, int] = {}
        out = []
        for r in rows:
            if r["id"] in exclude or taken.get(r["src"], 0) >= limit:
                continue
            taken[r["src"]] = taken.get(r["src"], 0) + 1
            out.append(r)
        return out

    def next_wakeup(self, dst: int) -> float | None:
        row = self.conn.execute(
            f"SELECT min(next_attempt) FROM messages WHERE dst=? AND status IN {READY}", (dst,)
        ).fetchone()
        return row[0]

    def mark_stage(self, ids: list[str], **fields: Any) -> None:
        sets = ",".join(f"{k}=?" for k in fields)
        with db.Tx(self.conn) as c:
            c.executemany(f"UPDATE messages SET {sets} WHERE id=?", [(*fields.values(), i) for i in ids])

    @staticmethod
    def _new_attempt(c: sqlite3.Connection, ids: list[str], **fields: Any) -> None:
        """Count one more attempt for each message and open its row in `attempts`."""
        c.executemany("UPDATE messages SET attempts=attempts+1 WHERE id=?", [(i,) for i in ids])
        names = ",".join(fields)
        c.executemany(
            f"INSERT OR REPLACE INTO attempts(message_id, attempt{',' if fields else ''}{names}) "
            f"SELECT id, attempts{',?' * len(fields)} FROM messages WHERE id=?",
            [(*fields.values(), i) for i in ids],
        )

    @staticmethod
    def _close_attempt(c: sqlite3.Connection, ids: Iterable[str], **fields: Any) -> None:
        sets = ",".join(f"{k}=?" for k in fields)
        c.executemany(f"UPDATE attempts SET {sets} WHERE {_CURRENT}", [(*fields.values(), i, i) for i in ids])

    def mark_submitted(
        self,
        ids: list[str],
        tx_hash: str,
        attest_block: int,
        attested_at: float,
        proved_at: float,
        submitted_at: float,
        started_at: float | None = None,
        gas_limit: int | None = None,
    ) -> None:
        """Before broadcast: the batch's transaction, so a restart can settle it from its receipt."""
        with db.Tx(self.conn) as c:
            c.executemany(
                "UPDATE messages SET status='submitted', delivery_tx=?, attest_block=?, attested_at=?, proved_at=?, "
                "submitted_at=?, batch_size=? WHERE id=?",
                [(tx_hash, attest_block, attested_at, proved_at, submitted_at, len(ids), i) for i in ids],
            )
            self._new_attempt(
                c,
                ids,
                started_at=started_at if started_at is not None else attested_at,
                attested_at=attested_at,
                proved_at=proved_at,
                submitted_at=submitted_at,
                tx=tx_hash,
                attest_block=attest_block,
                batch_size=len(ids),
                gas_limit=gas_limit,
            )

    def mark_delivered(
        self, ids: list[str], tx_hash: str | None, block: int | None, at: float, gas_used: int | None = None
    ) -> None:
        with db.Tx(self.conn) as c:
            live = [
                i
                for i in ids
                if c.execute("SELECT 1 FROM messages WHERE id=? AND status!='delivered'", (i,)).fetchone()
            ]
            self._close_attempt(c, live, outcome="delivered", settled_at=at, gas_used=gas_used)
            c.executemany(
                "UPDATE messages SET status='delivered', delivery_tx=coalesce(?, delivery_tx), delivered_block=?, "
                "delivered_at=?, gas_used=?, last_error=NULL WHERE id=?",
                [(tx_hash, block, at, gas_used, i) for i in live],
            )

    def mark_failed(
        self,
        failures: dict[str, str],
        next_attempt: dict[str, float],
        tx_hash: str | None,
        block: int | None,
        final: set[str] | frozenset[str] = frozenset(),
        at: float | None = None,
        outcome: str = "failed",
        starved: set[str] | frozenset[str] = frozenset(),
    ) -> None:
        """The message's own delivery failed (its recipient reverted, or its delivery would).

        It is quarantined (delivered alone from now on) and retried after `next_attempt`, or
        ends `failed` for good when it is in `final`. `outcome="rejected"` records an attempt
        that sent nothing (the failure was found by simulation). `starved`: those used up the
        gas they got on chain (InsufficientGas); they get a whole block's gas from now on."""
        ids = [i for i in failures if self._status(i) not in (None, "delivered")]
        with db.Tx(self.conn) as c:
            if outcome == "rejected":
                self._new_attempt(c, ids, started_at=at)
            for i in ids:
                reason = failures[i]
                self._close_attempt(c, [i], outcome=outcome, reason=reason, settled_at=at)
                c.execute(
                    "UPDATE messages SET status=?, revert_reason=?, last_error=?, next_attempt=?, "
                    "delivery_tx=coalesce(?, delivery_tx), delivered_block=coalesce(?, delivered_block), "
                    "failures=failures+1, first_failed_at=coalesce(first_failed_at, ?), quarantined=1, "
                    "starved=max(starved, ?) WHERE id=?",
                    (
                        "failed" if i in final else "retrying",
                        reason,
                        f"recipient reverted: {reason}",
                        next_attempt[i],
                        tx_hash,
                        block,
                        at,
                        int(i in starved),
                        i,
                    ),
                )

    def mark_retry(
        self,
        ids: list[str],
        error: str,
        next_attempt: float,
        count_attempt: bool = False,
        outcome: str | None = None,
        at: float | None = None,
    ) -> None:
        """The batch did not go through for a reason not the message's own (no quorum yet, the
        whole transaction reverted, an RPC error, deferred): back in line, not counted against it.

        `count_attempt`: this was an attempt of its own (recorded with `outcome`); otherwise
        `outcome` closes the attempt in flight (a reverted transaction)."""
        error = error[:500]
        with db.Tx(self.conn) as c:
            live = [
                i
                for i in ids
                if c.execute(
                    "SELECT 1 FROM messages WHERE id=? AND status NOT IN ('delivered','failed')", (i,)
                ).fetchone()
            ]
            if count_attempt:
                self._new_attempt(c, live, started_at=at, settled_at=at, outcome=outcome, reason=error)
            elif outcome is not None:
                self._close_attempt(c, live, outcome=outcome, reason=error, settled_at=at)
            c.executemany(
                "UPDATE messages SET status=CASE WHEN revert_reason IS NULL THEN 'pending' ELSE 'retrying' END, "
                "last_error=?, next_attempt=? WHERE id=?",
                [(error, next_attempt, i) for i in live],
            )

    def quarantine_reverted(self, ids: list[str], after: int) -> list[str]:
        """Quarantine (deliver alone from now on) those of `ids` whose batches reverted as a whole
        `after` times or more: a transaction that reverts without naming a message (an out-of-gas
        of the whole batch) then cannot hold the others back for ever. Returns the ids."""
        with db.Tx(self.conn) as c:
            hit = [
                i
                for i in ids
                if c.execute(
                    "SELECT count(*) FROM attempts WHERE message_id=? AND outcome='reverted'", (i,)
                ).fetchone()[0]
                >= after
            ]
            c.executemany("UPDATE messages SET quarantined=1 WHERE id=? AND quarantined=0", [(i,) for i in hit])
        return hit

    def unsubmit(self, ids: list[str], error: str | None = None, at: float | None = None) -> None:
        with db.Tx(self.conn) as c:
            live = [i for i in ids if self._status(i) == "submitted"]
            self._close_attempt(c, live, outcome="abandoned", reason=error, settled_at=at)
            c.executemany(
                "UPDATE messages SET status=CASE WHEN revert_reason IS NULL THEN 'pending' ELSE 'retrying' END, "
                "last_error=coalesce(?, last_error) WHERE id=?",
                [(error, i) for i in live],
            )

    def requeue(self, message_id: str) -> str | None:
        """Try a message again from scratch (after its recipient was fixed). Returns its status
        afterwards: 'pending', or 'delivered' (nothing to do); None for an unknown id."""
        with db.Tx(self.conn) as c:
            status = self._status(message_id)
            if status is None or status == "delivered":
                return status
            c.execute(
                "UPDATE messages SET status=CASE WHEN status='submitted' THEN status ELSE 'pending' END, "
                "next_attempt=0, failures=0, first_failed_at=NULL, last_error='requeued by hand' WHERE id=?",
                (message_id,),
            )
        return "pending" if status != "submitted" else "submitted"

    def redeliver_after(self, dst: int, block: int) -> list[str]:
        """The destination lost its blocks after `block` (a restart from an older state, evm_revert,
        anvil_reorg): deliveries in those blocks are pending again (their ids returned); one that
        is in fact still on chain (re-mined) is then found delivered and settled, never sent twice.
        Source-side rewinds: `rewind`."""
        with db.Tx(self.conn) as c:
            ids = [
                r[0]
                for r in c.execute(
                    "SELECT id FROM messages WHERE dst=? AND status='delivered' AND delivered_block>?", (dst, block)
                )
            ]
            c.executemany(
                "UPDATE messages SET status='pending', next_attempt=0, "
                "last_error='the destination lost the block of its delivery (rewind or restart)' WHERE id=?",
                [(i,) for i in ids],
            )
        return ids

    def _status(self, message_id: str) -> str | None:
        row = self.conn.execute("SELECT status FROM messages WHERE id=?", (message_id,)).fetchone()
        return row[0] if row else None

    def submitted(self) -> list[sqlite3.Row]:
        return self.conn.execute("SELECT * FROM messages WHERE status='submitted'").fetchall()

    def get(self, message_id: str) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM messages WHERE id=?", (message_id,)).fetchone()

    def attempts(self, message_id: str) -> list[dict[str, Any]]:
        rows = self.conn.execute("SELECT * FROM attempts WHERE message_id=? ORDER BY attempt", (message_id,))
        return [dict(r) for r in rows]

    def stats(self) -> dict[str, Any]:
        by_status = {r[0]: r[1] for r in self.conn.execute("SELECT status, count(*) FROM messages GROUP BY status")}
        cursors = {str(r[0]): r[1] for r in self.conn.execute("SELECT chain_id, block FROM cursors")}
        return {"messages": by_status, "total": sum(by_status.values()), "cursors": cursors}
