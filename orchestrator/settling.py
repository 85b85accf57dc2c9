"""How long a wait for a message to settle (delivered, or finally failed) must be allowed to run.

A message whose recipient always reverts is finally `failed` after `relayer.max_attempts`
failed deliveries, the relayer waiting its DELIVERY_FAILED backoff between them
(services/relayer/backoff.py), or at the first failure `relayer.max_age` seconds after the
first one, whichever comes first. A wait shorter than that can only ever report "still
retrying": with the defaults (8 attempts: 0.5+1+2+4+8+10+10 = 35.5 s of backoff) the old
fixed 30 s never saw `failed`. So `devnet send --wait`, `wait_settled` and the fixture's
`wait_delivered` wait, by default, the devnet's own worst case plus a margin.

    settle_timeout(manifest)     # seconds (65.5 for the default devnet)
"""

from __future__ import annotations

from services.common.manifest import Manifest
from services.relayer.backoff import DELIVERY_FAILED

# One delivery from scratch (attestation, proof, the transaction) on a loaded machine: the old
# fixed default, kept as the margin on top of the retries.
MARGIN = 30.0


def retry_seconds(max_attempts: int, max_age: float) -> float:
    """The relayer's backoff between a message's first failed delivery and its last one."""
    total = sum(DELIVERY_FAILED.after(i) for i in range(max(max_attempts - 1, 0)))
    if max_age > 0:  # the failure after max_age is final: at most one more backoff later
        total = min(total, max_age + DELIVERY_FAILED.cap)
    return total


def settle_timeout(manifest: Manifest) -> float:
    """Long enough for a message to be delivered or finally failed under the devnet's retry policy."""
    settings = manifest.relayer
    block = max((c.block_time or 0.0 for c in manifest.chains), default=0.0)
    per_attempt = 2 * block  # each try waits for a block on the source (its root) and the destination
    return retry_seconds(settings.max_attempts, settings.max_age) + settings.max_attempts * per_attempt + MARGIN
