"""POST /v1/intents, GET /v1/intents/{id}, GET /v1/metrics against the real API process of a devnet
started like `devnet up` (api_net: USDC, settlers and the devnet's own solver-0 under supervision)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from eth_account import Account

from orchestrator.testing import DevnetHandle

A, B = "rollup-a", "rollup-b"
USDC = 10**6
SENDER = 1  # dev account that pays in these tests


@pytest.fixture(scope="module")
def api(api_net: DevnetHandle) -> str:
    return api_net.api


def _post(api: str, **body: Any) -> httpx.Response:
    return httpx.post(f"{api}/v1/intents", json=body, timeout=60)


def _usdc(net: DevnetHandle, chain: str, who: str) -> int:
    return net.contract(chain, "USDC").functions.balanceOf(who).call()


def _follow(api: str, intent_id: str, until: str = "settled", timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        doc = httpx.get(f"{api}/v1/intents/{intent_id}", timeout=10).json()
        if doc["status"] == until or time.monotonic() > deadline:
            return doc
        time.sleep(0.05)


def test_devnet_runs_its_solver(api_net: DevnetHandle):
    intents = api_net.manifest.intents
    assert intents is not None and [s.index for s in intents.solvers] == [0]
    assert "solver-0" in api_net.supervisor.names()
    health = httpx.get(f"{intents.solvers[0].url}/health", timeout=5).json()
    assert health["ready"] and health["address"] == intents.solvers[0].address
    assert _usdc(api_net, B, intents.solvers[0].address) >= 100 * USDC


def test_solver_fill_reaches_recipient_and_settles(api_net: DevnetHandle, api: str):
    recipient = Account.create().address
    r = _post(api, from_chain=A, to_chain=B, token="USDC", amount="100", recipient=recipient, account=SENDER)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["route"] == "solver" and answer["quote"]["solver"]["index"] == 0
    assert answer["quote"]["solver_fee"] == str(100 * USDC * 5 // 10_000) and answer["order_id"]
    assert answer["transactions"] == [] and len(answer["sent"]) == 2  # approve + open, sent by the devnet
    doc = _follow(api, answer["id"])
    assert doc["status"] == "settled", doc
    assert {"opened", "filled", "settled"} <= set(doc["stages"])
    assert doc["stages"]["settled"]["ms_since_opened"] >= doc["stages"]["filled"]["ms_since_opened"] >= 0
    assert _usdc(api_net, B, recipient) == 100 * USDC


def test_canonical_route_when_the_solver_lacks_liquidity(api_net: DevnetHandle, api: str):
    recipient = Account.create().address
    amount = 150_000  # the solver holds 100,000 USDC per chain
    r = _post(api, from_chain=A, to_chain=B, amount=str(amount), recipient=recipient, account=SENDER)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["route"] == "canonical" and "no solver holds" in answer["reason"]
    assert answer["quote"]["solver_fee"] == "0"
    doc = _follow(api, answer["id"])
    assert doc["status"] == "settled", doc
    assert _usdc(api_net, B, recipient) == amount * USDC


def test_gasless_open_for(api_net: DevnetHandle, api: str):
    recipient = Account.create().address
    r = _post(api, from_chain=A, to_chain=B, amount="5", recipient=recipient, account=2, gasless=True)
    assert r.status_code == 200, r.text
    assert _follow(api, r.json()["id"])["status"] == "settled"
    assert _usdc(api_net, B, recipient) == 5 * USDC


def test_unsigned_answer_sends_nothing(api_net: DevnetHandle, api: str):
    user = api_net.accounts[3].address
    nonce = api_net.w3[A].eth.get_transaction_count(user)
    r = _post(api, from_chain=A, to_chain=B, amount="10", recipient=Account.create().address, sender=user)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["status"] == "planned" and answer["sent"] == []
    assert [t["from"] for t in answer["transactions"]] == [user, user]
    assert answer["typed_data"]["order"]["primaryType"] == "GaslessCrossChainOrder"
    assert answer["typed_data"]["permit"]["message"]["owner"] == user
    assert api_net.w3[A].eth.get_transaction_count(user) == nonce


GOOD = {"from_chain": A, "to_chain": B, "token": "USDC", "amount": "1", "account": SENDER}


@pytest.mark.parametrize(
    "change, field, words",
    [
        ({"token": "DAI"}, "token", "unknown token"),
        ({"from_chain": "rollup-z"}, "from_chain", "unknown chain"),
        ({"to_chain": A}, "to_chain", "same chain"),
        ({"amount": "0"}, "amount", "positive"),
        ({"amount": "-5"}, "amount", "positive"),
        ({"amount": "1.0000001"}, "amount", "decimals"),
        ({"amount": "lots"}, "amount", "not a number"),
        ({"amount": "1e999999"}, "amount", "too large"),
        ({"amount": "1e-9999999999"}, "amount", "decimals"),
        ({"amount": "1_0"}, "amount", "not a number"),
        ({"amount": str(10**13)}, "amount", "at most"),
        ({"amount": "5000000"}, "amount", "holds"),
        ({"recipient": "0x1234"}, "recipient", "not an address"),
        ({"recipient": "0x5aaeb6053F3E94C9b9A09f33669435E7Ef1BeAed"}, "recipient", "checksum"),
        ({"deadline": 1000}, "deadline", "past"),
        ({"deadline": 2**40}, "deadline", "less than or equal"),
        ({"account": 99}, "account", "dev accounts"),
        ({"account": True}, "account", "boolean"),  # was dev account 1
        ({"amount": True}, "amount", "boolean"),  # was 1 token
        ({"account": None, "gasless": True}, "gasless", "needs account"),
        ({"route": "teleport"}, "route", "solver"),
        ({"colour": "blue"}, "colour", "extra"),
    ],
)
def test_bad_input_is_422_and_sends_nothing(api_net: DevnetHandle, api: str, change, field, words):
    payer = api_net.accounts[SENDER].address
    nonce = api_net.w3[A].eth.get_transaction_count(payer)
    body = {**GOOD, "recipient": Account.create().address, **change}
    r = _post(api, **{k: v for k, v in body.items() if v is not None})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert words.lower() in error["message"].lower(), error
    assert error["details"][0]["loc"][-1] == field
    assert api_net.w3[A].eth.get_transaction_count(payer) == nonce


def test_a_deadline_the_solver_would_skip_is_422_and_sends_nothing(api_net: DevnetHandle, api: str):
    """The solver skips an order with less than its margin left: with deadline now + 4 the escrow
    would only be locked until the refund window. Refused with the minimum named; the default passes."""
    payer = api_net.accounts[SENDER].address
    nonce = api_net.w3[A].eth.get_transaction_count(payer)
    now = api_net.w3[A].eth.get_block("latest").timestamp
    body = {**GOOD, "amount": "5", "recipient": Account.create().address, "deadline": now + 4}
    unsigned = {k: v for k, v in body.items() if k != "account"} | {"sender": payer}
    for extra in ({}, {"route": "solver"}):
        r = _post(api, **body, **extra)
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error["details"][0]["loc"][-1] == "deadline"
        assert "too close for the solver route" in error["message"] and "at least" in error["message"], error
    assert api_net.w3[A].eth.get_transaction_count(payer) == nonce
    # a deadline the canonical route ignores is no reason to refuse it
    r = _post(api, **unsigned, route="canonical")
    assert r.status_code == 200 and r.json()["route"] == "canonical", r.text
    # unsigned (nothing sent) with a deadline well past the minimum: the solver route
    r = _post(api, **(unsigned | {"deadline": now + 120}))
    assert r.status_code == 200 and r.json()["route"] == "solver", r.text


def test_unknown_and_malformed_ids(api: str):
    assert httpx.get(f"{api}/v1/intents/0x{'ab' * 16}", timeout=5).status_code == 404
    r = httpx.get(f"{api}/v1/intents/nope", timeout=5)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"


def test_metrics_count_the_intents_above(api: str):
    recipient = Account.create().address
    answer = _post(api, from_chain=A, to_chain=B, amount="2", recipient=recipient, account=SENDER).json()
    _follow(api, answer["id"])
    m = httpx.get(f"{api}/v1/metrics", timeout=5).json()["intents"]
    solver = m["routes"]["solver"]
    assert solver["by_status"].get("settled", 0) >= 1 and solver["success_rate"] == 1.0
    latency = solver["open_to_filled_ms"]
    assert latency["count"] >= 1 and latency["p50"] <= latency["p90"] <= latency["p99"]
    assert set(m["routes"]) == {"solver", "canonical"}
