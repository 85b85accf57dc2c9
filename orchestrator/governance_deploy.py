"""Deploy cross-chain roles and ERA governance onto a running, deployed devnet.

    deployment = deploy_governance(manifest)                  # services.common.manifest.Manifest
    deployment.contracts                                      # {"CrosschainAccessManager": "0x..", ...}
    write_into_manifest(manifest.path, deployment)            # adds them (and "governance") to the file

Every contract goes through anvil's CREATE2 deployer with constructor arguments identical on
every chain, so each has one address everywhere (hub-only contracts have code only on the hub):

| name (manifest)          | contract                 | chains  | constructor                                   |
| CrosschainAccessManager  | CrosschainAccessManager  | all     | (deployer, hub chain id, gateway)             |
| RoleExecutor             | MetalayerRemoteExecutor  | rollups | (gateway, ERC-7930(hub, manager))             |
| EraVoteLock              | EraVoteLock              | hub     | (ERA, min lock duration, deployer)            |
| MetalayerGovernor        | MetalayerGovernor        | hub     | (EraVoteLock, delay, period, threshold, quorum)|
| GovernanceExecutor       | MetalayerRemoteExecutor  | rollups | (gateway, ERC-7930(hub, governor))            |
| RestrictedCounter        | RestrictedCounter        | all     | (manager)                                     |

Hand-over (docs/GOVERNANCE.md): hub gateway, registry, GuardianStaking and EraVoteLock are owned
by the governor; rollup gateways and registries by the GovernanceExecutor; the governor is an
ADMIN of the hub manager; each rollup manager's only admin is its RoleExecutor and it accepts
role changes only from it. The deployer keeps the ERA token (faucet minting, chain links) and,
unless `keep_bootstrap_admin=False`, ADMIN on the hub manager (fast `devnet roles grant`).
Every step reads state first, so a re-run sends nothing new.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address
from web3 import Web3

from orchestrator.build.compiler import Artifact, compile_contracts
from orchestrator.paths import ARTIFACTS_DIR, REPO_ROOT
from services.common import nonces
from services.common.manifest import Key, Manifest, merge
from services.governance.roles import ADMIN_ROLE, DAPP_OPERATOR_ROLE, PUBLIC_ROLE, ROLE_NAMES  # noqa: F401
from services.governance.tx import TxSender, create2_address
from services.protocol.erc7930 import encode_evm

SALT = keccak(text="metalayer-devnet/governance/v1")
ARTIFACT_OF = {"RoleExecutor": "MetalayerRemoteExecutor", "GovernanceExecutor": "MetalayerRemoteExecutor"}
HUB_ONLY = ("EraVoteLock", "MetalayerGovernor")
ROLLUP_ONLY = ("RoleExecutor", "GovernanceExecutor")


@dataclass(frozen=True)
class GovernanceParams:
    """Devnet-fast defaults; the Governor's clock is ERA's (timestamps: delay and period in seconds)."""

    voting_delay: int = 1  # seconds between propose and the vote opening (the snapshot)
    voting_period: int = 600  # seconds the vote stays open (10 min)
    proposal_threshold: int = 0  # votes needed to propose
    quorum_percent: int = 4  # of the votes supply (ERA supply + locked ERA) at the snapshot
    min_lock_duration: int = 7 * 24 * 3600  # seconds a lock must run to count twice
    keep_bootstrap_admin: bool = True  # the deployer stays ADMIN on the hub manager

    @classmethod
    def from_table(cls, table: dict[str, Any]) -> GovernanceParams:
        """From a devnet.toml `[governance]` table; unknown keys or wrong types raise ValueError."""
        known = {f.name: f.type for f in fields(cls)}
        unknown = sorted(set(table) - set(known))
        if unknown:
            raise ValueError(f"[governance]: unknown key(s) {', '.join(unknown)} (known: {', '.join(known)})")
        for key, value in table.items():
            want = bool if key == "keep_bootstrap_admin" else int
            if type(value) is not want or (want is int and value < 0):
                raise ValueError(f"[governance].{key}: expected a non-negative {want.__name__}, got {value!r}")
        params = cls(**table)
        if params.voting_period == 0 or params.quorum_percent > 100:
            raise ValueError("[governance]: voting_period must be >= 1 and quorum_percent <= 100")
        return params


@dataclass
class GovernanceDeployment:
    contracts: dict[str, str]
    params: GovernanceParams
    transactions: dict[str, int] = field(default_factory=dict)  # chain name -> transactions sent

    def manifest_contracts(self) -> dict[str, dict[str, str]]:
        rel = ARTIFACTS_DIR.relative_to(REPO_ROOT).as_posix()
        return {
            name: {"address": addr, "artifact": f"{rel}/{ARTIFACT_OF.get(name, name)}.json"}
            for name, addr in self.contracts.items()
        }

    def manifest_section(self) -> dict[str, Any]:
        """The manifest's "governance" entry: parameters and role names."""
        return {
            **asdict(self.params),
            "roles": dict(ROLE_NAMES),
            "hub_only": list(HUB_ONLY),
            "rollup_only": list(ROLLUP_ONLY),
        }


