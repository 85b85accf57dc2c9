"""/v1/roles, /v1/governance/*, /v1/time/advance on the package's real devnet (relayer and guardians run).

`devnet up` deploys roles + governance, so the API devnet has them; role changes and rollup actions
travel as real messages. Failure paths: 422 bad input, 404 unknown proposal, 409 refused by the contracts.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from web3 import Web3

from tests.services.api.conftest import wait_for

ROLLUPS = ("rollup-a", "rollup-b")
CHAINS = ("hub", *ROLLUPS)
EXEMPT_SIG = "setFeeExempt(address,bool)"


def _roles(client: TestClient, account: str) -> dict[str, Any]:
    r = client.get(f"/v1/roles/{account}")
    assert r.status_code == 200, r.text
    return r.json()


def test_roles_lists_names_and_pending(client: TestClient) -> None:
    body = client.get("/v1/roles").json()
    assert body["roles"]["DAPP_OPERATOR"] == 1 and body["roles"]["ADMIN"] == 0
    assert isinstance(body["pending"], dict)


def test_grant_reaches_every_rollup_and_revoke_takes_it_away(client: TestClient, api_net: Any) -> None:
    account = api_net.manifest.accounts[6].address
    assert not any(_roles(client, account)["chains"][c]["DAPP_OPERATOR"] for c in CHAINS)
    r = client.post(f"/v1/roles/{account}/grant", json={"role": "DAPP_OPERATOR"})
    assert r.status_code == 200, r.text
    assert r.json()["role"] == 1 and len(r.json()["messages"]) == len(ROLLUPS)

    def everywhere(member: bool) -> bool:
        shown = _roles(client, account)
        return not shown["pending"] and all(shown["chains"][c]["DAPP_OPERATOR"] is member for c in CHAINS)

    wait_for("the grant on every rollup", lambda: everywhere(True))
    assert client.post(f"/v1/roles/{account}/revoke", json={"role": "1"}).status_code == 200
    wait_for("the revocation on every rollup", lambda: everywhere(False))


def test_a_proposal_runs_on_every_chain(client: TestClient, api_net: Any) -> None:
    target = Web3.to_checksum_address("0x" + "5e" * 20)
    assert client.post("/v1/governance/delegate", json={"account": 7}).status_code == 200
    actions = [
        {"chain": c, "contract": "MetalayerGateway", "signature": EXEMPT_SIG, "args": [target, True]} for c in CHAINS
    ]
    r = client.post("/v1/governance/proposals", json={"description": "exempt 0x5e5e", "actions": actions, "account": 7})
    assert r.status_code == 200, r.text
    pid = r.json()["id"]
    assert client.get(f"/v1/governance/proposals/{r.json()['id_hex']}").json()["id"] == pid
    heads = client.post("/v1/time/advance", json={"seconds": 24, "blocks": 2}).json()["heads"]
    assert set(heads) == set(CHAINS)
    vote = client.post(f"/v1/governance/proposals/{pid}/votes", json={"support": "for", "account": 7})
    assert vote.status_code == 200 and int(vote.json()["weight"]) > 0, vote.text
    period = api_net.manifest.governance["voting_period"]  # seconds: the governor's clock is the timestamp
    assert client.post("/v1/time/advance", json={"seconds": period + 1}).status_code == 200
    assert client.get(f"/v1/governance/proposals/{pid}").json()["state"] == "Succeeded"
    done = client.post(f"/v1/governance/proposals/{pid}/execute", json={"account": 8})
    assert done.status_code == 200, done.text
    wait_for(
        "execution on every chain",
        lambda: all(c["executed"] for c in client.get(f"/v1/governance/proposals/{pid}").json()["chains"]),
    )
    for chain in CHAINS:
        assert api_net.contract(chain, "MetalayerGateway").functions.feeExempt(target).call()
    again = client.post(f"/v1/governance/proposals/{pid}/execute", json={"account": 8})
    assert again.status_code == 409 and "GovernorUnexpectedProposalState" in again.json()["error"]["message"]


def test_bad_input_answers_4xx_with_a_reason(client: TestClient) -> None:
    someone = "0x" + "12" * 20

    def propose(chain: str, contract: str, signature: str, args: list) -> Any:
        action = {"chain": chain, "contract": contract, "signature": signature, "args": args}
        return client.post("/v1/governance/proposals", json={"description": "x", "actions": [action]})

    cases = [
        (client.get("/v1/roles/0x12"), 422, "account"),
        (client.post(f"/v1/roles/{someone}/grant", json={"role": "NOPE"}), 422, "unknown role"),
        # role ids are uint64: checked before web3 (which refused them with a 500)
        (client.post(f"/v1/roles/{someone}/grant", json={"role": str(2**64)}), 422, "role id must be 0..2^64-1"),
        (client.post(f"/v1/roles/{someone}/grant", json={"role": "-1"}), 422, "role id must be 0..2^64-1"),
        (client.post(f"/v1/roles/{someone}/grant", json={"role": "0x" + "f" * 40}), 422, "role id must be"),
        (client.post(f"/v1/roles/{someone}/revoke", json={"role": "-5"}), 422, "role id must be 0..2^64-1"),
        (client.post(f"/v1/roles/{someone}/grant", json={"role": "1", "signer": 99}), 422, "no dev account"),
        (
            client.post(f"/v1/roles/{someone}/grant", json={"role": "1", "signer": 3}),
            409,
            "AccessManagerUnauthorizedAccount",
        ),
        (client.get("/v1/governance/proposals/12345"), 404, "no proposal 12345"),
        (client.get("/v1/governance/proposals/" + "9" * 78), 422, "out of uint256 range"),
        (client.post("/v1/governance/proposals", json={"description": "x", "actions": []}), 422, "actions"),
        (propose("hub", "EraToken", "f(uint8)", [300]), 422, "out of range"),
        (propose("mars", "EraToken", "f(uint8)", [1]), 422, "unknown chain"),
        (propose("hub", "Nothing", "f()", []), 422, "not in the manifest"),
        (propose("rollup-b", "EraVoteLock", "setMinLockDuration(uint64)", [1]), 422, "exists on the hub only"),
        (client.post("/v1/time/advance", json={"seconds": -1}), 422, "seconds"),
        (client.post("/v1/time/advance", json={"seconds": 1, "blocks": 10**6}), 422, "blocks"),
        (client.post("/v1/time/advance", json={"seconds": False}), 422, "seconds"),
        (client.post("/v1/governance/delegate", json={"account": False}), 422, "account"),
        (client.get(f"/v1/roles/{someone}/grant"), 405, "Method Not Allowed"),
    ]
    for response, status, reason in cases:
        assert response.status_code == status, (reason, response.text)
        assert reason in response.json()["error"]["message"], response.text
