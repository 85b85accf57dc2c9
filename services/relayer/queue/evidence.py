"""Equivocation evidence in the queue file: what each guardian signed, feed cursors, slashes."""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from services.common import db


class EvidenceStore:
    """Mixed into `Queue` (same connection, same file)."""

    conn: sqlite3.Connection

    def feed_cursor(self, url: str) -> int:
        row = self.conn.execute("SELECT seq FROM feed_cursors WHERE url=?", (url,)).fetchone()
        return row[0] if row else 0

    def feed_store(self, url: str) -> str:
        """The id of the guardian store the cursor of `url` counts in ('' before it was known)."""
        row = self.conn.execute("SELECT store FROM feed_cursors WHERE url=?", (url,)).fetchone()
        return row[0] if row else ""

    def restart_feed(self, url: str, store: str) -> None:
        """Read `url`'s feed from its start: another store (lost, replaced) is behind it now."""
        self.conn.execute(
            "INSERT INTO feed_cursors(url, seq, store) VALUES (?,0,?) "
            "ON CONFLICT(url) DO UPDATE SET seq=0, store=excluded.store",
            (url, store),
        )

    def record_attestations(
        self, url: str, next_seq: int, atts: list[dict[str, Any]], store: str = ""
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
                "INSERT INTO feed_cursors(url, seq, store) VALUES (?,?,?) "
                "ON CONFLICT(url) DO UPDATE SET seq=excluded.seq, store=excluded.store",
                (url, next_seq, store),
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
