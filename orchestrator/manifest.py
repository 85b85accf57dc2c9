"""`.devnet/manifest.json`: everything a user, a test or a service needs to find the devnet.

Built from the config as the models of services/common/manifest.py, the same
models every service reads the file with (schema: docs/PROTOCOL.md, "Manifest").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orchestrator import keys
from orchestrator.config import DevnetConfig, local_url
from services.common import manifest as models

MANIFEST_VERSION = 1


def _key(key: keys.Key) -> models.Key:
    return models.Key(address=key.address, private_key=key.private_key)


def chain_entries(config: DevnetConfig) -> list[models.Chain]:
    return [
        models.Chain(
            name=c.name,
            chain_id=c.chain_id,
            role=c.role,
            port=c.port,
            rpc_url=c.rpc_url,
            ws_url=c.ws_url,
            block_time=c.block_time,
        )
        for c in config.chains
    ]


def guardian_entries(config: DevnetConfig) -> models.Guardians:
    g = config.guardians
    members = [
        models.GuardianMember(index=i, **keys.guardian_key(i).as_dict(), url=local_url(port))
        for i, port in enumerate(g.ports)
    ]
    return models.Guardians(threshold=g.threshold, confirmations=g.confirmations, members=members)


def service_urls(config: DevnetConfig, solvers: bool = True) -> models.ServiceUrls:
    return models.ServiceUrls(
        api=local_url(config.api.port),
        relayer=local_url(config.relayer.port),
        guardians=[local_url(port) for port in config.guardians.ports],
        solvers=[local_url(port) for port in config.solvers.ports] if solvers else [],
    )


def intents_entry(config: DevnetConfig, contracts: dict[str, Any], services: bool) -> models.Intents | None:
    """The `intents` section once USDC and the settlers are deployed: token and the configured solvers."""
    if "USDC" not in contracts:
        return None
    from services.solver.keys import solver_key

    s = config.solvers
    addresses = [solver_key(i).address for i in range(s.count)]
    urls = [local_url(s.port(i)) for i in range(s.count)] if services else []
    return models.Intents.of(contracts["USDC"]["address"], addresses, s.fee_bps, urls=urls)


def build_manifest(
    config: DevnetConfig, contracts: dict[str, Any] | None = None, services: bool = True
) -> models.Manifest:
    """The manifest for `config`; `contracts` is the deployer's manifest section."""
    r = config.relayer
    return models.Manifest(
        version=MANIFEST_VERSION,
        chains=chain_entries(config),
        accounts=[_key(k) for k in keys.dev_accounts(config.mnemonic, config.accounts)],
        keys=models.Keys(deployer=_key(keys.deployer_key()), relayer=_key(keys.relayer_key())),
        guardians=guardian_entries(config),
        contracts={name: models.Contract(**entry) for name, entry in (contracts or {}).items()},
        services=service_urls(config, "USDC" in (contracts or {})) if services else models.ServiceUrls(),
        relayer=models.RelayerSettings(
            port=r.port,
            max_batch=r.max_batch,
            poll_interval=r.poll_interval,
            root_post_interval=r.root_post_interval,
            max_attempts=r.max_attempts,
            max_age=r.max_age,
            error_artifacts=list(r.error_artifacts),
        ),
        api=models.ApiSettings(port=config.api.port, event_streams=config.api.event_streams, reads=config.api.reads),
        intents=intents_entry(config, contracts or {}, services),
        state_dir=str(config.state.root),
    )


def write_manifest(path: Path, manifest: models.Manifest) -> None:
    models.save(manifest, path)


def load_manifest(path: Path) -> models.Manifest:
    return models.load(path)
