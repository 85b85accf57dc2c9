"""One nonce lock per (chain, account) for every sender of the devnet's own tooling.

The API (sends, intents, governance), the proven reads' attestation submitter, the CLI and the
test handle each used their own lock (an asyncio lock, a thread lock, a file lock): the same
account sent from two of them at once lost a nonce race, answered 502/409 "nonce too low".
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from orchestrator import client


def _nonce(net: Any, chain: str, account: int) -> int:
    return int(net.w3[chain].eth.get_transaction_count(net.account(account), "latest"))


def _api_send(net: Any, source: str, destination: str, account: int) -> dict[str, Any]:
    body = {"source": source, "destination": destination, "account": account, "payload": {"hex": "0x"}}
    r = httpx.post(f"{net.api}/v1/messages", json=body, timeout=60)
    assert r.status_code == 201, r.text
    return {"id": r.json()["id"], "tx": r.json()["tx"]}


def _lib_send(net: Any, source: str, destination: str, account: int) -> dict[str, Any]:
    sent = client.send_message(net.manifest, source, destination, b"", account=account)
    return {"id": sent.id, "tx": sent.tx}


# `devnet send --json` in a process of its own, given the fixture devnet's manifest (a devnet
# started by a test has no pid file for the CLI to find it by)
CLI = """
import sys
from orchestrator.cli import messages
from orchestrator.cli.main import build_parser
args = build_parser().parse_args(sys.argv[2:])
args.manifest = sys.argv[1]
sys.exit(messages.send(args))
"""


def _cli_send(manifest: Path, source: str, destination: str, account: int) -> dict[str, Any]:
    cmd = ["send", "--from", source, "--to", destination, "--account", str(account), "--json"]
    done = subprocess.run([sys.executable, "-c", CLI, str(manifest), *cmd], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    sent = json.loads(done.stdout)
    return {"id": sent["id"], "tx": sent["tx"]}


def _mined_once(net: Any, chain: str, sends: list[dict[str, Any]]) -> None:
    """Each answer's transaction is mined, and no two answers name one message or transaction."""
    assert len({s["id"] for s in sends}) == len(sends)
    assert len({s["tx"] for s in sends}) == len(sends)
    for s in sends:
        assert net.w3[chain].eth.get_transaction_receipt(s["tx"]).status == 1


ROUNDS = 3  # one round of the old code lost a nonce about one time in three


def test_api_cli_and_library_sends_from_one_account_all_land(net):
    account, before = 5, _nonce(net, "rollup-a", 5)
    jobs = [_api_send] * 10 + [_lib_send] * 6
    sends: list[dict[str, Any]] = []
    with ThreadPoolExecutor(len(jobs) + 1) as pool:
        for _ in range(ROUNDS):
            cli = pool.submit(_cli_send, net.manifest.path, "rollup-a", "rollup-b", account)
            sends += pool.map(lambda job: job(net, "rollup-a", "rollup-b", account), jobs)
            sends.append(cli.result())
    _mined_once(net, "rollup-a", sends)
    assert _nonce(net, "rollup-a", account) - before == len(sends)


def test_proven_reads_and_sends_share_the_submitters_nonce(net):
    """API reads attest from account 7 on their reading chain while the API and the library send
    from account 7 there too: every read answers 200 and every send lands."""
    gateway, account = net.addresses["MetalayerGateway"], 7
    before = _nonce(net, "hub", account)

    def read(i: int) -> dict[str, Any]:
        net.w3["rollup-a"].provider.make_request("evm_mine", [])  # a fresh block: its root is attested now
        params = {"chain": "rollup-a", "address": gateway, "slot": str(i), "on": "hub"}
        r = httpx.get(f"{net.api}/v1/read", params=params, timeout=60)
        assert r.status_code == 200, r.text
        return dict(r.json())

    sends: list[dict[str, Any]] = []
    attested = 0
    with ThreadPoolExecutor(28) as pool:
        for _ in range(ROUNDS):
            reads = [pool.submit(read, i) for i in range(12)]
            sends += pool.map(
                lambda job: job(net, "hub", "rollup-a", account), [_api_send, _api_send, _api_send, _lib_send] * 4
            )
            attested += sum(f.result()["attested_now"] for f in reads)
    _mined_once(net, "hub", sends)
    assert attested > 0
    assert _nonce(net, "hub", account) - before == len(sends) + attested


def test_governance_route_and_sends_share_the_accounts_nonce(net):
    """POST /v1/governance/delegate (web3 TxSender in the API's worker threads) while library and
    API sends from the same account keep going: every answer is a success, each its own transaction."""
    account, before = 6, _nonce(net, "hub", 6)
    done = threading.Event()

    def delegate(_: int) -> None:
        r = httpx.post(f"{net.api}/v1/governance/delegate", json={"account": account}, timeout=60)
        assert r.status_code == 200, r.text

    def keep_sending(job: Any) -> list[dict[str, Any]]:
        sent = []
        while not done.is_set():
            sent.append(job(net, "hub", "rollup-a", account))
        return sent

    with ThreadPoolExecutor(8) as pool:
        senders = [pool.submit(keep_sending, job) for job in (_lib_send, _lib_send, _api_send)]
        try:
            list(pool.map(delegate, range(8)))
        finally:
            done.set()
        sends = [s for f in senders for s in f.result()]
    _mined_once(net, "hub", sends)
    assert _nonce(net, "hub", account) - before == len(sends) + 8
