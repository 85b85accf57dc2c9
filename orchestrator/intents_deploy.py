"""Deploy the intents contracts (USDC, OriginSettler, DestinationSettler) onto a running devnet.

    deployment = deploy_intents(manifest)          # chains and core contracts must already be deployed
    deployment.contracts                           # {"USDC": "0x..", "OriginSettler": ..., "DestinationSettler": ...}
    add_to_manifest(manifest_path, deployment)     # merges "contracts" and writes the "intents" section

Every contract goes through anvil's CREATE2 deployer with its own salt and constructor arguments that
are identical on every chain, so each has one address everywhere. The deployer key (manifest
`keys.deployer`, owner of ERA and USDC) sends everything. Set-up per chain, only where missing:
USDC linked to its twin on every other chain over the MetalayerGateway; `dev_usdc` USDC to each dev
account and `solver_usdc` to each solver key (services/solver/keys.py) plus ETH for its gas; a
prepaid gateway fee balance (ERA) for USDC (canonical route) and the DestinationSettler (settlement
messages). Re-running on a deployed devnet sends nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import function_signature_to_4byte_selector, keccak

from services.common import manifest as manifest_models
from services.common.tx import Signer
from services.protocol import encode_evm_chain, load_artifact
from services.protocol.create2 import CREATE2_FACTORY, create2_address
from services.solver.keys import solver_key

SALT = keccak(text="metalayer-devnet/intents/v1")
ETHER = 10**18
USDC_UNIT = 10**6
CONTRACTS = ("USDC", "DestinationSettler", "OriginSettler")
MAX_FEE, PRIORITY_FEE = 100 * 10**9, 10**9


class IntentsDeployError(RuntimeError):
    """A deployment transaction failed; the message names the chain and the step."""


@dataclass(frozen=True)
class IntentsParams:
    solvers: int = 2  # solver keys funded (index 0..solvers-1)
    solver_fee_bps: int = 5  # advertised in the manifest; each solver may override
    dev_usdc: int = 1_000_000 * USDC_UNIT  # per dev account, per chain
    solver_usdc: int = 100_000 * USDC_UNIT  # per solver, per chain
    solver_eth: int = 1_000 * ETHER
    fee_deposit: int = 1_000 * ETHER  # ERA prepaid for USDC and for the DestinationSettler
    settlement_grace: int = 60  # seconds after the fill deadline before a refund


@dataclass
class IntentsDeployment:
    contracts: dict[str, str]
    solvers: list[str]  # solver i's address
    params: IntentsParams
    transactions: dict[str, int] = field(default_factory=dict)  # chain name -> sent
    seconds: float = 0.0

    def contracts_section(self) -> dict[str, dict[str, str]]:
        return {n: {"address": a, "artifact": f"contracts/out/{n}.json"} for n, a in self.contracts.items()}

    def intents_section(self) -> dict[str, Any]:
        section = manifest_models.Intents.of(
            self.contracts["USDC"], self.solvers, self.params.solver_fee_bps, self.params.settlement_grace
        )
        return section.model_dump(mode="json")


def _selector_call(signature: str, types: Sequence[str] = (), args: Sequence[Any] = ()) -> bytes:
    return function_signature_to_4byte_selector(signature) + abi_encode(list(types), list(args))


def _init_code(name: str, types: list[str], args: list[Any]) -> bytes:
    return bytes.fromhex(load_artifact(name)["bytecode"][2:]) + abi_encode(types, args)


def plan_addresses(gateway: str, grace: int) -> tuple[dict[str, str], dict[str, bytes]]:
    owner_free = {"DestinationSettler": _init_code("DestinationSettler", ["address"], [gateway])}
    dest = create2_address(owner_free["DestinationSettler"], SALT)
    codes = {
        **owner_free,
        "OriginSettler": _init_code("OriginSettler", ["address", "address", "uint256"], [gateway, dest, grace]),
    }
    return {n: create2_address(c, SALT) for n, c in codes.items()}, codes


class _Chain:
    """One chain: JSON-RPC over HTTP, locally signed transactions from the deployer key."""

    def __init__(self, chain: manifest_models.Chain, signer: Signer):
        self.chain = chain
        self.signer = signer
        self.http = httpx.Client(timeout=30)
        self.txs: list[tuple[str, str, bytes, int]] = []  # label, to, data, gas

    def rpc(self, method: str, params: list[Any]) -> Any:
        doc = self.http.post(
            self.chain.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        ).json()
        if "error" in doc:
            raise IntentsDeployError(f"{self.chain.name}: {method}: {doc['error'].get('message')}")
        return doc["result"]

    def call(self, to: str, sig: str, types: Sequence[str], args: Sequence[Any], out: Sequence[str]) -> tuple[Any, ...]:
        raw = self.rpc("eth_call", [{"to": to, "data": "0x" + _selector_call(sig, types, args).hex()}, "latest"])
        return abi_decode(list(out), bytes.fromhex(raw[2:]))

    def has_code(self, address: str) -> bool:
        return self.rpc("eth_getCode", [address, "latest"]) not in (None, "0x")

    def add(self, label: str, to: str, data: bytes, gas: int = 500_000) -> None:
        self.txs.append((label, to, data, gas))

    def send_all(self) -> int:
        nonce = int(self.rpc("eth_getTransactionCount", [self.signer.address, "pending"]), 16)
        hashes = []
        for i, (label, to, data, gas) in enumerate(self.txs):
            raw, tx_hash = self.signer.sign_1559(self.chain.chain_id, nonce + i, to, data, gas, MAX_FEE, PRIORITY_FEE)
            self.rpc("eth_sendRawTransaction", ["0x" + raw.hex()])
            hashes.append((label, tx_hash))
        deadline = time.monotonic() + 60
        for label, tx_hash in hashes:
            while (receipt := self.rpc("eth_getTransactionReceipt", [tx_hash])) is None:
                if time.monotonic() > deadline:
                    raise IntentsDeployError(f"{self.chain.name}: no receipt for {label}")
                time.sleep(0.02)
            if int(receipt["status"], 16) != 1:
                raise IntentsDeployError(f"{self.chain.name}: {label} reverted (tx {tx_hash})")
        return len(self.txs)


def _plan_chain(
    c: _Chain,
    m: manifest_models.Manifest,
    addrs: dict[str, str],
    codes: dict[str, bytes],
    params: IntentsParams,
    solvers: list[str],
) -> None:
    usdc, dest = addrs["USDC"], addrs["DestinationSettler"]
    gateway, era = m.address("MetalayerGateway"), m.address("EraToken")
    owner = c.signer.address
    fresh_usdc = not c.has_code(usdc)
    for name in CONTRACTS:
        if not c.has_code(addrs[name]):
            c.add(f"deploy {name}", CREATE2_FACTORY, SALT + codes[name], 6_000_000)
    for other in m.chains:
        if other.chain_id == c.chain.chain_id:
            continue
        linked = (
            not fresh_usdc
            and int(
                c.call(usdc, "getLink(bytes)", ["bytes"], [encode_evm_chain(other.chain_id)], ["address", "bytes"])[0],
                16,
            )
            != 0
        )
        if not linked:
            c.add(
                f"usdc.linkChain({other.chain_id})",
                usdc,
                _selector_call("linkChain(address,uint256)", ["address", "uint256"], [gateway, other.chain_id]),
                250_000,
            )
    if fresh_usdc:  # funding goes with the first deployment only: balances may move afterwards
        devs = [a.address for a in m.accounts]
        c.add(
            "usdc.mintBatch(dev accounts)",
            usdc,
            _selector_call("mintBatch(address[],uint256)", ["address[]", "uint256"], [devs, params.dev_usdc]),
            100_000 + 60_000 * len(devs),
        )
        if solvers:
            c.add(
                "usdc.mintBatch(solvers)",
                usdc,
                _selector_call("mintBatch(address[],uint256)", ["address[]", "uint256"], [solvers, params.solver_usdc]),
                100_000 + 60_000 * len(solvers),
            )
    payers = [
        a
        for a in (usdc, dest)
        if fresh_usdc or not c.call(gateway, "feeBalance(address)", ["address"], [a], ["uint256"])[0]
    ]
    if payers:
        total = params.fee_deposit * len(payers)
        c.add(
            "era.mint(deployer)",
            era,
            _selector_call("mint(address,uint256)", ["address", "uint256"], [owner, total]),
            150_000,
        )
        c.add(
            "era.approve(gateway)",
            era,
            _selector_call("approve(address,uint256)", ["address", "uint256"], [gateway, total]),
            100_000,
        )
        c.add(
            "gateway.depositFees(USDC, DestinationSettler)",
            gateway,
            _selector_call(
                "depositFees(address[],uint256[])",
                ["address[]", "uint256[]"],
                [payers, [params.fee_deposit] * len(payers)],
            ),
            200_000,
        )


def deploy_intents(
    manifest: manifest_models.Manifest | str | Path,
    params: IntentsParams | None = None,
    log: Callable[[str], None] = print,
) -> IntentsDeployment:
    """Deploy (or reuse) the intents contracts on every chain of a running devnet; returns the addresses."""
    started = time.perf_counter()
    params = params or IntentsParams()
    m = manifest if isinstance(manifest, manifest_models.Manifest) else manifest_models.load(manifest)
    if m.keys.deployer is None:
        raise IntentsDeployError("the manifest has no deployer key")
    signer = Signer(m.keys.deployer.private_key)
    gateway = m.address("MetalayerGateway")
    addrs, codes = plan_addresses(gateway, params.settlement_grace)
    codes["USDC"] = _init_code("USDC", ["address"], [signer.address])
    addrs["USDC"] = create2_address(codes["USDC"], SALT)
    solvers = [solver_key(i).address for i in range(params.solvers)]

    def one(chain: manifest_models.Chain) -> tuple[str, int]:
        c = _Chain(chain, signer)
        try:
            c.rpc("anvil_setBalance", [signer.address, hex(10**6 * ETHER)])
            for s in solvers:
                c.rpc("anvil_setBalance", [s, hex(params.solver_eth)])
            _plan_chain(c, m, addrs, codes, params, solvers)
            sent = c.send_all()
        finally:
            c.http.close()
        log(f"intents {chain.name}: {sent} transactions" if sent else f"intents {chain.name}: already deployed")
        return chain.name, sent

    with ThreadPoolExecutor(max_workers=len(m.chains)) as pool:
        sent = dict(pool.map(one, m.chains))
    contracts = {n: addrs[n] for n in CONTRACTS}
    return IntentsDeployment(contracts, solvers, params, sent, time.perf_counter() - started)


def deploy_for_config(config: Any, core: dict[str, Any], log: Callable[[str], None] = print) -> dict[str, Any]:
    """What `devnet up` and `devnet deploy` run after the core contracts: the intents contracts with
    `[solvers]` funded; returns their manifest "contracts" entries. `config` is a DevnetConfig."""
    from orchestrator.manifest import build_manifest

    params = IntentsParams(solvers=config.solvers.count, solver_fee_bps=config.solvers.fee_bps)
    return deploy_intents(build_manifest(config, core, services=False), params, log).contracts_section()


def add_to_manifest(path: str | Path, deployment: IntentsDeployment) -> None:
    """Merge the deployment into the manifest file (contracts, plus the "intents" section), atomically."""
    manifest_models.merge(path, deployment.contracts_section(), "intents", deployment.intents_section())
