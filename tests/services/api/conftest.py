"""API test fixtures: one real devnet for the package, TestClients on it, a queue file made by Queue.

`api_net` runs everything (chains, guardians, relayer, the API process); `client` drives an
in-process app on the same manifest and the relayer's real queue; `queue_client` the same app on
a queue file this fixture writes with `services.relayer.queue.Queue` (known rows, known states).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_utils import keccak
from fastapi.testclient import TestClient

from orchestrator.testing import DevnetHandle
from services.api.app import create_app
from services.protocol import load_artifact
from services.relayer.queue import Queue
from tests.conftest import free_config


@pytest.fixture(scope="package")
def api_net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevnetHandle]:
    config = free_config(4200, state_dir=tmp_path_factory.mktemp("api") / "state")
    with DevnetHandle.start(config) as net:
        yield net


@pytest.fixture(scope="package")
def client(api_net: DevnetHandle) -> Iterator[TestClient]:
    app = create_app(api_net.manifest, api_net.manifest.run_dir / "relayer.sqlite")
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def mid(n: int) -> str:
    return "0x" + f"{n:064x}"


def row(n: int, src: int, dst: int, nonce: int, seen_at: float) -> dict[str, Any]:
    return {
        "id": mid(n),
        "src": src,
        "dst": dst,
        "nonce": nonce,
        "sender": "0x" + "11" * 20,
        "recipient": "0x" + "22" * 20,
        "payload": b"\x01\x02",
        "sent_block": 10 + nonce,
        "sent_block_hash": "0x" + "33" * 32,
        "sent_tx": "0x" + "44" * 32,
        "sent_time": seen_at,
        "seen_at": seen_at,
        "mined_at": seen_at - 0.01,
    }


@pytest.fixture
def queue(tmp_path: Path, api_net: DevnetHandle) -> Iterator[Queue]:
    """Six messages: hub->a pending, hub->b delivered, a->b failed, a->hub retrying, b->hub submitted, b->a pending."""
    hub, a, b = (api_net.chain(n).chain_id for n in ("hub", "rollup-a", "rollup-b"))
    q = Queue(tmp_path / "relayer.sqlite")
    now = time.time()
    q.ingest(hub, 50, [row(1, hub, a, 0, now), row(2, hub, b, 1, now + 1)])
    q.ingest(a, 50, [row(3, a, b, 0, now + 2), row(4, a, hub, 1, now + 3)])
    q.ingest(b, 50, [row(5, b, hub, 0, now + 4), row(6, b, a, 1, now + 5)])
    q.mark_submitted([mid(2)], "0x" + "55" * 32, 12, now + 1.1, now + 1.2, now + 1.3)
    q.mark_delivered([mid(2)], "0x" + "55" * 32, 13, now + 1.4, gas_used=90_000)
    q.mark_failed({mid(3): "Refused(42)"}, {mid(3): now + 60}, "0x" + "66" * 32, 14, final={mid(3)})
    # raw revert data of a custom error only a compiled artifact knows: the API decodes it
    refused = "0x" + keccak(text="Refused(uint256)")[:4].hex() + f"{7:064x}"
    q.mark_failed({mid(4): refused}, {mid(4): now + 60}, "0x" + "99" * 32, 14)
    q.mark_submitted([mid(5)], "0x" + "77" * 32, 15, now + 4.1, now + 4.2, now + 4.3)
    yield q
    q.close()


@pytest.fixture
def queue_client(api_net: DevnetHandle, queue: Queue) -> Iterator[TestClient]:
    with TestClient(create_app(api_net.manifest, queue.path), raise_server_exceptions=False) as c:
        yield c


def wait_for(what: str, pred: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := pred()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.1)
    return value


def deploy(net: DevnetHandle, chain: str, name: str, *args: Any) -> Any:
    art = load_artifact(name)
    w3 = net.w3[chain]
    tx = (
        w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
        .constructor(*args)
        .transact({"from": net.accounts[9].address})
    )
    receipt = w3.eth.wait_for_transaction_receipt(tx, timeout=30)
    assert receipt.status == 1
    return w3.eth.contract(address=receipt.contractAddress, abi=art["abi"])
