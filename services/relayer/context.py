"""What every relayer stage shares: chains, queue, contract ABIs, guardian sets, counters.

Built once by the service and handed to each stage, so stages depend on this module and
never on the service that wires them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.common import attest
from services.common.abi import Abi
from services.common.chain import ChainLink
from services.common.errors import ErrorDecoder
from services.common.manifest import Manifest
from services.common.tx import Signer
from services.relayer.backoff import RetryCap
from services.relayer.guardians import GuardianPool
from services.relayer.model import MESSAGE_FIELDS, Counters, GuardianSet
from services.relayer.proving import ProofPrefetch
from services.relayer.queue import Queue

log = logging.getLogger("relayer")


def artifact_dirs(manifest: Manifest) -> list[str]:
    """Folders of the manifest's compiled contracts plus the user's configured extra folders."""
    dirs = {str(Path(c.artifact).parent) for c in manifest.contracts.values() if c.artifact}
    return sorted(dirs) + list(manifest.relayer.error_artifacts)


def message_fields(gateway_abi: list[dict[str, Any]]) -> tuple[str, ...]:
    """The component names of the gateway's Message struct, from its ABI."""
    for entry in gateway_abi:
        if entry.get("type") == "function" and entry.get("name") == "attestAndDeliverBatch":
            for param in entry.get("inputs", []):
                if param.get("name") == "messages":
                    return tuple(c["name"] for c in param["components"])
    return MESSAGE_FIELDS


def instance_id(manifest: Manifest) -> str:
    """The attestation domain's salt (docs/PROTOCOL.md); zero before a deployment bound one."""
    return manifest.instance_id or "0x" + "00" * 32


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
    errors: ErrorDecoder
    retry_cap: RetryCap
    gateway: str
    registry: str
    staking: str | None
    hub_id: int
    message_fields: tuple[str, ...] = MESSAGE_FIELDS
    sets: dict[int, GuardianSet] = field(default_factory=dict)
    # (source chain, block) whose stored root some registry holds wrongly (watchtower): never attested again
    suspect_blocks: set[tuple[int, int]] = field(default_factory=set)
    counters: Counters = field(default_factory=Counters)
    prefetch: ProofPrefetch = field(default_factory=ProofPrefetch)  # proofs asked for at scan time

    @property
    def instance_id(self) -> str:
        return instance_id(self.manifest)

    @classmethod
    def build(cls, manifest: Manifest, queue: Queue) -> Context:
        signer = Signer(manifest.keys.relayer.private_key)
        gw_raw = manifest.abi("MetalayerGateway")
        gw_abi = Abi(gw_raw)
        reg_abi = Abi(manifest.abi("StateRootRegistry"))
        staking_abi = Abi(manifest.abi("GuardianStaking")) if "GuardianStaking" in manifest.contracts else None
        errors = ErrorDecoder(
            [a for a in (gw_abi, reg_abi, staking_abi) if a is not None], extra_dirs=artifact_dirs(manifest)
        )
        return cls(
            manifest=manifest,
            queue=queue,
            signer=signer,
            links={c.chain_id: ChainLink(c, signer) for c in manifest.chains},
            guardians=GuardianPool([g.url for g in manifest.guardians.members], attest.Domain(instance_id(manifest))),
            gw_abi=gw_abi,
            reg_abi=reg_abi,
            staking_abi=staking_abi,
            errors=errors,
            retry_cap=RetryCap(manifest.relayer.max_attempts, manifest.relayer.max_age),
            message_fields=message_fields(gw_raw),
            gateway=manifest.address("MetalayerGateway"),
            registry=manifest.address("StateRootRegistry"),
            staking=manifest.contracts["GuardianStaking"].address if staking_abi else None,
            hub_id=manifest.hub.chain_id,
        )

    def describe(self, revert_data: str | bytes | None) -> str:
        return self.errors.describe(revert_data)

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
