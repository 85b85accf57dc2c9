"""Interval root posting: fresh roots reach the other chains, and the relayer never feeds on its own blocks."""

from __future__ import annotations

import time


def heads(net) -> dict[str, int]:
    return {name: w3.eth.block_number for name, w3 in net.w3.items()}


def test_roots_are_posted_then_the_network_goes_quiet(root_posting_net):
    net = root_posting_net
    a = net.manifest.chain("rollup-a").chain_id
    # user activity on rollup-a: a plain transfer
    tx = net.w3["rollup-a"].eth.send_transaction({"from": net.account(1), "to": net.account(2), "value": 1})
    block = net.w3["rollup-a"].eth.wait_for_transaction_receipt(tx).blockNumber
    for other in ("hub", "rollup-b"):
        reg = net.contract(other, "StateRootRegistry")
        net.wait_for(
            f"a root of rollup-a >= {block} on {other}",
            lambda reg=reg: reg.functions.latestRoot(a).call()[0] >= block,
            timeout=15,
        )
    # no self-feeding: once the posts settle, no chain makes blocks any more
    deadline = time.monotonic() + 20
    before = heads(net)
    while True:
        time.sleep(1.5)
        now = heads(net)
        if now == before:
            break
        assert time.monotonic() < deadline, f"chains keep making blocks with no user activity: {before} -> {now}"
        before = now
