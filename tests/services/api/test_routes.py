"""Every read route through TestClient: answers, filters, bounds, and the one error body."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.api.errors import ErrorBody
from tests.services.api.conftest import mid


def assert_error(r, status: int, code: str, text: str = "") -> dict:
    assert r.status_code == status, r.text[:500]
    err = ErrorBody.model_validate(r.json()).error
    assert err.code == code and text in err.message, err
    return r.json()["error"]


def test_health_chains_guardians(client, api_net):
    assert client.get("/health").json()["status"] == "ok"
    chains = client.get("/v1/chains").json()
    assert {c["name"] for c in chains} == {"hub", "rollup-a", "rollup-b"} and all(c["head"] >= 0 for c in chains)
    guardians = client.get("/v1/guardians").json()
    assert len(guardians) == len(api_net.manifest.guardians.members) and all(g["healthy"] for g in guardians)


def test_head_on_every_get_route_answers_its_headers(client):
    for path in ("/v1/chains", "/health", "/v1/messages", "/openapi.json", "/"):  # HEAD /v1/chains was a 405
        head, get = client.head(path), client.get(path)
        assert head.status_code == 200 and head.content == b"", path
        assert head.headers["content-type"] == get.headers["content-type"], path
    assert_error(client.get("/v1/messages/0x12"), 422, "invalid_request")
    assert client.head("/v1/messages/0x12").status_code == 422 and client.head("/v1/nothing").status_code == 404
    assert client.head("/v1/time/advance").status_code == 405  # POST only


def test_contracts_give_abis_and_absolute_artifact_paths(client, api_net):
    contracts = {c["name"]: c for c in client.get("/v1/contracts").json()}
    gw = contracts["MetalayerGateway"]
    assert gw["address"] == api_net.manifest.address("MetalayerGateway")
    assert Path(gw["artifact"]).is_absolute() and Path(gw["artifact"]).is_file()
    assert any(e.get("name") == "sendMessage" for e in gw["abi"])
    assert contracts["GuardianStaking"]["chains"] == [api_net.manifest.hub.chain_id]


def test_list_filters_pages_and_orders_newest_first(queue_client, api_net):
    everything = queue_client.get("/v1/messages").json()
    assert everything["total"] == 6 and [m["id"] for m in everything["messages"]] == [mid(n) for n in range(6, 0, -1)]
    statuses = {m["id"]: m["status"] for m in everything["messages"]}
    assert [statuses[mid(n)] for n in (2, 3, 4, 5)] == ["delivered", "failed", "retrying", "submitted"]
    failed = queue_client.get("/v1/messages", params={"status": "failed"}).json()
    assert [(m["id"], m["revert_reason"]) for m in failed["messages"]] == [(mid(3), "Refused(42)")]
    retrying = queue_client.get("/v1/messages", params={"status": "retrying"}).json()["messages"]
    assert [(m["id"], m["revert_reason"]) for m in retrying] == [(mid(4), "Refused(7)")]  # decoded from hex
    assert "Refused(7)" in retrying[0]["last_error"] and "0x" not in retrying[0]["last_error"]
    hub_id = str(api_net.chain("hub").chain_id)
    assert queue_client.get("/v1/messages", params={"source": "hub"}).json()["total"] == 2
    assert queue_client.get("/v1/messages", params={"chain": hub_id}).json()["total"] == 4
    routed = queue_client.get("/v1/messages", params={"source": "rollup-a", "destination": "rollup-b"}).json()
    assert queue_client.get("/v1/messages", params={"source": "rollup-a"}).json()["total"] == 2
    assert [m["id"] for m in routed["messages"]] == [mid(3)]
    page = queue_client.get("/v1/messages", params={"limit": 2, "offset": 1}).json()
    assert (page["limit"], page["offset"]) == (2, 1) and [m["id"] for m in page["messages"]] == [mid(5), mid(4)]
    past_the_end = queue_client.get("/v1/messages", params={"offset": 10**9}).json()
    assert past_the_end["total"] == 6 and past_the_end["messages"] == []


@pytest.mark.parametrize(
    "params",
    [
        {"offset": 2**64},
        {"offset": "99999999999999999999999"},
        {"offset": -1},
        {"offset": 10**9 + 1},
        {"offset": "1e3"},
        {"limit": 0},
        {"limit": 1001},
        {"limit": 2**63},
        {"limit": "x"},
        {"status": "lost"},
        {"chain": "nowhere"},
        {"source": ""},
        {"destination": "9" * 30},
        {"chain": "x" * 65},
    ],
)
def test_bad_list_parameters_are_422_with_the_error_body(queue_client, params):
    err = assert_error(queue_client.get("/v1/messages", params=params), 422, "invalid_request")
    assert err["details"] and err["details"][0]["loc"][-1] == next(iter(params))


def test_the_status_filter_names_every_relayer_status(client):
    from typing import get_args

    from services.api.schemas import Status
    from services.relayer.queue import STATUSES

    assert set(get_args(Status)) == set(STATUSES)
    param = next(
        p
        for p in client.get("/openapi.json").json()["paths"]["/v1/messages"]["get"]["parameters"]
        if p["name"] == "status"
    )
    assert all(f"'{s}'" in str(param["schema"]) for s in STATUSES)


def test_one_message_by_id_in_either_case(queue_client):
    t = queue_client.get(f"/v1/messages/{mid(2)}").json()
    assert t["status"] == "delivered" and t["delivered"]["block"] == 13 and t["stages"]["confirm_ms"] > 0
    assert queue_client.get(f"/v1/messages/0X{mid(2)[2:].upper()}").json()["id"] == mid(2)
    failed = queue_client.get(f"/v1/messages/{mid(3)}").json()
    assert failed["revert_reason"] == "Refused(42)" and "Refused(42)" in failed["last_error"]


def test_message_errors(queue_client):
    for bad in ("nothex", "0x1234", "0x" + "g" * 64, "0x" + "a" * 65, "1x" + "a" * 64, "0x" + "9" * 100):
        assert_error(queue_client.get(f"/v1/messages/{bad}"), 422, "invalid_request", "message_id")
    assert_error(queue_client.get(f"/v1/messages/0x{'ab' * 32}"), 404, "not_found", "unknown message id")
    assert_error(queue_client.get("/v1/nothing"), 404, "not_found")
    assert_error(queue_client.delete("/v1/messages"), 405, "method_not_allowed")
    assert queue_client.delete("/v1/messages").headers["allow"] == "GET, POST"  # RFC 9110: a 405 names them
    assert queue_client.put("/v1/chains").headers["allow"] == "GET"


def test_every_route_declares_the_error_body_for_its_4xx(client):
    doc = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            codes = {c for c in op["responses"] if c.startswith("4")}
            assert "422" in codes, (method, path)
            for c in codes:
                ref = op["responses"][c]["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith("/ErrorBody"), (method, path, c)
    chain = next(p for p in doc["paths"]["/v1/messages"]["get"]["parameters"] if p["name"] == "chain")
    assert {"hub", "rollup-a", "rollup-b"} <= set(chain["schema"]["enum"])


@pytest.mark.parametrize(
    "fault, reason",
    [
        ({"kind": "kill", "target": "nosuch"}, "unknown process 'nosuch' (supervised: "),
        ({"kind": "pause", "target": "guardian-9"}, "unknown process 'guardian-9'"),
        ({"kind": "drop", "target": "guardian-0"}, "drop applies to the relayer, not 'guardian-0'"),
        ({"kind": "reorg", "target": "nochain"}, "unknown chain 'nochain'"),
        ({"kind": "equivocate", "target": "guardian-0", "block": 1}, "equivocate needs chain and block"),
        ({"kind": "equivocate", "target": "relayer", "chain": "hub", "block": 1}, "unknown guardian 'relayer'"),
    ],
)
def test_a_fault_the_devnet_cannot_apply_is_422_at_once(client, fault, reason):
    """Seen: POST /v1/chaos {"kind": "kill", "target": "nosuch"} answered 202 "requested"; the
    reason came later, in GET /v1/chaos, as a failed fault."""
    before = len(client.get("/v1/chaos").json())
    r = client.post("/v1/chaos", json=fault)
    assert r.status_code == 422 and reason in r.json()["error"]["message"], r.text
    assert len(client.get("/v1/chaos").json()) == before  # nothing recorded for the warden


def test_a_deeply_nested_body_is_a_4xx_not_a_crash(api_net):
    """Seen: POST /v1/messages with `[` * 100000 killed the API (SIGSEGV, exit -11): py_ecc, imported
    under eth_account, raises the recursion limit to 100000, deep enough for json.loads to overflow
    the C stack before a RecursionError."""
    import httpx

    pid = api_net.devnet.pids()["api"]
    body = b"[" * 100_000 + b"]" * 100_000
    for path in ("/v1/messages", "/v1/intents", "/v1/chaos"):
        r = httpx.post(f"{api_net.api}{path}", content=body, headers={"content-type": "application/json"}, timeout=10)
        assert 400 <= r.status_code < 500 and r.json()["error"]["message"], r.text
    assert api_net.devnet.pids()["api"] == pid and httpx.get(f"{api_net.api}/health", timeout=5).status_code == 200


def test_an_unreadable_relayer_queue_is_a_503_with_the_reason(queue_client, queue):
    """A corrupted queue file gave a bare 500 on every message route (sqlite3.DatabaseError)."""
    import os

    queue.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{queue.path}{suffix}").unlink(missing_ok=True)
    with open(queue.path, "r+b") as f:
        f.write(os.urandom(4096))
    for path in ("/v1/messages", f"/v1/messages/{mid(2)}"):
        assert_error(queue_client.get(path), 503, "unavailable", "relayer's queue cannot be read")
