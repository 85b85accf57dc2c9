"""Roles + ERA governance as part of `devnet up` (orchestrator.governance_deploy does the work).

    contracts = deploy_on(config, core_section, log)   # core manifest section -> core + governance
    section = manifest_section(config)                 # the manifest's "governance" entry

Order (docs/GOVERNANCE.md, "Deployment"): core contracts -> roles + governance with the hand-over
-> state cache -> instance binding. The cache therefore holds handed-over contracts; the
registry's `instanceBinder` (the bootstrap key) re-binds them on every `up`, cached or not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orchestrator.config import DevnetConfig
from orchestrator.governance_deploy import GovernanceDeployment, GovernanceParams, deploy_governance
from orchestrator.manifest import build_manifest

GOVERNANCE_CONTRACTS = (
    "CrosschainAccessManager",
    "RoleExecutor",
    "GovernanceExecutor",
    "EraVoteLock",
    "MetalayerGovernor",
    "RestrictedCounter",
)


def params_of(config: DevnetConfig) -> GovernanceParams:
    """The `[governance]` table of devnet.toml (validated when the config was parsed)."""
    return GovernanceParams.from_table(dict(config.governance))


def deploy_on(
    config: DevnetConfig, contracts: dict[str, Any], log: Callable[[str], None] = lambda _m: None
) -> dict[str, Any]:
    """Deploy roles + governance on chains whose core `contracts` are deployed; the merged section."""
    manifest = build_manifest(config, contracts, services=False)
    deployment = deploy_governance(manifest, params_of(config), log=log)
    return {**contracts, **deployment.manifest_contracts()}


def manifest_section(config: DevnetConfig) -> dict[str, Any]:
    return GovernanceDeployment({}, params_of(config)).manifest_section()


def describe(contracts: dict[str, Any]) -> str:
    present = [n for n in GOVERNANCE_CONTRACTS if n in contracts]
    return f"roles + governance ({len(present)} contracts)" if present else "no governance"
