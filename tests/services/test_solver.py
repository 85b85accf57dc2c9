"""The solver's parts that need no chain: durable store, keys, amounts, CLI errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from eth_utils import to_checksum_address

from services.common.manifest import Chain
from services.solver.keys import solver_key
from services.solver.orders import FillData, OrderData, order_id
from services.solver.planner import IntentError, parse_amount
from services.solver.service import SolverSettings
from services.solver.store import Store
from services.solver.terms import SOLVER_DEADLINE_SLACK, check_solver_deadline
from services.solver.validation import SOLVER_MIN_MARGIN

REPO = Path(__file__).resolve().parents[2]


def _order(n: int, destination: int = 902) -> dict:
    fill = FillData(
        901, "0x" + "11" * 20, "0x" + "22" * 20, n, 2_000_000_000, "0x" + "33" * 20, 10**6, "0x" + "44" * 20, 902
    )
    data = fill.encode()
    return {
        "id": "0x" + order_id(data).hex(),
        "origin": 901,
        "destination": destination,
        "user": fill.user,
        "input_token": fill.output_token,
        "input_amount": 2**200,
        "output_token": fill.output_token,
        "output_amount": fill.output_amount,
        "recipient": fill.recipient,
        "fill_deadline": fill.fill_deadline,
        "origin_data": data,
        "open_block": 7,
        "open_tx": None,
    }


def test_store_ingest_is_atomic_idempotent_and_durable(tmp_path: Path) -> None:
    path = tmp_path / "solver.sqlite"
    store = Store(path)
    a, b = _order(1), _order(2)
    assert store.ingest(901, 10, [a, b], [], []) == [a["id"], b["id"]]
    assert store.ingest(901, 12, [a], [], []) == []  # a re-scan never duplicates
    assert store.cursor(901) == 12
    with pytest.raises(KeyError):  # a bad row rolls the whole range back, cursor included
        store.ingest(901, 20, [_order(3), {"id": "0xbad"}], [], [])
    assert store.cursor(901) == 12 and store.get(_order(3)["id"]) is None
    store.mark_filling(a["id"], "0xfeed")
    store.ingest(901, 21, [], [b["id"]], [a["id"]])
    store.close()

    reopened = Store(path)  # what a restarted solver finds
    assert reopened.get(a["id"])["status"] == "refunded" and reopened.get(a["id"])["fill_tx"] == "0xfeed"
    assert reopened.get(b["id"])["status"] == "settled"
    assert int(reopened.get(a["id"])["input_amount"]) == 2**200  # uint256 amounts survive
    assert reopened.cursor(901) == 21
    assert reopened.ready(902) == []
    reopened.close()


def test_a_settled_order_stays_settled_when_its_fill_receipt_comes_later(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    early, usual = _order(1), _order(2)
    store.ingest(901, 1, [early, usual], [], [])
    for o in (early, usual):
        store.mark_filling(o["id"], "0xfeed")
    store.ingest(901, 2, [], [early["id"]], [])  # its Settled log was scanned before the fill's receipt came
    store.mark_filled(early["id"])
    store.mark_filled(usual["id"])
    assert store.get(early["id"])["status"] == "settled" and store.get(early["id"])["filled_at"] is not None
    assert store.get(usual["id"])["status"] == "filled"
    store.ingest(901, 3, [], [usual["id"]], [])
    assert store.counts() == {"settled": 2}


def test_store_ready_respects_backoff_and_rebalances(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    o = _order(1)
    store.ingest(901, 1, [o], [], [])
    assert [r["id"] for r in store.ready(902)] == [o["id"]]
    assert store.ready(901) == []
    store.retry_later(o["id"], "waiting for inventory", 60)
    assert store.ready(902) == []
    rid = store.add_rebalance(901, 902, 5 * 10**6)
    store.update_rebalance(rid, "sent", tx="0xab", nonce=3)
    (rb,) = store.rebalances()
    assert (rb["status"], rb["nonce"], int(rb["amount"])) == ("sent", 3, 5 * 10**6)
    store.update_rebalance(rid, "arrived")
    assert store.rebalances() == [] and store.rebalance_counts() == {"arrived": 1}
    store.close()


def test_order_encoding_round_trips() -> None:
    data = OrderData("0x" + "aa" * 20, 5, "0x" + "bb" * 20, 4, "0x" + "cc" * 20, 902)
    decoded = OrderData.decode(data.encode())
    assert decoded.as_tuple() == (
        to_checksum_address("0x" + "aa" * 20),
        5,
        to_checksum_address("0x" + "bb" * 20),
        4,
        to_checksum_address("0x" + "cc" * 20),
        902,
    )
    fill = FillData.decode(_order(9)["origin_data"])
    assert fill.nonce == 9 and FillData.decode(fill.encode()) == fill


def _chain(name: str, block_time: float | None) -> Chain:
    return Chain(name=name, chain_id=900, port=1, rpc_url="http://x", ws_url="ws://x", block_time=block_time)


def test_planner_refuses_a_deadline_the_solver_would_skip() -> None:
    """The solver skips an order with less than its margin left (the escrow then waits for the refund
    window): the planner's minimum for the solver route covers that margin, the slack and the blocks."""
    assert SolverSettings().min_margin == SOLVER_MIN_MARGIN  # the planner's margin is the solver's
    src, dst = _chain("rollup-a", 1.0), _chain("rollup-b", 0.5)
    lead = SOLVER_MIN_MARGIN + SOLVER_DEADLINE_SLACK + 2  # ceil(1.0 + 0.5)
    check_solver_deadline(1000 + lead, 1000, src, dst)  # the minimum is accepted
    for deadline in (1004, 1000 + SOLVER_MIN_MARGIN, 1000 + lead - 1):
        with pytest.raises(IntentError) as info:
            check_solver_deadline(deadline, 1000, src, dst)
        assert info.value.field == "deadline"
        assert f"at least {1000 + lead}" in str(info.value) and f"{SOLVER_MIN_MARGIN} s left" in str(info.value)
    instant = _chain("instant", None)  # no block time: margin and slack only
    check_solver_deadline(1000 + SOLVER_MIN_MARGIN + SOLVER_DEADLINE_SLACK, 1000, instant, instant)


