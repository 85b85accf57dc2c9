"""A module-scoped governance deployment on the contract tests' session devnet (no relayer).

`gov` deploys roles + governance with orchestrator.governance_deploy onto the session chains
inside an anvil snapshot that is reverted when the module ends, so the other contract tests
keep finding the deployer as owner. Messages are relayed by hand (`net.deliver`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from orchestrator.governance_deploy import GovernanceDeployment, deploy_governance
from orchestrator.manifest import build_manifest
from services.common.manifest import Manifest
from tests.contracts.conftest import Net

ROLLUPS = ("rollup-a", "rollup-b")


@dataclass
class Gov:
    net: Net
    manifest: Manifest
    deployment: GovernanceDeployment

    @property
    def addr(self) -> dict[str, str]:
        return self.deployment.contracts

    def c(self, chain: str, name: str) -> Any:
        artifact = {"RoleExecutor": "MetalayerRemoteExecutor", "GovernanceExecutor": "MetalayerRemoteExecutor"}.get(
            name, name
        )
        return self.net.c(chain, artifact, self.addr[name])

    def deliver_all(self, receipt: Any, src: str = "hub") -> dict[str, Any]:
        """Relay every message of `receipt` by hand; destination chain name -> delivery receipt."""
        out = {}
        for msg in self.net.messages_in(src, receipt):
            dst = next(n for n, cid in self.net.chain_id.items() if cid == msg.destination_chain_id)
            out[dst] = self.net.deliver(src, dst, msg)
        return out


@pytest.fixture(scope="module", name="gov")
def gov_fixture(_net: Net, deployed: Any, devnet_config: Any, artifacts: dict[str, Any]) -> Iterator[Gov]:
    snap = _net.snapshot()
    manifest = build_manifest(devnet_config, deployed.manifest_section(), services=False)
    deployment = deploy_governance(manifest, artifacts=artifacts)
    manifest.contracts.update(_contracts(deployment))
    manifest.governance = deployment.manifest_section()  # as write_into_manifest does (hub_only, ...)
    try:
        yield Gov(_net, manifest, deployment)
    finally:
        _net.revert(snap)
        _net._impersonated.clear()


def _contracts(deployment: GovernanceDeployment) -> dict[str, Any]:
    from services.common.manifest import Contract

    return {name: Contract(**entry) for name, entry in deployment.manifest_contracts().items()}
