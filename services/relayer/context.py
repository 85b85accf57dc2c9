"""What every relayer stage shares: chains, queue, contract ABIs, guardian sets, counters.

Built once by the service and handed to each stage, so stages depend on this module and
never on the service that wires them.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.common.abi import Abi, describe_error
from services.common.manifest import Manifest
from services.common.tx import Signer
from services.relayer.chain import ChainLink
from services.relayer.guardians import GuardianPool
from services.relayer.model import Counters, GuardianSet
from services.relayer.queue import Queue

log = logging.getLogger("relayer")


def project_errors(manifest: Manifest) -> Abi:
    """Custom errors of every compiled contract of the project, so a recipient's revert reads
    `Refused(42)` rather than hex when its contract is one of ours (examples, test helpers)."""
    dirs = {Path(c.artifact).parent for c in manifest.contracts.values() if c.artifact}
    entries: list[dict[str, Any]] = []
    for d in dirs:
        base = d if d.is_absolute() else Path(__file__).resolve().parents[2] / d
        for path in sorted(base.glob("*.json")):
            try:
                entries += [e for e in json.loads(path.read_text()).get("abi", []) if e.get("type") == "error"]
            except (OSError, ValueError):
                continue
    return Abi(entries)


@dataclass
class Context:
    manifest: Manifest
    queue: Queue
    signer: Signer
    links: dict[int, ChainLink]
    guardians: GuardianPool
    gw_abi: Abi
    reg_abi: Abi
    staking_abi: Abi | None
    error_abis: list[Abi]
    gateway: str
    registry: str
    staking: str | None
    hub_id: int
    sets: dict[int, GuardianSet] = field(default_factory=dict)
    counters: Counters = field(default_factory=Counters)

    @classmethod
    def build(cls, manifest: Manifest, queue: Queue) -> Context:
        signer = Signer(manifest.keys.relayer.private_key)
        gw_abi = Abi(manifest.abi("MetalayerGateway"))
        reg_abi = Abi(manifest.abi("StateRootRegistry"))
        staking_abi = Abi(manifest.abi("GuardianStaking")) if "GuardianStaking" in manifest.contracts else None
        error_abis = [a for a in (gw_abi, reg_abi, staking_abi) if a is not None]
        error_abis.append(project_errors(manifest))
        return cls(
            manifest=manifest,
            queue=queue,
            signer=signer,
            links={c.chain_id: ChainLink(c, signer) for c in manifest.chains},
            guardians=GuardianPool([g.url for g in manifest.guardians.members]),
            gw_abi=gw_abi,
            reg_abi=reg_abi,
            staking_abi=staking_abi,
            error_abis=error_abis,
            gateway=manifest.address("MetalayerGateway"),
            registry=manifest.address("StateRootRegistry"),
            staking=manifest.contracts["GuardianStaking"].address if staking_abi else None,
            hub_id=manifest.hub.chain_id,
        )

    def describe(self, revert_data: str | bytes | None) -> str:
        return describe_error(revert_data, self.error_abis)

    async def load_set(self, chain_id: int) -> GuardianSet:
        """Read the destination registry's current guardian set and threshold."""
        link = self.links[chain_id]
        members = self.reg_abi.decode_output(
            "getGuardians", await link.call(self.registry, self.reg_abi.encode("getGuardians"))
        )[0]
        threshold = self.reg_abi.decode_output(
            "threshold", await link.call(self.registry, self.reg_abi.encode("threshold"))
        )[0]
        self.sets[chain_id] = GuardianSet({a.lower() for a in members}, int(threshold))
        return self.sets[chain_id]
