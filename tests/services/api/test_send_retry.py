"""POST /v1/messages (hex, text, ABI call) delivered by the real relayer; POST .../retry through the relayer."""

from __future__ import annotations

import httpx
import pytest
from eth_abi import encode
from eth_utils import keccak
from fastapi.testclient import TestClient

from services.api.app import create_app
from services.common.manifest import RelayerSettings
from tests.services.api.conftest import deploy, wait_for
from tests.services.api.test_routes import assert_error


@pytest.fixture(scope="module")
def toggle(api_net):
    return deploy(api_net, "rollup-b", "ToggleRecipient", api_net.manifest.address("MetalayerGateway"))


def trace(client, mid: str) -> dict:
    return client.get(f"/v1/messages/{mid}").json()


def delivered(client, mid: str) -> dict:
    return wait_for(f"{mid} delivered", lambda: (t := trace(client, mid)).get("status") == "delivered" and t)


@pytest.mark.parametrize(
    "payload,expected",
    [
        ({"hex": "0xC0FFEE"}, bytes.fromhex("c0ffee")),
        ({"text": "héllo"}, "héllo".encode()),
        ({"sig": "increment(uint256)", "args": [7]}, keccak(text="increment(uint256)")[:4] + encode(["uint256"], [7])),
        ({"sig": "f()", "args": []}, keccak(text="f()")[:4]),  # the selector alone, like `cast calldata "f()"`
        (
            {"sig": "set(address,bytes,uint8[])", "args": ["0x" + "11" * 20, "0xabcd", ["1", 2]]},
            keccak(text="set(address,bytes,uint8[])")[:4]
            + encode(["address", "bytes", "uint8[]"], ["0x" + "11" * 20, b"\xab\xcd", [1, 2]]),
        ),
    ],
)
def test_send_each_payload_kind_is_delivered_with_those_bytes(client, api_net, toggle, payload, expected):
    r = client.post(
        "/v1/messages",
        json={
            "source": "hub",
            "destination": "rollup-b",
            "recipient": toggle.address,
            "account": 3,
            "payload": payload,
        },
    )
    assert r.status_code == 201, r.text
    sent = r.json()
    assert sent["payload"] == "0x" + expected.hex() and sent["sender"] == api_net.accounts[3].address
    t = delivered(client, sent["id"])
    assert t["payload"] == "0x" + expected.hex() and t["source"]["name"] == "hub"
    assert toggle.functions.lastPayload().call() == expected


def test_send_without_recipient_goes_to_the_example_counter(client, api_net):
    counter = api_net.contract("rollup-a", "CrossChainCounter")
    before = counter.functions.count().call()
    r = client.post("/v1/messages", json={"source": str(api_net.chain("hub").chain_id), "destination": "rollup-a"})
    assert r.status_code == 201, r.text
    delivered(client, r.json()["id"])
    assert counter.functions.count().call() == before + 1  # an empty payload counts as 1


@pytest.mark.parametrize(
    "body,where",
    [
        ({"source": "hub", "destination": "hub"}, "destination"),
        ({"source": "mars", "destination": "hub"}, "source"),
        ({"source": "hub", "destination": "rollup-a", "account": 10**6}, "account"),
        ({"source": "hub", "destination": "rollup-a", "account": -1}, "account"),
        ({"source": "hub", "destination": "rollup-a", "account": 2**256}, "account"),
        ({"source": "hub", "destination": "rollup-a", "recipient": "0x12"}, "recipient"),
        (
            {"source": "hub", "destination": "rollup-a", "payload": {"sig": "increment(uint256)", "args": [-1]}},
            "payload",
        ),
        ({"source": "hub", "destination": "rollup-a", "payload": {"sig": "nope", "args": []}}, "payload"),
        ({"source": "hub", "destination": "rollup-a", "payload": {"sig": "f(uint256)", "args": [1, 2]}}, "payload"),
        ({"source": "hub", "destination": "rollup-a", "payload": {"hex": "0xabc"}}, "payload"),
        ({"source": "hub", "destination": "rollup-a", "payload": {"hex": "ab", "text": "x"}}, "payload"),
        ({"source": "hub", "destination": "rollup-a", "payload": {"hex": "00" * (128 * 1024 + 1)}}, "payload"),
        ({"source": "hub"}, "destination"),
    ],
)
def test_bad_sends_are_422_naming_the_field(client, body, where):
    err = assert_error(client.post("/v1/messages", json=body), 422, "invalid_request")
    assert any(where in map(str, d["loc"]) for d in err["details"]) or where in err["message"], err


