"""Guardian: signs each head once, on demand too, never a second root, across restarts."""

from __future__ import annotations

import json
import time

import httpx

from orchestrator.chains.rpc import rpc
from services.guardian.openapi import guardian_document
from services.guardian.store import SignedStore
from services.protocol import Attestation, recover_signer
from tests.services.conftest import INSTANCE, REPO


def test_store_keeps_the_first_root_across_reopen(tmp_path):
    path = tmp_path / "g.sqlite"
    store = SignedStore(path, b"\x01" * 32)
    first = store.put_once(901, 7, b"\x01" * 32, b"\x02" * 32, b"\x03" * 65)
    again = store.put_once(901, 7, b"\x01" * 32, b"\x09" * 32, b"\x04" * 65)
    assert again == first
    store.close()
    reopened = SignedStore(path, b"\x01" * 32)
    assert reopened.put_once(901, 7, b"\x05" * 32, b"\x06" * 32, b"\x07" * 65).state_root == b"\x02" * 32
    assert reopened.get(901, 7).signature == b"\x03" * 65
    forced = reopened.add_forced(901, 7, b"\x01" * 32, b"\x08" * 32, b"\x0a" * 65)
    assert reopened.get(901, 7).state_root == b"\x02" * 32  # the honest row still answers
    assert [r.seq for r in reopened.feed(0, 10)] == [first.seq, forced.seq]
    assert reopened.latest(901).block_number == 7


def _guardian(spawn_service, config, manifest_path, *extra):
    port = config.guardians.base_port
    return spawn_service(
        "services.guardian",
        "--index",
        "0",
        "--manifest",
        str(manifest_path),
        *extra,
        health_url=f"http://127.0.0.1:{port}/health",
        log_name="guardian-0",
    ), f"http://127.0.0.1:{port}"


def test_guardian_signs_heads_and_on_demand_and_never_twice(chains_only, spawn_service):
    config, manifest_path = chains_only
    rollup = config.chain("rollup-a")
    svc, url = _guardian(spawn_service, config, manifest_path)
    health = httpx.get(f"{url}/health").json()
    assert health["status"] == "ok" and set(health["chains"]) == {str(c.chain_id) for c in config.chains}

    rpc(rollup.rpc_url, "evm_mine")
    head = int(rpc(rollup.rpc_url, "eth_blockNumber"), 16)
    block = rpc(rollup.rpc_url, "eth_getBlockByNumber", [hex(head), False])
    att = httpx.get(f"{url}/v1/attestations/{rollup.chain_id}/{head}", params={"wait": 2}).json()
    assert att["state_root"] == block["stateRoot"] and att["block_hash"] == block["hash"]
    signed = Attestation(rollup.chain_id, head, att["block_hash"], att["state_root"])
    assert health["instance_id"] == INSTANCE
    assert recover_signer(signed, bytes.fromhex(att["signature"][2:]), INSTANCE) == health["address"]
    assert httpx.get(f"{url}/v1/attestations/{rollup.chain_id}/latest").json()["block_number"] >= head

    # A future block: 404 with a reason, after waiting a little for it.
    r = httpx.get(f"{url}/v1/attestations/{rollup.chain_id}/{head + 50}", params={"wait": 0.1})
    assert r.status_code == 404 and "not signable yet" in r.json()["error"]["message"]
    assert httpx.get(f"{url}/v1/attestations/{rollup.chain_id}/nope").status_code == 422
    assert httpx.get(f"{url}/v1/attestations/12345/1").status_code == 404
    # The test-only endpoint does not exist without its flag.
    assert httpx.post(f"{url}/v1/test/equivocate/{rollup.chain_id}/{head}").status_code == 404

    # A long poll for the next block is answered as soon as it is mined.
    import threading

    timer = threading.Timer(0.2, lambda: rpc(rollup.rpc_url, "evm_mine"))
    timer.start()
    nxt = httpx.get(f"{url}/v1/attestations/{rollup.chain_id}/{head + 1}", params={"wait": 5}, timeout=10)
    timer.join()
    assert nxt.status_code == 200 and nxt.json()["block_number"] == head + 1

    # Rewind the chain and mine a different block at the same height: the guardian
    # keeps its first answer, before and after a restart.
    snap = rpc(rollup.rpc_url, "evm_snapshot")
    rpc(rollup.rpc_url, "evm_mine")
    target = head + 2
    first = httpx.get(f"{url}/v1/attestations/{rollup.chain_id}/{target}", params={"wait": 2}).json()
    assert rpc(rollup.rpc_url, "evm_revert", [snap])
    rpc(rollup.rpc_url, "anvil_setBalance", ["0x000000000000000000000000000000000000dEaD", "0x1234"])
    rpc(rollup.rpc_url, "evm_mine")
    other = rpc(rollup.rpc_url, "eth_getBlockByNumber", [hex(target), False])
    assert other["stateRoot"] != first["state_root"]
    refused = _wait_for(lambda: httpx.get(f"{url}/health").json()["refused_second_roots"] >= 1)
    assert refused
    assert httpx.get(f"{url}/v1/attestations/{rollup.chain_id}/{target}").json()["signature"] == first["signature"]
    svc.stop()
    svc.start()
    again = httpx.get(f"{url}/v1/attestations/{rollup.chain_id}/{target}").json()
    assert again["signature"] == first["signature"] and again["state_root"] == first["state_root"]


