"""Typed values the relayer's stages pass around: a queued message, a batch, a guardian set.

The queue stores rows; the stages work on these (no `list[Any]` of sqlite rows in flight).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.common.rpc import hexbytes

# The gateway's Message struct today; a gateway whose struct has more (e.g. gasLimit) is read
# from its ABI (Context.message_fields).
MESSAGE_FIELDS = ("sourceChainId", "destinationChainId", "nonce", "sender", "recipient", "payload")


@dataclass(frozen=True)
class QueuedMessage:
    id: str  # 0x send id (lower-case hex)
    src: int
    dst: int
    nonce: int
    sender: str  # 0x 20-byte address
    recipient: str
    payload: bytes
    sent_block: int
    attempts: int = 0
    seen_at: float | None = None
    status: str = "pending"
    gas_limit: int = 0  # the sender's requested minimum for the recipient (0 = none)
    failures: int = 0
    first_failed_at: float | None = None
    quarantined: bool = False
    starved: bool = False  # its recipient used up its gas on chain (InsufficientGas): a whole block next
    finality: int = 0  # 0 soft, 1 finalized: proven only against a block `confirmations` below a root
    sent_time: float | None = None  # its source block's timestamp

    @classmethod
    def from_row(cls, row: Any) -> QueuedMessage:
        """From a queue row (sqlite3.Row or dict)."""
        keys = row.keys()
        return cls(
            id=row["id"],
            src=row["src"],
            dst=row["dst"],
            nonce=row["nonce"],
            sender=row["sender"],
            recipient=row["recipient"],
            payload=bytes(row["payload"]),
            sent_block=row["sent_block"],
            attempts=row["attempts"] or 0,
            seen_at=row["seen_at"],
            status=row["status"],
            gas_limit=(row["gas_limit"] or 0) if "gas_limit" in keys else 0,
            failures=(row["failures"] or 0) if "failures" in keys else 0,
            first_failed_at=row["first_failed_at"] if "first_failed_at" in keys else None,
            quarantined=bool(row["quarantined"]) if "quarantined" in keys else False,
            starved=bool(row["starved"]) if "starved" in keys else False,
            finality=(row["finality"] or 0) if "finality" in keys else 0,
            sent_time=row["sent_time"] if "sent_time" in keys else None,
        )

    def gateway_tuple(self, fields: tuple[str, ...] = MESSAGE_FIELDS) -> tuple[Any, ...]:
        """The gateway's Message struct, in the order of `fields` (its ABI component names);
        addresses as 20 bytes: no checksumming on the hot path."""
        values = {
            "sourceChainId": self.src,
            "destinationChainId": self.dst,
            "nonce": self.nonce,
            "sender": hexbytes(self.sender),
            "recipient": hexbytes(self.recipient),
            "payload": self.payload,
            "gasLimit": self.gas_limit,
        }
        return tuple(values[f] for f in fields)


@dataclass(frozen=True)
class Batch:
    """Messages of one source for one destination, delivered by one transaction."""

    src: int
    dst: int
    messages: tuple[QueuedMessage, ...]

    @property
    def ids(self) -> list[str]:
        return [m.id for m in self.messages]

    @property
    def attest_block(self) -> int:
        """The newest source block among the messages: a commitment never goes away, so a
        later root proves earlier messages too."""
        return max(m.sent_block for m in self.messages)

    @property
    def finalized(self) -> bool:
        """Whether a message of the batch asked for finalized delivery."""
        return any(m.finality for m in self.messages)

    @property
    def retried(self) -> bool:
        return any(m.attempts for m in self.messages)

    def seen_late(self, after: float) -> bool:
        """A message of it was seen `after` s or more past its block's time: read on a catch-up
        (the relayer was down, or its queue was lost and its sources read again from block 0),
        so it may have been delivered already."""
        return any(
            m.seen_at is not None and m.sent_time is not None and m.seen_at - m.sent_time >= after
            for m in self.messages
        )

    @property
    def max_attempts(self) -> int:
        return max(m.attempts for m in self.messages)

    @property
    def first_seen(self) -> float | None:
        seen = [m.seen_at for m in self.messages if m.seen_at is not None]
        return min(seen) if seen else None

    def without(self, ids: set[str]) -> Batch:
        return Batch(self.src, self.dst, tuple(m for m in self.messages if m.id not in ids))

    def __len__(self) -> int:
        return len(self.messages)


@dataclass
class GuardianSet:
    members: set[str]  # lower-case addresses
    threshold: int


@dataclass
class Counters:
    batches: int = 0
    delivered: int = 0
    failed_deliveries: int = 0
    reverted_txs: int = 0
    no_quorum: int = 0
    roots_posted: int = 0
    slashes: int = 0
    finally_failed: int = 0
    deferred: int = 0
    lost_txs: int = 0
    rewinds: int = 0
    flagged_roots: int = 0  # stored roots the watchtower found not to be the source's block
    optimistic_batches: int = 0  # sent without a batch simulation (services/relayer/optimistic.py)
    optimistic_reverts: int = 0  # of those, reverted on chain (their messages were then simulated)
    extra: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, int]:
        d = {k: v for k, v in self.__dict__.items() if k != "extra"}
        return {**d, **self.extra}
