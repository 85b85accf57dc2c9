"""Optimistic delivery: a fresh batch goes out without simulating the batch transaction first.

When every recipient of a batch passed its own simulation (run in parallel with the quorum and
the proof), simulating the whole transaction again only costs time: one more sequential
`eth_simulateV1` on every delivery (proved -> submitted: 4.4 ms median with it, 0.6 ms without,
in the latency bench on a loaded machine, 2026-11-25). Such a batch is sent at once with a gas
limit from the model below, which must never be short: a short limit reverts the whole
transaction (`InsufficientGas`), and the messages then go through the full simulation and
bisection (a retried batch always does).

The model, per transaction:

    intrinsic (calldata, EIP-2028) + BATCH_BASE + PER_SIGNATURE x signatures
      + PER_PROOF_BYTE x account-proof bytes + the last frame's 63/64 reserve
      + per message: PER_MESSAGE + PER_PROOF_BYTE x storage-proof bytes
                     + its payload's copies in the gateway's two frames + recipient_reserve(m)

at least the EIP-7623 calldata floor, at most the block gas limit (`sizing.fit_block` cuts the
batch until it fits). `recipient_reserve` is the recipient's simulated `gasUsed` x 5/4 (refunds),
at least its sender's request, grossed up for 63/64; that simulated figure includes the 21k base and the
calldata of a whole transaction, which the gateway's call does not pay: at least 21k of
headroom per message on top of the constants.

Calibration (real receipts, anvil, default hardfork, 2026-11-25): the gateway's own execution
(gasUsed - intrinsic calldata gas - each recipient's simulated execution) over batches of 1, 10
and 20 messages, 2 and 3 signatures, shallow and deep source tries (storage proofs 586-1341
bytes), fits 87.4k + 9.0k x signatures + 8.4k x messages + 6.5 gas x proof bytes (within 2%
but for the first delivery of a route: 149k for one message, its ledger and root slots fresh).
Payloads of 1 KiB-250 KiB are bound by the calldata floor (gasUsed = floor). All 28 batches
of that set (both signature counts, plus 1-250 KiB payloads, three 1.5M-gas recipients, a 2M gas
request) went out this way and succeeded; limit / gasUsed: one message 1.46-1.74x, 10 and 20
messages 1.7-1.9x, payloads 1.7-2.0x, three 1.5M recipients 1.31x, the 2M request 1.40x
(its 63/64 margins: needed, not slack). Without the refund allowance (x 5/4) the heavy
recipients still succeeded at 1.06x. The simulated path set 1.15-2.2x on the same batches.
"""

from __future__ import annotations

from services.relayer.model import Batch, QueuedMessage
from services.relayer.simulation import CALL_STIPEND, recipient_gas
from services.relayer.sizing import CalldataGas

BATCH_BASE = 150_000  # fitted 87.4k; the first delivery of a route measured 149k with one message
PER_SIGNATURE = 15_000  # fitted 9.0k; 3 signatures instead of 2 measured +10.4k
PER_MESSAGE = 15_000  # fitted 8.4k beyond the recipient's own simulated gas
PER_PROOF_BYTE = 10  # fitted 6.5 (RLP walk and keccak of each trie node)
PER_PAYLOAD_WORD = 12  # keccak of the payload (6/word) and its copies (3/word each)
CALL_MARGIN = 5_000  # the gateway's CALL_MARGIN: kept above a requested gas limit
FRAME_WORDS = 12  # the Message struct and call head around a payload, in 32-byte words
REFUND_QUOTIENT = 5  # EIP-3529: a transaction's refund is at most gasUsed / 5


def eligible(batch: Batch, rejected: dict[str, str]) -> bool:
    """A fresh batch whose recipients all passed simulation: nothing of it ever failed or was
    sent (a retry, e.g. after an optimistic transaction reverted, is simulated in full)."""
    return not rejected and not batch.retried and not any(m.quarantined for m in batch.messages)


def _memory(words: int) -> int:
    return 3 * words + words * words // 512


def payload_gas(payload: bytes) -> int:
    """The gateway's work on one payload: hashed once, ABI-encoded into memory in its outer frame
    (the call to executeDelivery) and in the delivery frame (the call to the recipient)."""
    words = (len(payload) + 31) // 32 + FRAME_WORDS
    return 2 * _memory(words) + PER_PAYLOAD_WORD * words


def recipient_reserve(m: QueuedMessage, simulated: int) -> int:
    """Gas for the recipient's call: its simulated gasUsed is net of refunds (EIP-3529: at most a
    fifth of the gas used), so it may have needed up to 5/4 of it while running."""
    return recipient_gas(m, simulated * REFUND_QUOTIENT // (REFUND_QUOTIENT - 1))


def message_gas(m: QueuedMessage, recipient: int, storage_proof: list[bytes]) -> int:
    """What one message adds to the transaction; `recipient` is its recipient_reserve."""
    return PER_MESSAGE + PER_PROOF_BYTE * sum(map(len, storage_proof)) + payload_gas(m.payload) + recipient


def batch_gas(data: bytes, signatures: int, account_proof: list[bytes], recipients: list[int]) -> int:
    """The transaction's gas apart from its messages: intrinsic calldata gas, the attestation, the
    account proof, and the 1/64 the outer frame keeps back when it calls the hungriest recipient
    (the inner frame's share and the gateway's margin are in recipient_gas and CALL_MARGIN)."""
    reserve = int(max(recipients, default=0) * (CALL_STIPEND - 1)) + 2 * CALL_MARGIN
    return (
        CalldataGas.of(data).standard
        + BATCH_BASE
        + PER_SIGNATURE * signatures
        + PER_PROOF_BYTE * sum(map(len, account_proof))
        + reserve
    )
