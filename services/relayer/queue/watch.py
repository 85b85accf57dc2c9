"""Watchtower records in the queue file: registry log cursors and flagged roots.

A flag is one stored root (registry chain, source chain, block) that is not the source's block:
`ahead` (the source has no such block) or `forged` (it has one with another hash or root). Flags
survive restarts, so a flagged guardian stays distrusted.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any


class WatchStore:
    """Mixed into `Queue` (same connection, same file)."""

    conn: sqlite3.Connection

    def watch_cursor(self, chain_id: int) -> int | None:
        row = self.conn.execute("SELECT block FROM watch_cursors WHERE chain_id=?", (chain_id,)).fetchone()
        return row[0] if row else None

    def set_watch_cursor(self, chain_id: int, block: int) -> None:
        self.conn.execute(
            "INSERT INTO watch_cursors(chain_id, block) VALUES (?,?) "
            "ON CONFLICT(chain_id) DO UPDATE SET block=excluded.block",
            (chain_id, block),
        )

    def flag_root(self, flag: dict[str, Any], now: float) -> None:
        """Insert or update one flag (keyed by registry chain, source chain, block)."""
        self.conn.execute(
            "INSERT INTO watch_flags(registry_chain, chain_id, block, block_hash, state_root, signers, kind, tx, "
            "real_hash, mined_at, detected_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT(registry_chain, chain_id, block) DO UPDATE SET kind=excluded.kind, "
            "real_hash=coalesce(excluded.real_hash, watch_flags.real_hash), updated_at=excluded.updated_at",
            (
                flag["registry_chain"],
                flag["chain_id"],
                flag["block"],
                flag["block_hash"],
                flag["state_root"],
                json.dumps(flag["signers"]),
                flag["kind"],
                flag.get("tx"),
                flag.get("real_hash"),
                flag.get("mined_at"),
                now,
                now,
            ),
        )

    def flags(self) -> list[dict[str, Any]]:
        rows = self.conn.execute("SELECT * FROM watch_flags ORDER BY detected_at").fetchall()
        return [dict(r, signers=json.loads(r["signers"])) for r in rows]

    def signed_roots(self, chain_id: int, block: int) -> list[dict[str, Any]]:
        """What the guardians' feeds say each guardian signed for (chain, block): slash evidence."""
        rows = self.conn.execute(
            "SELECT guardian, block_hash, state_root, signature FROM seen_attestations WHERE chain_id=? AND block=?",
            (chain_id, block),
        ).fetchall()
        return [dict(r) for r in rows]
