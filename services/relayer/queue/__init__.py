"""The relayer's durable queue (SQLite, WAL): messages, attempts, per-chain cursors, evidence.

Crash safety (kill -9 at any moment):
- a block's messages and the chain cursor move forward in one transaction, so a
  restart re-reads exactly the blocks whose messages are not stored;
- a batch is marked `submitted` with its transaction hash *before* the
  transaction is broadcast; on restart, `submitted` rows are resolved from that
  transaction's receipt or the gateway's on-chain `isDelivered` before anything
  is sent again (and the gateway itself rejects replays).

Message states (schema.STATUSES): pending -> submitted -> delivered; a failure of the
message's own (its recipient reverts, its delivery would revert) makes it `retrying`
(with the decoded reason) until the retry cap, then `failed` for good; `requeue` starts
it over. Every attempt has a row in `attempts` with its own timings, gas and outcome.

All SQL of the relayer lives in this package; the API and the CLI read through
`QueueReader` (read-only).
"""

from services.relayer.queue.reader import QueueReader
from services.relayer.queue.schema import OUTCOMES, STATUSES
from services.relayer.queue.store import Queue

__all__ = ["OUTCOMES", "STATUSES", "Queue", "QueueReader"]
