"""Sends from one account in parallel all land."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from orchestrator import client, nonces


def parallel_sends(net, account: int, n: int) -> list[client.SentMessage]:
    def one(_: int) -> client.SentMessage:
        return client.send_message(net.manifest, "rollup-b", "rollup-a", b"", account=account)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))  # re-raises the first failure ("nonce too low", ...)


def test_parallel_sends_from_one_account_all_land(net):
    sent = parallel_sends(net, account=7, n=16)
    assert len({s.id for s in sent}) == 16
    assert list((net.manifest.run_dir / "locks").glob("*.lock"))  # one per (chain, account)
    net.wait_delivered(sent, timeout=60)


def test_a_sender_outside_the_lock_costs_a_retry_not_the_message(net, monkeypatch):
    """Senders that do not take the lock (the API, a script's web3) are covered by retrying."""

    @contextlib.contextmanager
    def no_lock(*args: object) -> Iterator[None]:
        yield

    monkeypatch.setattr(nonces, "account_lock", no_lock)
    sent = parallel_sends(net, account=8, n=8)
    assert len({s.id for s in sent}) == 8
