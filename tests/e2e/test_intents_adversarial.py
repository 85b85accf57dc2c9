"""Intents under attack and under odd solver settings: the planner quotes what the running solvers
really take, and replays, late or unknown fills and crashes never pay twice or lose an escrow.

Same devnet shape as test_intents.py (its fixtures: a module devnet, solver processes by PID).
"""

from __future__ import annotations

import math
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from eth_account import Account

from services.solver.orders import OrderData, onchain_order
from services.solver.planner import IntentError
from services.solver.terms import SOLVER_DEADLINE_SLACK, terms_file
from services.solver.validation import SOLVER_MIN_MARGIN
from tests.e2e import test_intents as base
from tests.e2e.test_intents import USDC, A, B, _bal, _opened, _plan, _send_plan, _wait

inet, solvers = base.inet, base.solvers  # its module devnet (one of our own) and solver processes


def _now(net: Any, chain: str = A) -> int:
    return int(net.w3[chain].eth.get_block("latest").timestamp)


def _lead(net: Any, margin: int) -> int:
    """What the planner asks beyond the clock for a solver with `margin`: slack and both block times."""
    chains = {c.name: c for c in net.manifest.chains}
    return margin + SOLVER_DEADLINE_SLACK + math.ceil((chains[A].block_time or 0) + (chains[B].block_time or 0))


def test_planner_refuses_a_deadline_the_running_solver_would_skip(inet, solvers):
    """A solver started with --min-margin 60 skips an order with 40 s left: the planner (library and
    POST /v1/intents) refuses that deadline with 422 naming the minimum, and quotes its own fee."""
    solvers.start(0, "--min-margin", "60", "--fee-bps", "20")
    user, recipient = inet.account(1), Account.create().address
    lead = _lead(inet, 60)
    now = _now(inet)
    with pytest.raises(IntentError) as info:
        _plan(inet, "10", recipient, user, deadline=now + 40)
    assert info.value.field == "deadline" and "60 s left" in str(info.value), str(info.value)
    body = {"from_chain": A, "to_chain": B, "amount": "10", "recipient": recipient, "deadline": now + 40}
    r = httpx.post(f"{inet.api}/v1/intents", json=body, timeout=30)
    assert r.status_code == 422, r.text
    minimum = int(r.json()["error"]["message"].split("at least ")[1].split()[0])
    assert now + lead <= minimum <= _now(inet) + lead

    plan = _plan(inet, "10", recipient, user, deadline=_now(inet) + lead + 5)  # enough: the solver fills it
    assert plan.route == "solver" and plan.quote["solver"] == {
        "index": 0,
        "address": plan.quote["solver"]["address"],
        "fee_bps": 20,
    }
    assert int(plan.quote["solver_fee"]) == 10 * USDC * 20 // 10_000
    _opened(inet, _send_plan(inet, plan))
    _wait("recipient credited on rollup-b", lambda: _bal(inet, B, recipient) == 10 * USDC)

    solvers.stop(0)  # its terms stay on file but count no more: the planner falls back to the manifest's
    assert terms_file(inet.manifest.run_dir, 0).exists()
    assert _plan(inet, "10", recipient, user, deadline=_now(inet) + 40).route == "solver"


def _settler_logs(net: Any, chain: str, contract: str, event: str, oid: bytes) -> int:
    logs = getattr(net.contract(chain, contract).events, event)().get_logs(from_block=0)
    return sum(1 for lg in logs if bytes(lg.args.orderId) == bytes(oid))


def test_solver_killed_between_fill_and_settlement_is_repaid_once(inet, solvers):
    """kill -9 of the solver after its fill, while the settlement message waits (relayer stopped):
    the repayment needs nothing from the solver, arrives once, and the restarted solver records it."""
    solver = base.solver_key(0).address
    solvers.start(0)
    recipient = Account.create().address
    before = _bal(inet, A, solver)
    inet.pause_relayer()
    try:
        plan = _plan(inet, "7", recipient, inet.account(2))
        oid = _opened(inet, _send_plan(inet, plan))["orderId"]
        _wait("the fill pays the recipient", lambda: _bal(inet, B, recipient) == 7 * USDC)
        solvers.kill(0)
    finally:
        inet.resume_relayer()
    _wait("escrow settled on rollup-a", lambda: base._escrow_status(inet, oid) == base.SETTLED)
    solvers.start(0)
    _wait(
        "the restarted solver records the settlement",
        lambda: solvers.health(0).get("orders", {}).get("settled", 0) >= 1,
    )
    assert _bal(inet, A, solver) == before + int(plan.quote["input_amount"])
    assert _settler_logs(inet, B, "DestinationSettler", "Filled", oid) == 1
    assert _settler_logs(inet, A, "OriginSettler", "Settled", oid) == 1