@pytest.mark.parametrize(
    "change,reason",
    [
        ({"account": True}, "account: Value error, expected an integer, got a boolean"),  # was dev account 1
        ({"recipient": "0x5aaeb6053F3E94C9b9A09f33669435E7Ef1BeAed"}, "recipient: Value error, bad EIP-55 checksum"),
        ({"payload": {}}, "payload: a payload is an object with exactly one of hex, text or sig"),
        ({"payload": {"hex": "ab", "text": "x"}}, "exactly one of hex, text or sig"),
        ({"payload": {"text": "x" * (128 * 1024 + 1)}}, "payload.text.text: String should have at most 131072"),
        ({"payload": {"text": "é" * (64 * 1024 + 1)}}, "payload is 131074 bytes; the API accepts at most 131072"),
    ],
)
def test_a_bad_send_says_what_is_wrong(client, change, reason):
    """Not the first union member's complaint ("payload.HexPayload.hex: Field required")."""
    body = {"source": "hub", "destination": "rollup-a", **change}
    assert reason in assert_error(client.post("/v1/messages", json=body), 422, "invalid_request")["message"]


def test_a_text_payload_is_bounded_by_its_bytes_not_a_quarter_of_them(client, api_net, toggle):
    body = {"source": "hub", "destination": "rollup-b", "recipient": toggle.address, "payload": {"text": "x" * 40_000}}
    r = client.post("/v1/messages", json=body)
    assert r.status_code == 201, r.text
    assert len(bytes.fromhex(r.json()["payload"][2:])) == 40_000


def test_a_send_the_gateway_refuses_names_its_error_decoded(client):
    body = {"source": "hub", "destination": "rollup-a", "recipient": "0x" + "00" * 20}
    err = assert_error(client.post("/v1/messages", json=body), 422, "invalid_request", "sendMessage would revert")
    assert "InvalidRecipient(" in err["message"] and "custom error" not in err["message"], err


@pytest.mark.parametrize(
    "payload",
    [
        {"sig": "f(uint256[])", "args": [list(range(9_000))]},  # 288 KB: was the gateway's revert, undecoded
        {"sig": "f(uint256[])", "args": [list(range(100_000))]},  # 3.2 MB: was a 503 (the chain timed out)
        {"sig": "f(bytes)", "args": ["0x" + "00" * (128 * 1024)]},  # selector + offset + length past the limit
    ],
)
def test_every_payload_form_is_bounded_after_encoding(client, api_net, payload):
    sender = api_net.accounts[4].address
    nonce = api_net.w3["hub"].eth.get_transaction_count(sender)
    body = {"source": "hub", "destination": "rollup-a", "account": 4, "payload": payload}
    err = assert_error(client.post("/v1/messages", json=body), 422, "invalid_request", "the API accepts at most 131072")
    assert err["details"][0]["loc"] == ["body", "payload"]
    assert api_net.w3["hub"].eth.get_transaction_count(sender) == nonce  # refused before any chain call


def test_retry_a_failing_message_through_the_relayer(client, api_net, toggle):
    api_net.w3["rollup-b"].eth.wait_for_transaction_receipt(
        toggle.functions.setFailing(True).transact({"from": api_net.accounts[9].address})
    )
    try:
        r = client.post(
            "/v1/messages",
            json={
                "source": "rollup-a",
                "destination": "rollup-b",
                "recipient": toggle.address,
                "payload": {"text": "again"},
            },
        )
        mid = r.json()["id"]
        failing = wait_for("failure recorded", lambda: (t := trace(client, mid))["status"] == "retrying" and t)
        first = failing["attempt_log"][0]
        assert first["attempt"] == 1 and first["outcome"] in ("failed", "rejected") and "Refused(42)" in first["reason"]
        retry = client.post(f"/v1/messages/0X{mid[2:].upper()}/retry")
        assert retry.status_code == 200 and retry.json() == {"id": mid, "status": "pending"}, retry.text
    finally:
        api_net.w3["rollup-b"].eth.wait_for_transaction_receipt(
            toggle.functions.setFailing(False).transact({"from": api_net.accounts[9].address})
        )
    t = delivered(client, mid)
    assert t["attempts"] >= 2 and len(t["attempt_log"]) >= 2 and t["attempt_log"][-1]["outcome"] == "delivered"
    assert_error(client.post(f"/v1/messages/{mid}/retry"), 409, "conflict", "already delivered")
    assert_error(client.post(f"/v1/messages/0x{'ab' * 32}/retry"), 404, "not_found", "unknown message id")


def test_retry_errors(client, api_net):
    assert_error(client.post("/v1/messages/0x12/retry"), 422, "invalid_request", "message_id")
    # a relayer without the retry endpoint (here: a guardian's HTTP server in its place)
    guardian_port = api_net.manifest.guardians.members[0].port
    old = api_net.manifest.model_copy(update={"relayer": RelayerSettings(port=guardian_port)})
    with TestClient(create_app(old, api_net.manifest.run_dir / "relayer.sqlite")) as c:
        assert_error(c.post(f"/v1/messages/0x{'ab' * 32}/retry"), 503, "unavailable", "does not support retry yet")
    api_net.supervisor.stop_service("relayer")
    try:
        assert_error(client.post(f"/v1/messages/0x{'ab' * 32}/retry"), 503, "unavailable", "does not answer")
    finally:
        api_net.supervisor.start_service("relayer")
    assert httpx.get(f"http://127.0.0.1:{api_net.manifest.relayer.port}/health", timeout=5).status_code == 200