def _wait_for(pred, timeout=5.0):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


def test_forced_equivocation_is_test_only_and_visible_in_feed(chains_only, spawn_service):
    config, manifest_path = chains_only
    hub = config.chain("hub")
    _, url = _guardian(spawn_service, config, manifest_path, "--allow-equivocation-for-tests")
    rpc(hub.rpc_url, "evm_mine")
    head = int(rpc(hub.rpc_url, "eth_blockNumber"), 16)
    r = httpx.post(f"{url}/v1/test/equivocate/{hub.chain_id}/{head}").json()
    honest, bad = r["honest"], r["conflicting"]
    assert honest["block_number"] == bad["block_number"] == head and honest["state_root"] != bad["state_root"]
    for a in (honest, bad):
        att = Attestation(hub.chain_id, head, a["block_hash"], a["state_root"])
        assert recover_signer(att, bytes.fromhex(a["signature"][2:]), INSTANCE) == honest["signer"]
    # by-block lookups still return the honest one; the feed has both
    assert httpx.get(f"{url}/v1/attestations/{hub.chain_id}/{head}").json()["state_root"] == honest["state_root"]
    feed = httpx.get(f"{url}/v1/attestations", params={"chain_id": hub.chain_id, "limit": 10000}).json()
    roots = {a["state_root"] for a in feed["attestations"] if a["block_number"] == head}
    assert roots == {honest["state_root"], bad["state_root"]}

    for bad in ("after=x", "limit=0", "chain_id=zz"):
        assert httpx.get(f"{url}/v1/attestations?{bad}").status_code == 422, bad


def test_confirmations_depth(tmp_path, spawn_service):
    from orchestrator.chains.anvil import start_chains
    from orchestrator.manifest import build_manifest, write_manifest
    from tests.services.conftest import services_config

    config = services_config(tmp_path, start=3200, confirmations=2)
    manifest_path = tmp_path / "state" / "manifest.json"
    with start_chains(config.chains[:2], tmp_path / "logs"):
        from dataclasses import replace

        two_chains = build_manifest(replace(config, chains=config.chains[:2]))
        write_manifest(manifest_path, two_chains.model_copy(update={"instance_id": INSTANCE}))
        _, url = _guardian(spawn_service, config, manifest_path)
        hub = config.chain("hub")
        for _ in range(3):
            rpc(hub.rpc_url, "evm_mine")
        head = int(rpc(hub.rpc_url, "eth_blockNumber"), 16)
        assert httpx.get(f"{url}/v1/attestations/{hub.chain_id}/{head}", params={"wait": 0.1}).status_code == 404
        assert httpx.get(f"{url}/v1/attestations/{hub.chain_id}/{head - 2}").status_code == 200
        assert httpx.get(f"{url}/v1/attestations/{hub.chain_id}/latest").json()["block_number"] == head - 2
        rpc(hub.rpc_url, "evm_mine")
        rpc(hub.rpc_url, "evm_mine")
        r = httpx.get(f"{url}/v1/attestations/{hub.chain_id}/{head}", params={"wait": 2})
        assert r.status_code == 200 and r.json()["block_number"] == head


def _emitter(url: str, topic: str) -> tuple[str, str]:
    """(sender, address) of a contract whose every call logs `topic`: a stand-in for the gateway's
    MessageSent as far as a logs bloom can tell."""
    runtime = "7f" + topic.removeprefix("0x") + "60006000a100"  # PUSH32 topic, 0, 0, LOG1, STOP
    init = "6027600c60003960276000f3" + runtime  # CODECOPY the 39-byte runtime, RETURN it
    sender = rpc(url, "eth_accounts")[0]
    tx = rpc(url, "eth_sendTransaction", [{"from": sender, "data": "0x" + init, "gas": hex(200_000)}])
    return sender, _receipt(url, tx)["contractAddress"]


