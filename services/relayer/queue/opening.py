"""Opening the queue file, and what happens when it is not a database (any more).

A corrupted queue file (a disk fault, a half-copied backup, someone's editor) made every start
of the relayer fail with "file is not a database", and the supervisor restarted it into the
same failure for ever: nothing was delivered again. The chains hold the truth: a fresh queue
reads every source again from block 0 and finds the old deliveries on chain (a message seen
long after its block is checked before it is sent). So the unreadable file is moved aside,
kept for a post-mortem, and a new one is started, with one ERROR line naming both.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

from services.common import db
from services.relayer.queue.schema import migrate

log = logging.getLogger("relayer")


def open_queue(path: Path) -> tuple[sqlite3.Connection, Path | None]:
    """(a connection to a readable, migrated queue at `path`, where a corrupt file went or None)."""
    try:
        return _open(path), None
    except sqlite3.DatabaseError as exc:
        aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
        log.error("relayer queue %s is unreadable (%s): moved to %s; starting a new one", path, exc, aside)
        for suffix in ("", "-wal", "-shm"):
            side = path.with_name(path.name + suffix)
            if side.exists():
                side.rename(aside.with_name(aside.name + suffix))
        return _open(path), aside


def _open(path: Path) -> sqlite3.Connection:
    conn = db.connect(path)
    try:
        migrate(conn)
        # a damaged page deep inside would fail some later query, exit, and fail again at restart
        verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
        if verdict != "ok":
            raise sqlite3.DatabaseError(f"quick_check: {verdict}")
    except BaseException:
        conn.close()
        raise
    return conn