def test_solver_keys_are_deterministic_and_distinct() -> None:
    assert solver_key(0) == solver_key(0)
    assert len({solver_key(i).address for i in range(4)}) == 4
    with pytest.raises(ValueError):
        solver_key(-1)


@pytest.mark.parametrize("text,expected", [("100", 100 * 10**6), ("0.000001", 1), ("1.5", 1_500_000), (7, 7 * 10**6)])
def test_parse_amount(text: str, expected: int) -> None:
    assert parse_amount(text) == expected


@pytest.mark.parametrize("text", ["0", "-1", "1e-7", "nan", "inf", "", "12abc"])
def test_parse_amount_refuses(text: str) -> None:
    with pytest.raises(IntentError) as info:
        parse_amount(text)
    assert info.value.field == "amount"


@pytest.mark.parametrize(
    "text, words",
    [
        ("1e999999", "too large"),  # decimal.Overflow when scaled: was a 500 in the API
        ("1e-9999999999", "decimals"),  # scaled, it rounded to 0 and was sent as a zero order
        ("1_0", "not a number"),  # Decimal() takes underscores
        ("\u0661", "not a number"),  # and non-ASCII digits
        ("1e99999999999999999999999", "not a number"),
        ("1" * 101, "not a number"),
    ],
)
def test_parse_amount_is_strict_and_bounded(text: str, words: str) -> None:
    with pytest.raises(IntentError, match=words):
        parse_amount(text)
    assert parse_amount("1e3") == 1000 * 10**6 and parse_amount(".5") == 500_000


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.solver", *args], capture_output=True, text=True, cwd=REPO, timeout=60
    )


def test_cli_bad_input_one_line(tmp_path: Path) -> None:
    missing = _cli("--manifest", str(tmp_path / "nope.json"))
    assert missing.returncode == 1 and missing.stderr.strip().count("\n") == 0 and "no manifest" in missing.stderr
    negative = _cli("--index", "-1", "--manifest", str(tmp_path / "nope.json"))
    assert negative.returncode == 2 and "--index must be >= 0" in negative.stderr
    bad_amount = _cli("--low-watermark", "lots")
    assert bad_amount.returncode == 2 and "not an amount" in bad_amount.stderr
    manifest = tmp_path / "m.json"
    manifest.write_text(
        json.dumps(
            {
                "chains": [],
                "keys": {"relayer": {"address": "0x" + "00" * 20, "private_key": "0x01"}},
                "guardians": {"threshold": 1, "members": []},
            }
        )
    )
    undeployed = _cli("--manifest", str(manifest), "--port", "0")
    assert undeployed.returncode == 1 and "OriginSettler" in undeployed.stderr
