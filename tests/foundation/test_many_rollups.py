"""Deployment at scale: nothing assumes a small number of rollups (fixed gas limits did: 9+ failed)."""

from __future__ import annotations

from dataclasses import replace
from typing import Iterator

import pytest
from web3 import Web3

from orchestrator import keys
from orchestrator.chains.rpc import RpcClient
from orchestrator.config import ChainConfig, DevnetConfig, default_config
from orchestrator.deploy.deployer import ChainSender, DeployError
from orchestrator.deploy.plan import Tx
from orchestrator.devnet import Devnet
from orchestrator.pytest_plugin import free_port_offset
from services.common.abi import Abi
from services.common.manifest import Manifest, load_abi
from services.protocol import encode_evm_chain

ROLLUPS = 12


def many_rollups(count: int, state_dir: str) -> DevnetConfig:
    base = default_config()
    rollups = tuple(ChainConfig(name=f"rollup-{i}", chain_id=901 + i, port=8546 + i) for i in range(count))
    config = replace(base, chains=(base.hub, *rollups), state_dir=state_dir)
    return config.with_port_offset(free_port_offset(config))


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DevnetConfig, Manifest]]:
    tmp = tmp_path_factory.mktemp("many-rollups")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DEVNET_CACHE_DIR", str(tmp / "cache"))
        config = many_rollups(ROLLUPS, str(tmp / "state"))
        with Devnet(config) as devnet:
            yield config, devnet.start(services=False, use_cache=False)


def test_twelve_rollups_deploy_and_are_wired_to_each_other(deployed):
    config, manifest = deployed
    assert len(manifest.chains) == ROLLUPS + 1
    hub = Web3(Web3.HTTPProvider(config.hub.rpc_url))
    registry = hub.eth.contract(address=manifest.address("StateRootRegistry"), abi=load_abi("StateRootRegistry"))
    assert all(registry.functions.isTracked(r.chain_id).call() for r in config.rollups)
    staking = hub.eth.contract(address=manifest.address("GuardianStaking"), abi=load_abi("GuardianStaking"))
    assert staking.functions.registry().call() == manifest.address("StateRootRegistry")
    last = Web3(Web3.HTTPProvider(config.rollups[-1].rpc_url))
    era = last.eth.contract(address=manifest.address("EraToken"), abi=load_abi("EraToken"))
    for chain in config.chains[:-1]:  # the last rollup's ERA knows its twin on every other chain
        gateway, _ = era.functions.getLink(encode_evm_chain(chain.chain_id)).call()
        assert gateway == manifest.address("MetalayerGateway")


def test_a_step_that_really_reverts_names_the_chain_the_step_and_the_reason(deployed):
    config, manifest = deployed
    abi = Abi(load_abi("StateRootRegistry"))
    # the deployer handed the registry to governance but still binds instances: a zero id reverts
    empty_set = Tx("registry.setInstance(zero)", manifest.address("StateRootRegistry"),
                   abi.encode("setInstance", bytes(32)))
    with RpcClient(config.hub.rpc_url) as node:
        nonce_before = node.call("eth_getTransactionCount", [keys.deployer_key().address, "latest"])
        with pytest.raises(DeployError, match=r"^chain hub: registry.setInstance\(zero\) reverted: InvalidInstance\(\)$"):
            ChainSender(config.hub, node, [abi]).send_all([empty_set])
        # refused at the estimate: nothing was sent, so no nonce was spent
        assert node.call("eth_getTransactionCount", [keys.deployer_key().address, "latest"]) == nonce_before


def test_thirty_two_rollups_start_with_services_and_a_message_crosses_first_to_last(tmp_path):
    """The whole devnet (chains, deploy, guardians, relayer, API) at 32 rollups, within a bounded budget."""
    import httpx

    from orchestrator.testing import DevnetHandle

    config = many_rollups(32, str(tmp_path / "state"))
    with DevnetHandle.start(config) as net:
        first, last = config.rollups[0].name, config.rollups[-1].name
        sent = net.send(first, last, b"across 32 rollups")
        net.wait_delivered(sent, timeout=90)
        assert net.receive_counts(last) == {sent.id: 1}
        listed = httpx.get(f"{net.api}/v1/chains", timeout=10).json()
        names = {c["name"] for c in (listed if isinstance(listed, list) else listed.get("chains", []))}
        assert names == {c.name for c in config.chains}
        assert len(net.devnet.chain_supervisor.records) == 33  # every chain supervised
