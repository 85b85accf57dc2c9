"""Intents end to end: real chains, guardians, relayer and solver processes, USDC moved by ERC-7683 orders.

One devnet for the module (its own ports and state); intents contracts deployed with
orchestrator.intents_deploy; solver processes started and stopped (by PID) by each test.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from web3.logs import DISCARD

from orchestrator.config import SolverConfig, default_config
from orchestrator.intents_deploy import IntentsParams, add_to_manifest, deploy_intents
from services.common import manifest as manifest_models
from services.solver.keys import solver_key
from services.solver.planner import IntentError, IntentRequest, open_for_call, plan_intent
from tests.conftest import free_config
from tests.e2e.conftest import Net, wait_for

A, B, HUB = "rollup-a", "rollup-b", "hub"
USDC = 10**6
SETTLED, REFUNDED = 2, 3


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


@dataclass
class Solvers:
    manifest_path: Path
    run_dir: Path
    port_base: int
    procs: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, index: int, *args: str) -> None:
        port = self.port_base + index
        cmd = [
            sys.executable,
            "-m",
            "services.solver",
            "--manifest",
            str(self.manifest_path),
            "--index",
            str(index),
            "--port",
            str(port),
            "--db",
            str(self.run_dir / f"solver-{index}.sqlite"),
            *args,
        ]
        with open(self.run_dir / f"solver-{index}.log", "ab") as log:
            self.procs[index] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        _wait(f"solver {index} ready", lambda: self._alive(index) and self.health(index).get("ready"), 90)

    def _alive(self, index: int) -> bool:
        if self.procs[index].poll() is None:
            return True
        tail = (self.run_dir / f"solver-{index}.log").read_text()[-2000:]
        raise AssertionError(f"solver {index} exited with {self.procs.pop(index).returncode}: {tail}")

    def health(self, index: int) -> dict[str, Any]:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port_base + index}/health", timeout=2).json()
        except (httpx.HTTPError, ValueError):
            return {}

    def stop(self, index: int) -> None:
        proc = self.procs.pop(index)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def kill(self, index: int) -> None:
        """kill -9: no clean shutdown, whatever was in flight stays in flight."""
        proc = self.procs.pop(index)
        proc.kill()
        proc.wait(5)

    def stop_all(self) -> None:
        for index in list(self.procs):
            self.stop(index)


def _wait(what: str, pred: Any, timeout: float = 60.0) -> Any:
    return wait_for(what, pred, timeout, interval=0.05)


def _start_offset() -> int:
    """4000, unless DEVNET_TEST_PORT_OFFSET would put the devnet into the kernel's ephemeral port range
    (32768+), where the client sockets of concurrent test runs make ports look busy."""
    env = int(os.environ.get("DEVNET_TEST_PORT_OFFSET", "0"))
    return 4000 if env + 4000 + 9400 < 32768 else 4000 + env % 17000 - env


@pytest.fixture(scope="module")
def inet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    tmp = tmp_path_factory.mktemp("intents")
    base = default_config()
    # `up` deploys the intents contracts and funds 3 solver keys; these tests run (and kill) the solver
    # processes themselves, so the devnet's own supervised solvers are stopped first.
    base = replace(base, solvers=SolverConfig(count=3))
    config = free_config(_start_offset(), base, tmp / "state")
    with Net.start(config) as net:
        for i in range(3):
            net.supervisor.stop_service(f"solver-{i}")
        deployment = deploy_intents(net.manifest, IntentsParams(solvers=3), log=lambda _m: None)
        add_to_manifest(net.devnet.manifest_path, deployment)
        net.manifest = manifest_models.load(net.devnet.manifest_path)
        yield net


@pytest.fixture
def solvers(inet: Net) -> Iterator[Solvers]:
    offset = inet.manifest.api.port - 8000
    port_base = next(
        p for p in range(9300 + offset, 9400 + offset, 5) if not any(_port_in_use(p + i) for i in range(3))
    )
    s = Solvers(Path(inet.devnet.manifest_path), inet.manifest.run_dir, port_base)
    try:
        yield s
    finally:
        s.stop_all()


def _usdc(net: Net, chain: str) -> Any:
    return net.contract(chain, "USDC")


def _bal(net: Net, chain: str, who: str) -> int:
    return _usdc(net, chain).functions.balanceOf(who).call()


def _supply(net: Net) -> int:
    return sum(_usdc(net, c.name).functions.totalSupply().call() for c in net.manifest.chains)


def _solver_total(net: Net, index: int) -> int:
    return sum(_bal(net, c.name, solver_key(index).address) for c in net.manifest.chains)


def _send_plan(net: Net, plan: Any) -> Any:
    receipt = None
    for tx in plan.transactions:
        w3 = net.w3[tx["chain"]]
        h = w3.eth.send_transaction({"from": tx["from"], "to": tx["to"], "data": tx["data"], "gas": tx["gas"]})
        receipt = w3.eth.wait_for_transaction_receipt(h, timeout=30)
        assert receipt.status == 1, tx["description"]
    return receipt


def _opened(net: Net, receipt: Any) -> Any:
    (ev,) = net.contract(A, "OriginSettler").events.Open().process_receipt(receipt, errors=DISCARD)
    return ev.args.resolvedOrder


def _escrow_status(net: Net, order_id: bytes) -> int:
    return net.contract(A, "OriginSettler").functions.escrowOf(order_id).call()[2]


def _plan(net: Net, amount: str, recipient: str, sender: str | None, **kw: Any) -> Any:
    return plan_intent(net.manifest, IntentRequest(A, B, "USDC", amount, recipient, sender=sender, **kw))


def test_solver_fill_then_paid_after_proof(inet, solvers):
    solvers.start(0)
    user, recipient, solver = inet.account(1), Account.create().address, solver_key(0).address
    supply, user_a, solver_a, solver_b = (
        _supply(inet),
        _bal(inet, A, user),
        _bal(inet, A, solver),
        _bal(inet, B, solver),
    )
    plan = _plan(inet, "100", recipient, user)
    assert plan.route == "solver" and plan.quote["solver"]["index"] in (0, 1, 2)
    pay = int(plan.quote["input_amount"])
    assert pay == 100 * USDC + int(plan.quote["solver_fee"]) and int(plan.quote["era_message_fee"]) > 0
    order = _opened(inet, _send_plan(inet, plan))
    _wait("recipient credited on rollup-b", lambda: _bal(inet, B, recipient) == 100 * USDC)
    _wait("escrow settled on rollup-a", lambda: _escrow_status(inet, order["orderId"]) == SETTLED)
    assert _bal(inet, B, solver) == solver_b - 100 * USDC
    assert _bal(inet, A, solver) == solver_a + pay
    assert _bal(inet, A, user) == user_a - pay
    assert _bal(inet, A, inet.manifest.address("OriginSettler")) == 0
    assert _supply(inet) == supply
    _wait("solver records the settlement", lambda: solvers.health(0).get("orders", {}).get("settled") == 1)


def test_gasless_open_for(inet, solvers):
    solvers.start(0)
    user = Account.create()
    recipient = Account.create().address
    inet.transact(A, _usdc(inet, A).functions.transfer(user.address, 200 * USDC), account=2)
    assert inet.w3[A].eth.get_balance(user.address) == 0
    plan = _plan(inet, "100", recipient, user.address)
    order_sig = Account.sign_typed_data(user.key, full_message=plan.typed_data["order"]).signature
    permit_sig = Account.sign_typed_data(user.key, full_message=plan.typed_data["permit"]).signature
    data = open_for_call(plan, order_sig, permit_sig)
    receipt = inet.transact(A, _RawCall(inet, A, plan.order["origin_settler"], data), account=9)
    order = _opened(inet, receipt)
    assert order["user"] == user.address
    _wait("recipient credited on rollup-b", lambda: _bal(inet, B, recipient) == 100 * USDC)
    _wait("escrow settled on rollup-a", lambda: _escrow_status(inet, order["orderId"]) == SETTLED)
    assert _bal(inet, A, user.address) == 200 * USDC - int(plan.quote["input_amount"])
    assert inet.w3[A].eth.get_balance(user.address) == 0


class _RawCall:
    """A prepared call in the shape Net.transact expects (fn.transact({"from": ...}))."""

    def __init__(self, net: Net, chain: str, to: str, data: bytes):
        self.w3, self.to, self.data = net.w3[chain], to, data

    def transact(self, params: dict[str, Any]) -> Any:
        return self.w3.eth.send_transaction({**params, "to": self.to, "data": "0x" + self.data.hex()})


def test_solver_killed_and_restarted_fills_each_once(inet, solvers):
    solvers.start(0)
    recipients = [Account.create().address for _ in range(12)]
    ids = []
    for n, rcpt in enumerate(recipients):
        if n == 4:
            solvers.kill(0)  # right after an open: its fill may be in flight
        if n == 8:
            solvers.start(0)
        ids.append(_opened(inet, _send_plan(inet, _plan(inet, "1", rcpt, inet.account(6))))["orderId"])
    _wait("every recipient credited", lambda: all(_bal(inet, B, r) == USDC for r in recipients))
    _wait("every escrow settled", lambda: all(_escrow_status(inet, oid) == SETTLED for oid in ids))
    logs = inet.contract(B, "DestinationSettler").events.Filled().get_logs(from_block=0)
    fills = Counter(bytes(lg.args.orderId) for lg in logs)
    assert [fills[bytes(oid)] for oid in ids] == [1] * len(ids)


def test_no_solver_liquidity_takes_the_canonical_route(inet, solvers):
    recipient = Account.create().address
    supply = _supply(inet)
    plan = _plan(inet, "150000", recipient, inet.account(3))  # more than any solver holds on rollup-b
    assert plan.route == "canonical" and "no solver holds" in plan.reason
    _send_plan(inet, plan)
    _wait("recipient credited over the USDC bridge", lambda: _bal(inet, B, recipient) == 150_000 * USDC)
    assert _supply(inet) == supply


def test_solver_stopped_refund_after_deadline(inet, solvers):
    user, recipient = inet.account(4), Account.create().address
    before = _bal(inet, A, user)
    now = inet.w3[A].eth.get_block("latest").timestamp
    plan = _plan(inet, "100", recipient, user, deadline=now + 30, route="solver")
    order = _opened(inet, _send_plan(inet, plan))  # no solver is running
    settler = inet.contract(A, "OriginSettler")
    grace = settler.functions.settlementGrace().call()
    inet.w3[A].provider.make_request("evm_increaseTime", [30 + grace + 2])
    inet.w3[A].provider.make_request("evm_mine", [])
    inet.transact(A, settler.functions.refund(order["orderId"]), account=9)
    assert _bal(inet, A, user) == before
    assert _escrow_status(inet, order["orderId"]) == REFUNDED
    solvers.start(0)  # back: it sees the refund and never fills
    _wait("solver catches up", lambda: solvers.health(0).get("orders", {}).get("refunded"))
    assert _bal(inet, B, recipient) == 0
    assert inet.contract(B, "DestinationSettler").functions.fillOf(order["orderId"]).call()[0] == "0x" + "00" * 20


def test_solver_skips_an_order_whose_deadline_passed_on_the_origin(inet, solvers):
    recipient = Account.create().address
    now = inet.w3[A].eth.get_block("latest").timestamp
    plan = _plan(inet, "100", recipient, inet.account(4), deadline=now + 30, route="solver")
    order = _opened(inet, _send_plan(inet, plan))
    inet.w3[A].provider.make_request("evm_increaseTime", [40])  # rollup-b's clock stays behind
    inet.w3[A].provider.make_request("evm_mine", [])
    solvers.start(0)
    oid = "0x" + bytes(order["orderId"]).hex()
    db = sqlite3.connect(f"file:{solvers.run_dir / 'solver-0.sqlite'}?mode=ro", uri=True)
    try:
        row = _wait(
            "the solver decides",
            lambda: db.execute("SELECT status, reason FROM orders WHERE id=? AND status!='new'", (oid,)).fetchone(),
        )
    finally:
        db.close()
    assert row[0] == "skipped" and "deadline" in row[1]
    assert _bal(inet, B, recipient) == 0
    assert _escrow_status(inet, order["orderId"]) == 1  # still open: the user's refund comes after the grace


def test_two_solvers_race_50_intents(inet, solvers):
    solvers.start(0)
    solvers.start(1)
    totals = {i: _solver_total(inet, i) for i in (0, 1)}
    origin = inet.manifest.address("OriginSettler")
    users = [inet.account(i) for i in range(5, 9)]
    for i in range(5, 9):
        inet.transact(A, _usdc(inet, A).functions.approve(origin, 10**12), account=i)
    recipients = [Account.create().address for _ in range(50)]
    fees = 0
    ids = []
    for n, rcpt in enumerate(recipients):
        plan = _plan(inet, str(1 + n), rcpt, users[n % len(users)])
        fees += int(plan.quote["solver_fee"])
        ids.append(_opened(inet, _send_open_only(inet, plan))["orderId"])
    _wait("every recipient credited", lambda: all(_bal(inet, B, r) == (1 + n) * USDC for n, r in enumerate(recipients)))
    _wait("every escrow settled", lambda: all(_escrow_status(inet, oid) == SETTLED for oid in ids))
    dest = inet.contract(B, "DestinationSettler")
    logs = dest.events.Filled().get_logs(from_block=0)
    fills = Counter(bytes(lg.args.orderId) for lg in logs)
    assert all(fills[bytes(oid)] == 1 for oid in ids)
    winners = Counter(lg.args.filler for lg in logs if bytes(lg.args.orderId) in {bytes(i) for i in ids})
    assert sum(winners.values()) == 50
    gained = {i: _solver_total(inet, i) - totals[i] for i in (0, 1)}
    assert all(g >= 0 for g in gained.values()), gained
    assert sum(gained.values()) == fees


def _send_open_only(net: Net, plan: Any) -> Any:
    """The plan's open transaction alone (the users approved the settler once)."""
    tx = plan.transactions[-1]
    h = net.w3[tx["chain"]].eth.send_transaction(
        {"from": tx["from"], "to": tx["to"], "data": tx["data"], "gas": tx["gas"]}
    )
    receipt = net.w3[tx["chain"]].eth.wait_for_transaction_receipt(h, timeout=30)
    assert receipt.status == 1
    return receipt


