"""SQLite helpers: WAL, sane timeouts, one place to open a service database.

WAL with synchronous=NORMAL survives `kill -9` of the writer without losing a
committed transaction (the data is in the OS page cache / WAL file); only a
power loss could lose the last transactions, which is fine for a devnet.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path


def connect(path: str | Path, readonly: bool = False, timeout: float = 5.0) -> sqlite3.Connection:
    path = Path(path)
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=timeout, check_same_thread=False)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
    conn.row_factory = sqlite3.Row
    return conn


class Tx:
    """`with Tx(conn):` runs the block in one IMMEDIATE transaction (autocommit connections)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")
