"""The queue's SQLite schema, and the columns added since the first release (migrated on open)."""

from __future__ import annotations

import sqlite3

STATUSES = ("pending", "submitted", "delivered", "retrying", "failed", "invalid", "orphaned")
# pending   waiting for its first delivery (or for guardians / an RPC to recover)
# submitted a delivery transaction with it is on the wire
# retrying  its own delivery failed (recipient reverted, delivery would revert); tried again
# failed    final: the retry cap was reached; no more transactions until requeued by hand
# orphaned  its source block was rewound away (reorg, evm_revert): never delivered
OUTCOMES = ("delivered", "failed", "rejected", "reverted", "no_quorum", "error", "abandoned", "deferred")
# failed    the recipient reverted on chain (MessageFailed)
# rejected  simulation showed the delivery would fail; nothing sent
# reverted  the whole batch transaction reverted
# abandoned the relayer restarted before its transaction was mined
# deferred  taken out of the batch to keep the others deliverable (block gas, a failing neighbour)

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
    gas_limit       INTEGER NOT NULL DEFAULT 0,  -- gas the sender asked the recipient to get (0 = none)
    finality        INTEGER NOT NULL DEFAULT 0,  -- 0 soft, 1 finalized (the finality attribute)
    status          TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,  -- delivery attempts of any outcome
    failures        INTEGER NOT NULL DEFAULT 0,  -- attempts that failed because of the message itself
    first_failed_at REAL,
    quarantined     INTEGER NOT NULL DEFAULT 0,  -- 1: delivered alone, never batched with others
    starved         INTEGER NOT NULL DEFAULT 0,  -- 1: it used up its gas on chain (InsufficientGas): whole block's gas
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
    batch_size      INTEGER
);
CREATE INDEX IF NOT EXISTS messages_ready ON messages(dst, status, next_attempt);
CREATE INDEX IF NOT EXISTS messages_src ON messages(src, sent_block);
CREATE INDEX IF NOT EXISTS messages_nonce ON messages(src, nonce);
CREATE TABLE IF NOT EXISTS cursors (chain_id INTEGER PRIMARY KEY, block INTEGER NOT NULL);
-- hashes of recently scanned blocks, to find the common ancestor after a source rewind
CREATE TABLE IF NOT EXISTS block_hashes (
    chain_id INTEGER NOT NULL,
    block    INTEGER NOT NULL,
    hash     TEXT NOT NULL,
    PRIMARY KEY (chain_id, block)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS seen_attestations (
    guardian   TEXT NOT NULL,
    chain_id   INTEGER NOT NULL,
    block      INTEGER NOT NULL,
    block_hash TEXT NOT NULL,
    state_root TEXT NOT NULL,
    signature  TEXT NOT NULL,
    PRIMARY KEY (guardian, chain_id, block)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS feed_cursors (url TEXT PRIMARY KEY, seq INTEGER NOT NULL, store TEXT NOT NULL DEFAULT '');
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
-- watchtower: registry log cursors and flagged roots (queue/watch.py)
CREATE TABLE IF NOT EXISTS watch_cursors (chain_id INTEGER PRIMARY KEY, block INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS watch_flags (
    registry_chain INTEGER NOT NULL,   -- the chain whose registry stored the root
    chain_id    INTEGER NOT NULL,      -- the attested (source) chain
    block       INTEGER NOT NULL,
    block_hash  TEXT NOT NULL,
    state_root  TEXT NOT NULL,
    signers     TEXT NOT NULL,         -- JSON list of addresses
    kind        TEXT NOT NULL,         -- ahead | forged
    tx          TEXT,                  -- the registry transaction that stored it
    real_hash   TEXT,                  -- the source's block hash, once the block exists
    mined_at    REAL,                  -- the registry block's newHeads reached the relayer
    detected_at REAL NOT NULL,
    updated_at  REAL NOT NULL,
    PRIMARY KEY (registry_chain, chain_id, block)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS attempts (
    message_id   TEXT NOT NULL,
    attempt      INTEGER NOT NULL,   -- 1, 2, ... (messages.attempts when it started)
    started_at   REAL,
    attested_at  REAL,
    proved_at    REAL,
    submitted_at REAL,
    settled_at   REAL,
    tx           TEXT,
    attest_block INTEGER,
    batch_size   INTEGER,
    gas_limit    INTEGER,            -- of the transaction
    gas_used     INTEGER,            -- of the whole transaction
    outcome      TEXT,               -- NULL while in flight; see OUTCOMES
    reason       TEXT,               -- decoded revert reason or error
    PRIMARY KEY (message_id, attempt)
) WITHOUT ROWID;
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
    "gas_limit",
    "finality",
)

# (column, definition) added after the first release: a queue written by an earlier version
ADDED_COLUMNS = (
    ("mined_at", "REAL"),
    ("gas_limit", "INTEGER NOT NULL DEFAULT 0"),
    ("failures", "INTEGER NOT NULL DEFAULT 0"),
    ("first_failed_at", "REAL"),
    ("quarantined", "INTEGER NOT NULL DEFAULT 0"),
    ("starved", "INTEGER NOT NULL DEFAULT 0"),
    ("finality", "INTEGER NOT NULL DEFAULT 0"),
)


def _drop_nonce_uniqueness(conn: sqlite3.Connection) -> None:
    """Queues before source rewinds were followed had UNIQUE(src, nonce); a rewound source
    reuses nonces, so messages are keyed by id only. SQLite drops a constraint by copying."""
    row = conn.execute("SELECT sql FROM sqlite_master WHERE type='table' AND name='messages'").fetchone()
    if row is None or "UNIQUE (src, nonce)" not in row[0]:
        return
    cols = ",".join(r[1] for r in conn.execute("PRAGMA table_info(messages)"))
    create = SCHEMA[SCHEMA.index("CREATE TABLE IF NOT EXISTS messages") : SCHEMA.index(");") + 2]
    conn.executescript(
        f"BEGIN; ALTER TABLE messages RENAME TO messages_old; {create} "
        f"INSERT INTO messages({cols}) SELECT {cols} FROM messages_old; DROP TABLE messages_old; COMMIT;"
    )
    conn.executescript(SCHEMA)  # the indexes went with the old table


def migrate(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA)
    have = {r[1] for r in conn.execute("PRAGMA table_info(messages)")}
    for column, ddl in ADDED_COLUMNS:
        if column not in have:
            conn.execute(f"ALTER TABLE messages ADD COLUMN {column} {ddl}")
    _drop_nonce_uniqueness(conn)
    if "store" not in {r[1] for r in conn.execute("PRAGMA table_info(feed_cursors)")}:
        conn.execute("ALTER TABLE feed_cursors ADD COLUMN store TEXT NOT NULL DEFAULT ''")