def test_solver_rebalances_over_the_canonical_route(inet, solvers):
    solver = solver_key(2).address
    a0, b0 = _bal(inet, A, solver), _bal(inet, B, solver)
    assert a0 == b0 == 100_000 * USDC
    solvers.start(2, "--low-watermark", "99950", "--target", "100000")  # the only solver running
    recipient = Account.create().address
    plan = _plan(inet, "100", recipient, inet.account(1))
    _send_plan(inet, plan)
    _wait("recipient credited", lambda: _bal(inet, B, recipient) == 100 * USDC)
    fee = int(plan.quote["solver_fee"])
    assert fee > 0
    _wait("inventory back on rollup-b", lambda: _bal(inet, B, solver) == 100_000 * USDC)
    assert _bal(inet, A, solver) == 100_000 * USDC + fee
    _wait("the solver sees its rebalance arrive", lambda: solvers.health(2).get("rebalances") == {"arrived": 1})


def test_planner_refuses_bad_input(inet):
    user, rcpt = inet.account(1), inet.account(2)
    now = inet.w3[A].eth.get_block("latest").timestamp
    cases = [
        (IntentRequest(A, B, "DAI", "1", rcpt), "token", "unknown token"),
        (IntentRequest(A, "rollup-z", "USDC", "1", rcpt), "to_chain", "unknown chain"),
        (IntentRequest(A, A, "USDC", "1", rcpt), "to_chain", "same chain"),
        (IntentRequest(A, B, "USDC", "0", rcpt), "amount", "must be positive"),
        (IntentRequest(A, B, "USDC", "-5", rcpt), "amount", "must be positive"),
        (IntentRequest(A, B, "USDC", "1.0000001", rcpt), "amount", "decimals"),
        (IntentRequest(A, B, "USDC", "abc", rcpt), "amount", "not a number"),
        (IntentRequest(A, B, "USDC", "1", "0x1234"), "recipient", "not an address"),
        (IntentRequest(A, B, "USDC", "1", rcpt.lower().replace("0x", "0X")), "recipient", "not an address"),
        (IntentRequest(A, B, "USDC", "1", rcpt, sender="bob"), "sender", "not an address"),
        (IntentRequest(A, B, "USDC", "2000000", rcpt, sender=user), "amount", "holds"),
        (IntentRequest(A, B, "USDC", "1", rcpt, deadline=now - 1), "deadline", "in the past"),
        (IntentRequest(A, B, "USDC", "1", rcpt, deadline=2**32), "deadline", "uint32"),  # was an eth_abi error
    ]
    for req, field_name, text in cases:
        with pytest.raises(IntentError) as info:
            plan_intent(inet.manifest, req)
        assert info.value.field == field_name and text in str(info.value), (req, str(info.value))
