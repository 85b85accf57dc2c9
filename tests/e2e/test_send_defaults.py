"""Sends from one account in parallel all land, and the default waits reach a final `failed`."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from orchestrator import client
from orchestrator.cli import messages as messaging
from orchestrator.cli.main import build_parser
from orchestrator.settling import MARGIN, retry_seconds, settle_timeout
from orchestrator.testing import DeliveryFailed
from services.common import nonces


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


def test_default_waits_cover_the_relayer_retry_policy(net):
    assert retry_seconds(8, 600.0) == 0.5 + 1 + 2 + 4 + 8 + 10 + 10
    assert retry_seconds(8, 5.0) == 5.0 + 10  # max_age ends it first: one more backoff at most
    assert retry_seconds(1, 600.0) == 0
    m = net.manifest
    assert settle_timeout(m) >= retry_seconds(m.relayer.max_attempts, m.relayer.max_age) + MARGIN


def test_send_wait_with_default_timeout_reports_failed(net, capsys):
    """A recipient that always reverts: `devnet send --wait` (no --timeout) ends with `message
    failed`, not "not delivered after 30s (status retrying)"; so does the fixture's default wait."""
    toggle = net.deploy("rollup-b", "ToggleRecipient", net.manifest.address("MetalayerGateway"))
    net.transact("rollup-b", toggle.functions.setFailing(True))
    earlier = net.send("rollup-a", "rollup-b", b"fixture", recipient=toggle.address)
    args = build_parser().parse_args(
        ["send", "--from", "rollup-a", "--to", "rollup-b", "--recipient", toggle.address, "--wait"]
    )
    args.manifest = net.manifest.path
    assert messaging.send(args) == 1
    err = capsys.readouterr().err
    assert "message failed" in err and "Refused(42)" in err, err
    with pytest.raises(DeliveryFailed, match="Refused"):
        net.wait_delivered(earlier)