def _receipt(url: str, tx: str) -> dict:
    deadline = time.monotonic() + 10
    while (r := rpc(url, "eth_getTransactionReceipt", [tx])) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert r is not None, f"no receipt for {tx}"
    return r


def test_message_blocks_are_signed_at_once_and_quiet_ones_at_most_every_idle_interval(chains_only, spawn_service):
    """A block whose bloom may hold a gateway MessageSent is signed as it arrives; of a stream of
    blocks without one, only the newest every IDLE_SIGN is (the rest on demand). Every signature
    is pushed to the live feed as it is made."""
    from websockets.sync.client import connect

    from orchestrator.manifest import write_manifest
    from services.common.abi import Abi
    from services.common.manifest import Contract, load
    from services.guardian.follower import IDLE_SIGN

    config, manifest_path = chains_only
    rollup = config.chain("rollup-a")
    topic = Abi(load(manifest_path).abi("MetalayerGateway")).topic("MessageSent")
    sender, emitter = _emitter(rollup.rpc_url, topic)
    manifest = load(manifest_path)
    gateway = Contract(address=emitter, artifact=str(REPO / "contracts" / "out" / "MetalayerGateway.json"))
    write_manifest(manifest_path, manifest.model_copy(update={"contracts": {"MetalayerGateway": gateway}}))
    _, url = _guardian(spawn_service, config, manifest_path)
    live = connect(url.replace("http", "ws") + "/v1/attestations/live", proxy=None)

    def signed() -> dict[int, dict]:
        feed = httpx.get(f"{url}/v1/attestations", params={"chain_id": rollup.chain_id, "limit": 10000}).json()
        return {a["block_number"]: a for a in feed["attestations"]}

    quiet = []
    for _ in range(20):  # well under IDLE_SIGN apart
        rpc(rollup.rpc_url, "evm_mine")
        quiet.append(int(rpc(rollup.rpc_url, "eth_blockNumber"), 16))
        time.sleep(IDLE_SIGN / 10)
    call = rpc(rollup.rpc_url, "eth_sendTransaction", [{"from": sender, "to": emitter, "gas": hex(50_000)}])
    message_block = int(_receipt(rollup.rpc_url, call)["blockNumber"], 16)
    rpc(rollup.rpc_url, "evm_mine")
    last = int(rpc(rollup.rpc_url, "eth_blockNumber"), 16)
    deadline = time.monotonic() + 10
    while not {message_block, last} <= signed().keys() and time.monotonic() < deadline:
        time.sleep(0.05)
    eager = signed()
    # nobody asked: the message block was signed as it came, the newest quiet block after a pause
    assert {message_block, last} <= eager.keys()
    assert len(eager.keys() & set(quiet)) < len(quiet) // 2, sorted(eager.keys() & set(quiet))
    pushed: dict[int, dict] = {}
    since = {n: doc for n, doc in eager.items() if n >= quiet[0]}  # signed after the feed connected
    with live:
        while not since.keys() <= pushed.keys():  # everything signed since was pushed, as made
            doc = json.loads(live.recv(timeout=5))
            if doc["chain_id"] == rollup.chain_id:
                pushed[doc["block_number"]] = doc
    for number, doc in since.items():
        assert {k: pushed[number][k] for k in doc if k != "forced"} == {k: v for k, v in doc.items() if k != "forced"}
    for number in quiet:  # every quiet block is still signed when asked, as the chain has it
        att = httpx.get(f"{url}/v1/attestations/{rollup.chain_id}/{number}").json()
        block = rpc(rollup.rpc_url, "eth_getBlockByNumber", [hex(number), False])
        assert (att["block_hash"], att["state_root"]) == (block["hash"], block["stateRoot"])


def test_store_of_another_instance_starts_empty(tmp_path):
    path = tmp_path / "g.sqlite"
    store = SignedStore(path, b"\x01" * 32)
    store.put_once(901, 7, b"\x01" * 32, b"\x02" * 32, b"\x03" * 65)
    store.close()
    assert SignedStore(path, b"\x01" * 32).get(901, 7) is not None
    other = SignedStore(path, b"\x02" * 32)
    assert other.dropped == 1 and other.get(901, 7) is None and other.count() == 0
    # a new root for that block is signable under the new instance (its domain makes it no conflict)
    assert other.put_once(901, 7, b"\x01" * 32, b"\x09" * 32, b"\x04" * 65).state_root == b"\x09" * 32