def deployer_key(manifest: Manifest) -> Key:
    """The bootstrap key (owner of everything before the hand-over)."""
    if manifest.keys.deployer is None:
        raise ValueError("the manifest has no deployer key")
    return manifest.keys.deployer


def _init_code(artifact: Artifact, types: list[str], args: list[Any]) -> bytes:
    return bytes.fromhex(artifact.bytecode[2:]) + abi_encode(types, args)


def plan(manifest: Manifest, artifacts: dict[str, Artifact], params: GovernanceParams) -> dict[str, bytes]:
    """name -> CREATE2 init code (identical on every chain)."""
    hub_id = manifest.hub.chain_id
    gateway = manifest.address("MetalayerGateway")
    deployer = deployer_key(manifest).address
    codes: dict[str, bytes] = {}
    codes["CrosschainAccessManager"] = _init_code(
        artifacts["CrosschainAccessManager"], ["address", "uint256", "address"], [deployer, hub_id, gateway]
    )
    manager = create2_address(codes["CrosschainAccessManager"], SALT)
    executor = artifacts["MetalayerRemoteExecutor"]
    codes["RoleExecutor"] = _init_code(executor, ["address", "bytes"], [gateway, encode_evm(hub_id, manager)])
    codes["EraVoteLock"] = _init_code(
        artifacts["EraVoteLock"],
        ["address", "uint64", "address"],
        [manifest.address("EraToken"), params.min_lock_duration, deployer],
    )
    lock = create2_address(codes["EraVoteLock"], SALT)
    codes["MetalayerGovernor"] = _init_code(
        artifacts["MetalayerGovernor"],
        ["address", "uint48", "uint32", "uint256", "uint256"],
        [lock, params.voting_delay, params.voting_period, params.proposal_threshold, params.quorum_percent],
    )
    governor = create2_address(codes["MetalayerGovernor"], SALT)
    codes["GovernanceExecutor"] = _init_code(executor, ["address", "bytes"], [gateway, encode_evm(hub_id, governor)])
    codes["RestrictedCounter"] = _init_code(artifacts["RestrictedCounter"], ["address"], [manager])
    return codes


def addresses(codes: dict[str, bytes]) -> dict[str, str]:
    return {name: create2_address(code, SALT) for name, code in codes.items()}


