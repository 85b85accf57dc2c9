"""Whole state dumps: a dump holding a block's effects without the block is never kept.

anvil reads a dump's blocks and its accounts apart, so a block mined in between tears it
(orchestrator/chains/dumps.py). CI saw a message delivered on a restarted chain with no
MessageDelivered event: its delivery's state came back, its block did not.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest

from orchestrator.chains import dumps
from orchestrator.chains.anvil import start_chains
from orchestrator.chains.rpc import RpcClient, rpc

SENDER = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"  # anvil's first dev account


@pytest.fixture
def url(tmp_path, ports_config) -> Iterator[str]:
    hub = ports_config.chains[0]
    with start_chains((hub,), tmp_path / "logs"):
        yield hub.rpc_url


def transfer(url: str) -> None:
    """A transfer, mined (anvil answers eth_sendTransaction before the block is stored)."""
    tx = rpc(url, "eth_sendTransaction", [{"from": SENDER, "to": SENDER, "value": "0x1"}])
    while rpc(url, "eth_getTransactionReceipt", [tx]) is None:
        time.sleep(0.001)


def torn(url: str, dump: dumps.Dump) -> bool:
    with RpcClient(url) as node:
        return dumps.torn(node, dump)


def nonce_in(dump: dumps.Dump) -> int:
    return int(json.loads(dump.state)["accounts"][SENDER]["nonce"])


def with_accounts_of(dump: dumps.Dump, later: dumps.Dump) -> dumps.Dump:
    """`dump`'s blocks with `later`'s accounts: what anvil returns when a block lands mid-dump."""
    state = json.loads(dump.state)
    state["accounts"] = json.loads(later.state)["accounts"]
    return dumps.Dump(json.dumps(state, separators=(",", ":")).encode(), dump.block)  # as anvil writes it


def test_a_dump_with_a_later_blocks_effects_is_torn_and_an_older_whole_one_is_not(url):
    transfer(url)
    first = dumps.take(url)
    assert first is not None and first.block == 1 and nonce_in(first) == 1
    transfer(url)  # block 2, after the dump: the dump stays whole
    assert not torn(url, first)
    second = dumps.take(url)
    assert second is not None and second.block == 2
    assert torn(url, with_accounts_of(first, second))  # block 2's nonce without block 2
    assert dumps.sender_nonces(second.state) == {SENDER: 2}


def test_every_dump_kept_under_steady_traffic_matches_its_blocks(url):
    stop = threading.Event()

    def traffic() -> None:
        while not stop.is_set():
            transfer(url)

    sender = threading.Thread(target=traffic)
    sender.start()
    try:
        kept = [d for d in (dumps.take(url) for _ in range(120)) if d is not None]
    finally:
        stop.set()
        sender.join(10)
    assert len(kept) > 20  # dropping is the exception
    # one transfer per block from one sender: a whole dump's nonce is its block number
    assert [nonce_in(d) for d in kept] == [d.block for d in kept]
