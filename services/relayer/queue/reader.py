"""Read-only access to the relayer's queue for the API and the CLI."""

from __future__ import annotations

import builtins
import json
import sqlite3
from pathlib import Path
from typing import Any


class QueueReader:
    """Read-only view of the relayer's queue for the API and the CLI: the only SQL outside `Queue`, in the same package.

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

    def attempts(self, message_id: str) -> builtins.list[dict[str, Any]]:
        """Every delivery attempt of a message, oldest first (empty for an unknown id)."""
        conn = self._connect()
        if conn is None:
            return []
        try:
            rows = conn.execute(
                "SELECT * FROM attempts WHERE message_id=? ORDER BY attempt", (message_id.lower(),)
            ).fetchall()
        except sqlite3.OperationalError:  # a queue written before attempts were recorded
            return []
        finally:
            conn.close()
        return [dict(r) for r in rows]

    def watch_flags(self) -> builtins.list[dict[str, Any]]:
        """Roots the relayer's watchtower flagged (not the source's block), oldest first."""
        conn = self._connect()
        if conn is None:
            return []
        try:
            rows = conn.execute("SELECT * FROM watch_flags ORDER BY detected_at").fetchall()
        except sqlite3.OperationalError:  # a queue written before the watchtower existed
            return []
        finally:
            conn.close()
        return [dict(r, signers=json.loads(r["signers"])) for r in rows]
