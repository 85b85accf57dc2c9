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


class Corrupt(sqlite3.DatabaseError):
    """The file opens, but SQLite's quick_check finds it damaged."""


# SQLite's own words for a file that is not (or no longer) a sound database. OperationalError
# (a DatabaseError too) also covers "database is locked": moving such a queue aside would throw
# away a sound one, with every final state and attempt in it.
CORRUPT_CODES = ("SQLITE_NOTADB", "SQLITE_CORRUPT")


def _corrupt(exc: sqlite3.DatabaseError) -> bool:
    name = getattr(exc, "sqlite_errorname", None) or ""
    return isinstance(exc, Corrupt) or name.startswith(CORRUPT_CODES)


def open_queue(path: Path) -> tuple[sqlite3.Connection, Path | None]:
    """(a connection to a readable, migrated queue at `path`, where a corrupt file went or None)."""
    try:
        return _open(path), None
    except sqlite3.DatabaseError as exc:
        if not _corrupt(exc):  # "database is locked" and the like: the file is fine, raise
            raise
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
            raise Corrupt(f"quick_check: {verdict}")
    except BaseException:
        conn.close()
        raise
    return conn
