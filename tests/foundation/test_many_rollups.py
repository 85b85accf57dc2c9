"""Deployment at scale: nothing assumes a small number of rollups (fixed gas limits did: 9+ failed)."""

from __future__ import annotations

from dataclasses import replace

from web3 import Web3

from orchestrator.config import ChainConfig, DevnetConfig, default_config
from orchestrator.devnet import Devnet
from orchestrator.pytest_plugin import free_port_offset
from services.common.manifest import load_abi
from services.protocol import encode_evm_chain

ROLLUPS = 12


def many_rollups(count: int, state_dir: str) -> DevnetConfig:
    base = default_config()
    rollups = tuple(ChainConfig(name=f"rollup-{i}", chain_id=901 + i, port=8546 + i) for i in range(count))
    config = replace(base, chains=(base.hub, *rollups), state_dir=state_dir)
    return config.with_port_offset(free_port_offset(config))


def test_twelve_rollups_deploy_and_are_wired_to_each_other(tmp_path, monkeypatch):
    monkeypatch.setenv("DEVNET_CACHE_DIR", str(tmp_path / "cache"))
    config = many_rollups(ROLLUPS, str(tmp_path / "state"))
    with Devnet(config) as devnet:
        manifest = devnet.start(services=False, use_cache=False)
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
