"""The relayer's one retry policy: how long a stage waits before trying a message again.

Exponential from `base`, capped at `cap`; `after(attempts)` is the wait once a message has
been tried `attempts` times. Each kind of failure has its own named policy below, so the
numbers live in one place and every stage asks here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    base: float
    cap: float
    max_exponent: int = 6

    def after(self, attempts: int) -> float:
        """Seconds to wait after the `attempts`-th failed try (0 = the first try failed)."""
        return min(self.cap, self.base * 2 ** min(max(attempts, 0), self.max_exponent))


# No quorum yet (guardians catching up, one down): ask again soon, never more than 2 s apart.
NO_QUORUM = Backoff(base=0.25, cap=2.0, max_exponent=4)
# The recipient reverted, or the whole delivery transaction did: up to 10 s between tries.
DELIVERY_FAILED = Backoff(base=0.5, cap=10.0)
# Anything unexpected in a batch (RPC error, proof mismatch): a flat second.
BATCH_ERROR = Backoff(base=1.0, cap=1.0, max_exponent=0)
# A log scan that failed: RPC errors are transient (reconnects), others less so.
SCAN_RPC_ERROR = Backoff(base=0.2, cap=0.2, max_exponent=0)
SCAN_ERROR = Backoff(base=0.5, cap=0.5, max_exponent=0)


@dataclass(frozen=True)
class RetryCap:
    """When a message's own failures end in the final `failed` state (devnet.toml [relayer]).

    Only failures the message causes count (its recipient reverts, its delivery would revert);
    waiting for guardians or an RPC error never makes a message fail for good.
    """

    max_attempts: int = 8
    max_age: float = 600.0  # seconds since the first failure; 0 = no limit

    def exhausted(self, failures: int, first_failed_at: float | None, now: float) -> bool:
        """`failures` counts the failure being recorded now."""
        if failures >= self.max_attempts:
            return True
        return self.max_age > 0 and first_failed_at is not None and now - first_failed_at >= self.max_age
