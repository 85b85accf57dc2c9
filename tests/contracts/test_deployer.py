"""orchestrator.deployer on live chains: same addresses everywhere, bootstrap state, idempotence."""

from __future__ import annotations

from dataclasses import replace

from orchestrator import keys
from orchestrator.config import GuardianConfig
from orchestrator.deploy.deployer import CORE, EXAMPLES, DeployParams, deploy
from orchestrator.paths import REPO_ROOT
from tests.contracts.conftest import DEV

P = DeployParams()


def test_same_addresses_and_code_everywhere(net, deployed):
    assert set(deployed.contracts) == set(CORE) | set(EXAMPLES)
    for name, address in deployed.contracts.items():
        for chain in net.names:
            code = net.w3[chain].eth.get_code(address)
            if name == "GuardianStaking" and chain != "hub":
                assert code == b""
            else:
                assert len(code) > 100  # (immutables differ from the artifact's placeholder bytes)
    section = deployed.manifest_section()
    for name, entry in section.items():
        assert entry["address"] == deployed.contracts[name]
        assert (REPO_ROOT / entry["artifact"]).is_file()


def test_dev_accounts_untouched_and_funded(net):
    for chain in net.names:
        w3 = net.w3[chain]
        era = net.c(chain, "EraToken")
        gw = net.c(chain, "MetalayerGateway")
        for acct in DEV:
            assert w3.eth.get_transaction_count(acct.address) == 0
            assert era.functions.balanceOf(acct.address).call() == P.dev_era
            assert gw.functions.feeBalance(acct.address).call() == P.dev_fee_deposit
        assert gw.functions.feeBalance(net.addr["PingPong"]).call() == P.example_fee_deposit


def test_redeploy_is_a_no_op(net, devnet_config):
    again = deploy(devnet_config, log=lambda _m: None, artifacts=net.artifacts)
    assert again.transactions == 0
    assert again.contracts == net.addr


def test_redeploy_applies_a_changed_guardian_set(net, devnet_config):
    config = replace(devnet_config, guardians=GuardianConfig(count=4, threshold=3, base_port=devnet_config.guardians.base_port))
    logs: list[str] = []
    result = deploy(config, log=logs.append, artifacts=net.artifacts)
    # setGuardians on each chain; on the hub also mint + approve + stakeFor for the new guardian
    assert result.transactions == len(net.names) + 3
    new = [keys.guardian_key(i).address for i in range(4)]
    for chain in net.names:
        reg = net.c(chain, "StateRootRegistry")
        assert reg.functions.getGuardians().call() == new and reg.functions.threshold().call() == 3
    assert net.c("hub", "GuardianStaking").functions.stakeOf(new[3]).call()[0] == P.guardian_stake
    assert len(logs) == len(net.names)
