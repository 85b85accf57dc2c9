"""The Devnet runtime without services: deploy, state cache, block times, clean stop."""

from dataclasses import replace

import pytest
from web3 import Web3

from orchestrator.deploy import statecache
from orchestrator.devnet import Devnet
from orchestrator.services.procs import pid_alive
from services.protocol import load_abi


@pytest.fixture
def config(tmp_path, monkeypatch, ports_config):
    monkeypatch.setenv("DEVNET_CACHE_DIR", str(tmp_path / "cache"))
    return replace(ports_config, state_dir=str(tmp_path / "state"))


def contract_codes(manifest):
    codes = {}
    for chain in manifest.chains:
        w3 = Web3(Web3.HTTPProvider(chain.rpc_url))
        for name, entry in manifest.contracts.items():
            if name == "GuardianStaking" and chain.role != "hub":
                continue  # staking and slashing live on the hub only
            if name in manifest.governance["hub_only" if chain.role != "hub" else "rollup_only"]:
                continue  # the governor and its vote lock on the hub, the remote executors on rollups
            codes[(chain.name, name)] = bytes(w3.eth.get_code(entry.address))
    return codes


def test_deploy_then_cached_start_gives_the_same_devnet(config):
    stages = []
    with Devnet(config, progress=lambda s, d, t: stages.append((s, d))) as first:
        manifest = first.start(services=False)
        pids = list(first.pids().values())
        fresh_codes = contract_codes(manifest)
        assert all(fresh_codes.values()), [k for k, v in fresh_codes.items() if not v]
    assert not any(pid_alive(p) for p in pids)
    assert [s for s, _ in stages] == ["toolchain", "compile", "chains", "deploy", "instance"]
    assert statecache.lookup(config) is not None

    stages.clear()
    with Devnet(config, progress=lambda s, d, t: stages.append((s, d))) as second:
        again = second.start(services=False)
        assert dict(stages)["deploy"].endswith("from cached state")
        assert again.contracts == manifest.contracts
        assert contract_codes(again) == fresh_codes
        # a fresh instance id on every up, cached state included, set on every chain before services
        assert again.instance_id != manifest.instance_id
        for chain in again.chains:
            w3 = Web3(Web3.HTTPProvider(chain.rpc_url))
            reg = w3.eth.contract(address=again.contracts["StateRootRegistry"].address, abi=load_abi("StateRootRegistry"))
            assert "0x" + reg.functions.instanceId().call().hex() == again.instance_id
        for chain in again.chains:
            w3 = Web3(Web3.HTTPProvider(chain.rpc_url))
            era = w3.eth.contract(address=again.contracts["EraToken"].address, abi=load_abi("EraToken"))
            for account in again.accounts:
                # deployed from a separate key: users' own deployments get the addresses they expect
                assert w3.eth.get_transaction_count(account.address) == 0
                assert era.functions.balanceOf(account.address).call() > 0


def test_block_time_applies_after_a_fast_deploy(config):
    config = config.with_block_time(1)
    with Devnet(config) as devnet:
        devnet.start(services=False, use_cache=False)
        assert devnet.timings["deploy"] < 30  # deployed under automine, not one block per second
        w3 = Web3(Web3.HTTPProvider(config.hub.rpc_url))
        before = w3.eth.block_number
        account = devnet.manifest.accounts[0].address
        tx = w3.eth.send_transaction({"from": account, "to": account, "value": 1})
        receipt = w3.eth.wait_for_transaction_receipt(tx, timeout=10)
        assert receipt["blockNumber"] > before  # mined by the interval, not instantly
        assert w3.eth.get_block(receipt["blockNumber"])["timestamp"] >= w3.eth.get_block(before)["timestamp"]
        assert not w3.provider.make_request("anvil_getAutomine", []).get("result")


def test_failed_start_stops_everything(config, tmp_path):
    import socket

    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.0.1", config.chains[2].port))
    blocker.listen()
    devnet = Devnet(config)
    try:
        with pytest.raises(RuntimeError, match="already in use"):
            devnet.start(services=False)
    finally:
        blocker.close()
    assert devnet.chains is None and devnet.pids() == {}
