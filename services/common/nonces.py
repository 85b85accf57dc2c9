"""Sending from a devnet account without losing a race for its nonce to another sender.

    tx_hash = broadcast(call, lock_dir(manifest), chain_id, address, sign)          # sign(nonce) -> (raw, hash)
    tx_hash = await broadcast_async(acall, lock_dir(manifest), chain_id, address, sign)   # the API

Every sender of the devnet's own tooling (the API's sends, intents and governance routes, the
proven reads' attestation submitter, `devnet send`, the CLI's roles and gov commands, the pytest
handle) reads the account's `pending` nonce and broadcasts under ONE OS lock per
(state directory, chain, account): `<run>/locks/<chain id>-<address>.lock` (fcntl.flock, released
by the kernel if the sender dies). They run in different processes (the API, a CLI, a test), so
an in-process lock of each (as there once were three) let two of them pick one nonce: one was
answered "nonce too low". Only the nonce read and the broadcast are under the lock: once the node
holds the transaction in its pending pool the next sender's `pending` nonce is past it.

Senders that do not take the lock (a script's web3, anvil-assigned nonces) can still take a nonce
first: a refusal of that kind is retried with a fresh nonce, a few times.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import IO, Any

from services.common.manifest import Manifest

TRIES = 6
# "already imported"/"already known": another sender signed the very same transaction (same
# account, nonce and calldata), so ours is not a transaction of its own: it needs the next nonce.
NONCE_TAKEN = ("nonce too low", "replacement transaction underpriced", "already imported", "already known")
POLL = 0.002  # the async wait for the file lock: it is held for a nonce read and one broadcast

Sign = Callable[[int], tuple[bytes, str]]


def lock_dir(manifest: Manifest) -> Path:
    """Where the devnet's account locks live (every process reading this manifest finds the same)."""
    return manifest.run_dir / "locks"


def nonce_taken(exc: BaseException) -> bool:
    """The node refused the transaction because another one from the account has its nonce."""
    return any(text in str(exc).lower() for text in NONCE_TAKEN)


def _open(directory: Path, chain_id: int, address: str) -> IO[str] | None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        return open(directory / f"{chain_id}-{address.lower()}.lock", "a")
    except OSError:  # no writable state directory (a copied manifest, Docker): the retries remain
        return None


@contextlib.contextmanager
def account_lock(directory: Path, chain_id: int, address: str) -> Iterator[None]:
    """Held by one sender from `address` on `chain_id` at a time (across processes and threads:
    flock locks belong to an open file, and each holder opens its own)."""
    handle = _open(directory, chain_id, address)
    if handle is None:
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield  # closing the file releases the lock


@contextlib.asynccontextmanager
async def account_lock_async(directory: Path, chain_id: int, address: str) -> Any:
    """`account_lock` for an event loop: polled, so a cancelled request never leaves it held."""
    handle = _open(directory, chain_id, address)
    if handle is None:
        yield
        return
    with handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                await asyncio.sleep(POLL)
        yield


def broadcast(call: Callable[[str, list[Any]], Any], directory: Path, chain_id: int, address: str, sign: Sign) -> str:
    """Sign with the account's `pending` nonce and send; the transaction's hash once the node took it."""
    for attempt in range(TRIES):
        with account_lock(directory, chain_id, address):
            nonce = int(str(call("eth_getTransactionCount", [address, "pending"])), 16)
            raw, tx_hash = sign(nonce)
            try:
                call("eth_sendRawTransaction", ["0x" + raw.hex()])
                return tx_hash
            except Exception as exc:
                if not nonce_taken(exc) or attempt == TRIES - 1:
                    raise
        time.sleep(0.05 * (attempt + 1))  # the other sender's transaction reaches the pending pool
    raise AssertionError("unreachable")


async def broadcast_async(
    call: Callable[[str, list[Any]], Awaitable[Any]], directory: Path, chain_id: int, address: str, sign: Sign
) -> str:
    """`broadcast` with an async JSON-RPC call (the API)."""
    for attempt in range(TRIES):
        async with account_lock_async(directory, chain_id, address):
            nonce = int(str(await call("eth_getTransactionCount", [address, "pending"])), 16)
            raw, tx_hash = sign(nonce)
            try:
                await call("eth_sendRawTransaction", ["0x" + raw.hex()])
                return tx_hash
            except Exception as exc:
                if not nonce_taken(exc) or attempt == TRIES - 1:
                    raise
        await asyncio.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")
