"""The devnet manifest (`.devnet/manifest.json`, docs/PROTOCOL.md) as pydantic models.

m = load(path)
m.chain(901).ws_url, m.chain("rollup-a").rpc_url, m.hub
m.address("MetalayerGateway"), m.abi("MetalayerGateway")
m.guardians.members[0].url, m.keys.relayer.private_key
m.run_dir   -> <state_dir>/run (service databases)
save(m, path)   # what the orchestrator writes: the same models, so writer and readers agree
m.intents.token.address, m.intents.solvers[0].fee_bps   (None before the intents contracts exist)
m.instance_id  -> "0x.." (32 bytes) the attestation domain's salt, None before contracts are deployed
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from services.common.paths import ARTIFACTS_DIR, REPO_ROOT


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class Chain(_Model):
    name: str
    chain_id: int
    role: str = "rollup"
    port: int
    rpc_url: str
    ws_url: str
    block_time: float | None = None


class Key(_Model):
    address: str
    private_key: str


class Keys(_Model):
    deployer: Key | None = None
    relayer: Key


class GuardianMember(_Model):
    index: int
    address: str
    private_key: str
    url: str

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1].split("/")[0])


class Guardians(_Model):
    threshold: int
    confirmations: int = 0
    members: list[GuardianMember]


class Contract(_Model):
    address: str
    artifact: str | None = None


class RelayerSettings(_Model):
    port: int = 9200
    max_batch: int = 20
    poll_interval: float = 0.05
    root_post_interval: float = 0.0
    max_attempts: int = 8  # failed deliveries before a message is finally `failed`
    max_age: float = 600.0  # seconds from the first failed delivery to `failed`; 0 = no limit
    error_artifacts: list[str] = Field(default_factory=list)  # extra artifact folders for revert reasons


class ApiSettings(_Model):
    port: int = 8000
    event_streams: int = 16  # [api] event_streams: GET /v1/events streams open at once
    reads: int = 32  # [api] reads: GET /v1/read calls in progress at once


class ServiceUrls(_Model):
    """Where the services answer; empty when the devnet runs without services."""

    api: str | None = None
    relayer: str | None = None
    guardians: list[str] = Field(default_factory=list)
    solvers: list[str] = Field(default_factory=list)


class IntentToken(_Model):
    symbol: str = "USDC"
    decimals: int = 6
    address: str


class SolverEntry(_Model):
    index: int
    address: str
    fee_bps: int = 5
    url: str | None = None  # its /health; None when the devnet does not run it


class Intents(_Model):
    """The intents engine (docs/INTENTS.md): the token, the settlement grace and the solvers."""

    token: IntentToken
    settlement_grace: int = 60
    solvers: list[SolverEntry] = Field(default_factory=list)

    @classmethod
    def of(
        cls, token: str, solvers: Sequence[str], fee_bps: int, settlement_grace: int = 60, urls: Sequence[str] = ()
    ) -> Intents:
        """The section for USDC at `token` and solver i at solvers[i] (its /health at urls[i], if run)."""
        entries = [
            SolverEntry(index=i, address=a, fee_bps=fee_bps, url=urls[i] if i < len(urls) else None)
            for i, a in enumerate(solvers)
        ]
        return cls(token=IntentToken(address=token), settlement_grace=settlement_grace, solvers=entries)


class Manifest(_Model):
    model_config = ConfigDict(extra="allow", frozen=False)

    version: int = 1
    chains: list[Chain]
    accounts: list[Key] = Field(default_factory=list)
    keys: Keys
    guardians: Guardians
    contracts: dict[str, Contract] = Field(default_factory=dict)
    services: ServiceUrls = Field(default_factory=ServiceUrls)
    relayer: RelayerSettings = Field(default_factory=RelayerSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    intents: Intents | None = None  # None until the intents contracts are deployed
    state_dir: str = ".devnet"
    # the devnet instance id (0x + 64 hex), the salt of the attestation EIP-712 domain; fresh on every `up`
    instance_id: str | None = None
    path: str | None = None  # where it was loaded from (not in the file)

    @property
    def hub(self) -> Chain:
        return next(c for c in self.chains if c.role == "hub")

    def chain(self, key: int | str) -> Chain:
        for c in self.chains:
            if c.chain_id == key or c.name == key or str(c.chain_id) == str(key):
                return c
        raise KeyError(f"unknown chain {key!r} (known: {', '.join(c.name for c in self.chains)})")

    def has_chain(self, key: int | str) -> bool:
        try:
            self.chain(key)
            return True
        except KeyError:
            return False

    @property
    def run_dir(self) -> Path:
        base = Path(self.state_dir)
        if not base.is_absolute() and self.path:
            base = Path(self.path).resolve().parent.parent / base
        return base / "run"

    def address(self, contract: str) -> str:
        try:
            return self.contracts[contract].address
        except KeyError:
            raise KeyError(
                f"contract {contract} is not in the manifest (deployed: {', '.join(self.contracts)})"
            ) from None

    def abi(self, contract: str) -> list[dict[str, Any]]:
        return load_abi(contract, self.contracts[contract].artifact if contract in self.contracts else None)

    @cached_property
    def guardian_urls(self) -> list[str]:
        return [g.url for g in self.guardians.members]


@cache
def load_abi(contract: str, artifact: str | None = None) -> list[dict[str, Any]]:
    candidates = []
    if artifact:
        p = Path(artifact)
        candidates.append(p if p.is_absolute() else REPO_ROOT / p)
    candidates.append(ARTIFACTS_DIR / f"{contract}.json")
    for p in candidates:
        if p.is_file():
            return json.loads(p.read_text())["abi"]
    raise FileNotFoundError(f"no compiled artifact for {contract} (looked in {', '.join(map(str, candidates))})")


def load(path: str | Path) -> Manifest:
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"no manifest at {path}: is the devnet up? (`devnet up`)") from None
    doc["path"] = str(path.resolve())
    return Manifest.model_validate(doc)


def save(manifest: Manifest, path: str | Path) -> None:
    """Write atomically (a reader never sees half a file); `path` itself is not stored."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _replace(path, manifest.model_dump_json(indent=2, exclude={"path"}), ".tmp")


def merge(path: str | Path, contracts: dict[str, Any], section: str, value: Any) -> None:
    """Add `contracts` and the top-level `section` to the manifest file, atomically.

    Plain JSON on purpose: it keeps whatever else the file holds, whichever orchestrator wrote it."""
    path = Path(path)
    doc = json.loads(path.read_text())
    doc.setdefault("contracts", {}).update(contracts)
    doc[section] = value
    _replace(path, json.dumps(doc, indent=2), f".{section}.tmp")


def _replace(path: Path, text: str, suffix: str) -> None:
    tmp = path.with_suffix(suffix)
    tmp.write_text(text)
    os.replace(tmp, path)  # a reader never sees half a file
