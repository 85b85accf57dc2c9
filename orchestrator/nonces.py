"""Sending from a dev account without losing a race for its nonce to another sender.

    tx_hash = broadcast(call, lock_dir, chain_id, address, sign)   # sign(nonce) -> (raw, tx_hash)

Two `devnet send` processes (or a test's threads) from one account used to read the same
`pending` nonce, and the node refused the second broadcast ("nonce too low" once the first
was mined, "replacement transaction underpriced" while it was pending). So the nonce read
and the broadcast run under an OS lock per (state directory, chain, account):
`<run>/locks/<chain id>-<address>.lock` (fcntl.flock, released by the kernel if the sender
dies). Senders that do not take the lock (the API, which serialises its own sends; a
script's web3) can still take a nonce first: a refusal of that kind is retried with a fresh
nonce, a few times.
"""

from __future__ import annotations

import contextlib
import fcntl
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from orchestrator.chains.rpc import RpcError

TRIES = 6
# "already imported"/"already known": another sender signed the very same transaction (same
# account, nonce and message), so ours is not a message of its own: it needs the next nonce.
NONCE_TAKEN = ("nonce too low", "replacement transaction underpriced", "already imported", "already known")


def nonce_taken(exc: RpcError) -> bool:
    """The node refused the transaction because another one from the account has its nonce."""
    return any(text in str(exc).lower() for text in NONCE_TAKEN)


@contextlib.contextmanager
def account_lock(lock_dir: Path, chain_id: int, address: str) -> Iterator[None]:
    """Held by one sender from `address` on `chain_id` at a time (across processes)."""
    try:
        lock_dir.mkdir(parents=True, exist_ok=True)
        handle = open(lock_dir / f"{chain_id}-{address.lower()}.lock", "a")  # noqa: SIM115
    except OSError:  # no writable state directory (a copied manifest): the retries remain
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield  # closing the file releases the lock


def broadcast(
    call: Callable[[str, list[Any]], Any],
    lock_dir: Path,
    chain_id: int,
    address: str,
    sign: Callable[[int], tuple[bytes, str]],
) -> str:
    """Sign with the account's `pending` nonce and send; the transaction's hash once the node took it."""
    for attempt in range(TRIES):
        with account_lock(lock_dir, chain_id, address):
            nonce = int(str(call("eth_getTransactionCount", [address, "pending"])), 16)
            raw, tx_hash = sign(nonce)
            try:
                call("eth_sendRawTransaction", ["0x" + raw.hex()])
                return tx_hash
            except RpcError as exc:
                if not nonce_taken(exc) or attempt == TRIES - 1:
                    raise
        time.sleep(0.05 * (attempt + 1))  # the other sender's transaction reaches the pending pool
    raise AssertionError("unreachable")