def test_guardian_refuses_to_start_without_an_instance_id(chains_only, tmp_path):
    import json
    import subprocess
    import sys

    config, manifest_path = chains_only
    doc = json.loads(manifest_path.read_text())
    del doc["instance_id"]
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps(doc))
    done = subprocess.run(
        [sys.executable, "-m", "services.guardian", "--index", "0", "--manifest", str(bare)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=REPO,
    )
    assert done.returncode != 0 and "instance_id" in done.stderr


def test_every_number_in_paths_and_queries_is_bounded(chains_only, spawn_service):
    """Issue 11: integers too large for SQLite answered 500; now any integer gets a 2xx/4xx with a reason."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    config, manifest_path = chains_only
    _, url = _guardian(spawn_service, config, manifest_path, "--allow-equivocation-for-tests")
    rollup = config.chain("rollup-a").chain_id
    client = httpx.Client(base_url=url, timeout=10)
    big = 2**63
    for path, params in (
        (f"/v1/attestations/{rollup}/{big}", {}),
        ("/v1/attestations", {"chain_id": 2**64}),
        (f"/v1/attestations/{big}/1", {}),
        (f"/v1/attestations/{big}/latest", {}),
        ("/v1/attestations", {"after": big}),
    ):
        r = client.get(path, params=params)
        assert r.status_code == 422 and "between 0 and" in r.json()["error"]["message"], (path, r.text)
    assert client.post(f"/v1/test/equivocate/{rollup}/{big}").status_code == 422

    ints = st.one_of(st.integers(), st.integers(-2, 2**64 + 2), st.sampled_from([rollup, big - 1, big, -big]))
    texts = st.one_of(ints.map(str), st.text(max_size=30))

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        chain=ints,
        block=ints,
        query=st.dictionaries(st.sampled_from(["chain_id", "after", "limit", "wait"]), texts, max_size=4),
    )
    def check(chain: int, block: int, query: dict[str, str]) -> None:
        if "wait" in query:
            query["wait"] = "0"  # a long poll would only slow the test down
        for path in (f"/v1/attestations/{chain}/{block}", f"/v1/attestations/{chain}/latest", "/v1/attestations"):
            r = client.get(path, params=query)
            assert r.status_code < 500, (path, query, r.text)
            assert r.status_code < 400 or r.json()["error"]["message"], (path, query, r.text)

    try:
        check()
    finally:
        client.close()


def test_guardian_with_the_test_flag_conforms_to_its_schema(chains_only, spawn_service, tmp_path):
    """schemathesis (every check) over the document of a guardian with --allow-equivocation-for-tests.

    No relayer runs here, so the conflicting roots it signs slash nobody. tests/services/api/
    test_service_schemas.py runs the same against a guardian of a full devnet (without the flag).
    """
    from tests.services.schemathesis_cli import report, run_schemathesis

    config, manifest_path = chains_only
    _, url = _guardian(spawn_service, config, manifest_path, "--allow-equivocation-for-tests")
    rpc(config.chains[0].rpc_url, "evm_mine")  # block 1 of the example chain (the first) exists
    doc = httpx.get(f"{url}/openapi.json").json()
    assert "/v1/test/equivocate/{chain_id}/{block}" in doc["paths"]
    done = run_schemathesis(f"{url}/openapi.json", tmp_path, '[parameters]\n"query.wait" = 0\n', max_examples=20)
    assert done.returncode == 0, report(done)
    assert "Tested: 5" in done.stdout, report(done)


def test_every_route_is_in_the_openapi_document(tmp_path):
    """A route added to the guardian without its description fails here (schemathesis tests only described ones)."""
    from orchestrator.manifest import build_manifest, write_manifest
    from services.common import manifest as manifest_mod
    from services.guardian.service import Guardian
    from tests.services.conftest import services_config
    from tests.services.schemathesis_cli import route_table

    config = services_config(tmp_path)
    path = tmp_path / "manifest.json"
    write_manifest(path, build_manifest(config).model_copy(update={"instance_id": INSTANCE}))
    for flag in (False, True):
        guardian = Guardian(manifest_mod.load(path), 0, tmp_path / f"g{flag}.sqlite", allow_equivocation=flag)
        try:
            app = guardian.app()
            served, described = route_table(app, guardian_document(0, list(guardian.followers), flag))
            assert served == described and len(served) == 4 + flag
        finally:
            guardian.store.close()