def test_order_to_an_unconfigured_chain_is_never_filled_and_refunded(inet, solvers):
    """OriginSettler accepts any destination but its own chain (it cannot know the devnet's chains);
    the solver never fills it, the planner and the API refuse it, the user gets the escrow back."""
    solvers.start(0)
    user = inet.account(3)
    with pytest.raises(IntentError, match="unknown chain"):
        base.plan_intent(inet.manifest, base.IntentRequest(A, 424242, "USDC", "1", user, sender=user))
    body = {"from_chain": A, "to_chain": "424242", "amount": "1", "recipient": user, "account": 3}
    assert httpx.post(f"{inet.api}/v1/intents", json=body, timeout=30).status_code == 422
    usdc, settler = inet.contract(A, "USDC"), inet.contract(A, "OriginSettler")
    data = OrderData(usdc.address, 2 * USDC, usdc.address, USDC, user, 424242)
    inet.transact(A, usdc.functions.approve(settler.address, 2 * USDC), account=3)
    before = _bal(inet, A, user)
    receipt = inet.transact(A, settler.functions.open(onchain_order(_now(inet) + 30, data)), account=3)
    oid = _opened(inet, receipt)["orderId"]
    inet.w3[A].provider.make_request("evm_increaseTime", [30 + settler.functions.settlementGrace().call() + 1])
    inet.w3[A].provider.make_request("evm_mine", [])
    _wait(
        "the solver scanned it",
        lambda: solvers.health(0).get("chains", {}).get(A, {}).get("head", -1) >= inet.w3[A].eth.block_number,
    )
    inet.transact(A, settler.functions.refund(oid), account=9)
    assert _bal(inet, A, user) == before  # the escrow came back
    assert base._escrow_status(inet, oid) == base.REFUNDED
    assert solvers.health(0)["counters"]["fills"] == 0


def test_planner_measures_the_deadline_on_the_later_clock(inet, solvers):
    """The chains' clocks drift apart under time travel (evm_increaseTime on one chain). The solver
    measures the margin against the later of both clocks; the planner used the origin's only, so
    it accepted a deadline the solver then skipped when the destination's clock ran ahead."""
    solvers.start(0)
    user, recipient = inet.account(1), Account.create().address
    ahead = max(0, _now(inet, A) - _now(inet, B)) + 120
    inet.w3[B].provider.make_request("evm_increaseTime", [ahead])
    inet.w3[B].provider.make_request("evm_mine", [])
    chains = {c.name: c for c in inet.manifest.chains}
    lead = (
        SOLVER_MIN_MARGIN + SOLVER_DEADLINE_SLACK + math.ceil((chains[A].block_time or 0) + (chains[B].block_time or 0))
    )
    with pytest.raises(IntentError, match="too close for the solver route"):
        _plan(inet, "2", recipient, user, deadline=_now(inet, A) + lead + 10)  # 100 s short on rollup-b
    plan = _plan(inet, "2", recipient, user, deadline=_now(inet, B) + lead + 5)
    _opened(inet, _send_plan(inet, plan))
    _wait("recipient credited on rollup-b", lambda: _bal(inet, B, recipient) == 2 * USDC)


def test_concurrent_api_intents_from_one_account_all_open(inet, solvers):
    """POST /v1/intents with `account` sends approve then open (or signs a permit with the token's
    current permit nonce for a gasless openFor): two intents of one account at once overwrote each
    other's allowance or signed one permit nonce twice, and one open reverted (502)."""
    solvers.start(0)
    recipients = [Account.create().address for _ in range(6)]

    def post(n: int) -> Any:
        body = {"from_chain": A, "to_chain": B, "amount": str(1 + n), "recipient": recipients[n], "account": 4}
        return httpx.post(f"{inet.api}/v1/intents", json={**body, "gasless": n % 2 == 1}, timeout=60)

    with ThreadPoolExecutor(len(recipients)) as pool:
        answers = list(pool.map(post, range(len(recipients))))
    assert [r.status_code for r in answers] == [200] * len(recipients), [r.text for r in answers]
    for n, rcpt in enumerate(recipients):
        _wait(f"recipient {n} credited", lambda rcpt=rcpt, n=n: _bal(inet, B, rcpt) == (1 + n) * USDC)


def _scan_cursor(solvers: Any, chain_id: int) -> int:
    db = sqlite3.connect(f"file:{solvers.run_dir / 'solver-0.sqlite'}?mode=ro", uri=True)
    try:
        row = db.execute("SELECT block FROM cursors WHERE chain_id=?", (chain_id,)).fetchone()
        return -1 if row is None else int(row[0])
    finally:
        db.close()


def _mine_then_rewind(net: Any, solvers: Any) -> int:
    """Mine 20 blocks on rollup-a, let solver 0 scan them, go back; returns the height it had scanned."""
    w3 = net.w3[A]
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
    w3.provider.make_request("anvil_mine", [hex(20)])
    head = w3.eth.block_number
    _wait("the solver scanned the mined blocks", lambda: _scan_cursor(solvers, net.chain(A).chain_id) >= head)
    assert w3.provider.make_request("evm_revert", [snapshot])["result"] is True
    return head


def _filled_after_open(net: Any, head: int) -> None:
    recipient = Account.create().address
    _opened(net, _send_plan(net, _plan(net, "3", recipient, net.account(5))))  # below the solver's old cursor
    assert net.w3[A].eth.block_number < head
    _wait("recipient credited on rollup-b", lambda: _bal(net, B, recipient) == 3 * USDC, timeout=20)


def test_solver_sees_orders_opened_after_the_origin_chain_rewinds(inet, solvers):
    """The origin chain goes back (evm_revert here; a chain restarted from its last dump loses its
    newest blocks the same way): the solver's scan cursor was past the new head, so the blocks mined
    again at those heights, and the orders opened in them, were never read (on a quiet chain: never
    filled, the escrow locked until its refund). Running, and restarted after the rewind. Last in
    this module: the rewind also rewrites rollup-a blocks the guardians may have signed."""
    solvers.start(0)
    _filled_after_open(inet, _mine_then_rewind(inet, solvers))
    head = _mine_then_rewind(inet, solvers)  # and stopped before a new block: only its stored cursor knows
    solvers.stop(0)
    solvers.start(0)
    _filled_after_open(inet, head)