class _ChainSetup:
    """Deploys and hands over on one chain, reading state before each step."""

    def __init__(
        self,
        manifest: Manifest,
        chain: Any,
        artifacts: dict[str, Artifact],
        codes: dict[str, bytes],
        params: GovernanceParams,
        log: Callable[[str], None],
    ) -> None:
        self.manifest, self.chain, self.artifacts, self.codes, self.params, self.log = (
            manifest,
            chain,
            artifacts,
            codes,
            params,
            log,
        )
        self.w3 = Web3(Web3.HTTPProvider(chain.rpc_url, request_kwargs={"timeout": 30}))
        self.tx = TxSender(self.w3, deployer_key(manifest).private_key, nonces.lock_dir(manifest))
        self.addr = addresses(codes)
        self.is_hub = chain.role == "hub"
        self.sent = 0

    def c(self, name: str, artifact: str | None = None) -> Any:
        address = self.addr.get(name) or self.manifest.address(name)
        return self.w3.eth.contract(
            address=to_checksum_address(address), abi=self.artifacts[artifact or ARTIFACT_OF.get(name, name)].abi
        )

    def send(self, fn: Any, label: str) -> None:
        self.tx.send(fn, f"{self.chain.name}: {label}")
        self.sent += 1

    def run(self) -> int:
        names = [n for n in self.codes if n not in (ROLLUP_ONLY if self.is_hub else HUB_ONLY)]
        for name in names:
            if not self.w3.eth.get_code(to_checksum_address(self.addr[name])):
                self.tx.create2(self.codes[name], SALT, f"{self.chain.name}: {name}")
                self.sent += 1
        self._dapp_roles()
        if self.is_hub:
            self._hub_handover()
        else:
            self._rollup_handover()
        self.log(f"governance: {self.chain.name} ready ({self.sent} transactions)")
        return self.sent

    def _dapp_roles(self) -> None:
        """Map the example's restricted function to DAPP_OPERATOR, locally, before mirroring starts."""
        manager, dapp = self.c("CrosschainAccessManager"), self.addr["RestrictedCounter"]
        selector = bytes.fromhex(self.c("RestrictedCounter").functions.increment()._encode_transaction_data()[2:10])
        if manager.functions.getTargetFunctionRole(dapp, selector).call() != DAPP_OPERATOR_ROLE:
            self.send(manager.functions.setTargetFunctionRole(dapp, [selector], DAPP_OPERATOR_ROLE), "map increment")
            self.send(manager.functions.labelRole(DAPP_OPERATOR_ROLE, "DAPP_OPERATOR"), "label DAPP_OPERATOR")

    def _hub_handover(self) -> None:
        manager, governor = self.c("CrosschainAccessManager"), self.addr["MetalayerGovernor"]
        gateway = self.c("MetalayerGateway")
        deployer = self.tx.address
        if not manager.functions.hasRole(ADMIN_ROLE, governor).call()[0]:
            self.send(manager.functions.grantRole(ADMIN_ROLE, governor, 0), "governor is manager ADMIN")
        for exempt in ("CrosschainAccessManager", "MetalayerGovernor"):  # they send the mirror/proposal messages
            if not gateway.functions.feeExempt(self.addr[exempt]).call():
                self.send(gateway.functions.setFeeExempt(self.addr[exempt], True), f"fee-exempt {exempt}")
        rollups = [c.chain_id for c in self.manifest.chains if c.role != "hub"]
        if manager.functions.roleExecutor().call() != self.addr["RoleExecutor"]:
            self.send(manager.functions.configureMirror(rollups, self.addr["RoleExecutor"]), "configure mirror")
        if not self.params.keep_bootstrap_admin and manager.functions.hasRole(ADMIN_ROLE, deployer).call()[0]:
            self.send(manager.functions.renounceRole(ADMIN_ROLE, deployer), "deployer renounces ADMIN")
        for name in ("EraVoteLock", "MetalayerGateway", "StateRootRegistry", "GuardianStaking"):
            self._transfer(name, governor)

    def _rollup_handover(self) -> None:
        manager, executor = self.c("CrosschainAccessManager"), self.addr["RoleExecutor"]
        deployer = self.tx.address
        if not manager.functions.hasRole(ADMIN_ROLE, executor).call()[0]:
            self.send(manager.functions.grantRole(ADMIN_ROLE, executor, 0), "RoleExecutor is manager ADMIN")
        if manager.functions.roleExecutor().call() != executor:
            self.send(manager.functions.configureMirror([], executor), "lock manager to RoleExecutor")
        if manager.functions.hasRole(ADMIN_ROLE, deployer).call()[0]:
            self.send(manager.functions.renounceRole(ADMIN_ROLE, deployer), "deployer renounces ADMIN")
        for name in ("MetalayerGateway", "StateRootRegistry"):
            self._transfer(name, self.addr["GovernanceExecutor"])

    def _transfer(self, name: str, new_owner: str) -> None:
        contract = self.c(name, name)
        owner = contract.functions.owner().call()
        if owner.lower() == self.tx.address.lower():
            self.send(contract.functions.transferOwnership(new_owner), f"{name} owned by governance")
        elif owner.lower() != new_owner.lower():
            self.log(f"governance: {self.chain.name}: {name} is owned by {owner}, left as is")


def deploy_governance(
    manifest: Manifest,
    params: GovernanceParams = GovernanceParams(),
    *,
    artifacts: dict[str, Artifact] | None = None,
    log: Callable[[str], None] = lambda _m: None,
) -> GovernanceDeployment:
    """Deploy roles + governance on every chain of a running devnet whose core contracts are deployed."""
    artifacts = artifacts or compile_contracts().artifacts
    codes = plan(manifest, artifacts, params)
    setups = [_ChainSetup(manifest, chain, artifacts, codes, params, log) for chain in manifest.chains]
    # rollups first: their managers must be locked to the RoleExecutor before the hub starts mirroring
    rollups = [s for s in setups if not s.is_hub]
    with ThreadPoolExecutor(max_workers=max(1, len(rollups))) as pool:
        sent = dict(zip((s.chain.name for s in rollups), pool.map(_ChainSetup.run, rollups), strict=True))
    for hub in (s for s in setups if s.is_hub):
        sent[hub.chain.name] = hub.run()
    return GovernanceDeployment(addresses(codes), params, sent)


def write_into_manifest(path: str | Path, deployment: GovernanceDeployment) -> None:
    """Add the deployment's contracts and "governance" section to the manifest file (atomic replace)."""
    merge(path, deployment.manifest_contracts(), "governance", deployment.manifest_section())
