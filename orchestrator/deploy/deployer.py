"""Deploy the Metalayer contracts to every chain of a devnet, fast and idempotently.

    result = deploy(config, log=print)      # chains must already run (automine)
    result.contracts                        # {"StateRootRegistry": "0x..", ...} same address on every chain
    result.manifest_section()               # the manifest's "contracts" entry (docs/PROTOCOL.md)

Every contract goes through anvil's CREATE2 deployer with a fixed salt (addresses.py), so
addresses are the same everywhere and across runs. All transactions come from the dedicated
deployer key (funded with anvil_setBalance); dev accounts are never used as senders and keep
nonce 0.

Per chain the planner (plan.py) reads the current state first and lists only the missing
transactions; re-running on a deployed devnet sends nothing. Gas is estimated, never a
constant, so no topology size can outgrow a limit: the transactions go out in rounds, each
round the longest run of planned transactions whose estimates succeed against the current
state (a transaction that needs an earlier one, like a deposit after its approval, fails
its estimate and opens the next round). A round's transactions are sent back to back with
consecutive nonces and its receipts checked before the next round. Chains run in parallel.

What gets set up (values in `DeployParams`):
- StateRootRegistry: tracks every other chain, guardian set = keys.guardian_key(i) for
  i < guardians.count with guardians.threshold, hub = (gateway, hub chain id, GuardianStaking).
- MetalayerGateway: registry, ERA as fee token, fee config (relayer = keys.relayer_key(),
  operator = deployer), GuardianStaking fee-exempt (ERA transfers pay their fee).
- EraToken: linked to its twin on every other chain; each dev account gets `dev_era` ERA and a
  prepaid gateway fee balance of `dev_fee_deposit`; PingPong gets its reply float (callers pay the rest).
- GuardianStaking (hub only): wired to the hub registry/gateway and the rollups, parameters
  set, each guardian staked with `guardian_stake` ERA.
- Examples PingPong and CrossChainCounter on every chain.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from eth_account import Account
from eth_utils import to_checksum_address

from orchestrator import keys
from orchestrator.build.compiler import Artifact, compile_contracts
from orchestrator.chains.rpc import RpcClient, RpcError
from orchestrator.config import ChainConfig, DevnetConfig
from orchestrator.deploy.addresses import CORE, EXAMPLES, plan_addresses
from orchestrator.deploy.plan import ETHER, ChainPlanner, DeployParams, Tx
from orchestrator.paths import ARTIFACTS_DIR, REPO_ROOT
from services.common.abi import Abi, describe_error

__all__ = ["CORE", "EXAMPLES", "DeployError", "DeployParams", "DeployResult", "deploy"]

DEPLOYER_BALANCE = 10**6 * ETHER
# An estimate is exact for the state it ran on; a transaction of the same round runs after
# the earlier ones, which can make storage writes dearer: keep a margin.
GAS_MARGIN = 1.25
GAS_EXTRA = 25_000


class DeployError(RuntimeError):
    """A deployment transaction failed or a chain did not answer; the message names the chain and step."""


@dataclass
class DeployResult:
    contracts: dict[str, str]
    chains: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> {"transactions", "seconds"}
    seconds: float = 0.0

    def manifest_section(self) -> dict[str, dict[str, str]]:
        """{"Name": {"address": "0x..", "artifact": "contracts/out/Name.json"}} (docs/PROTOCOL.md)."""
        rel = ARTIFACTS_DIR.relative_to(REPO_ROOT).as_posix()
        return {name: {"address": addr, "artifact": f"{rel}/{name}.json"} for name, addr in self.contracts.items()}

    @property
    def transactions(self) -> int:
        return sum(int(c.get("transactions", 0)) for c in self.chains.values())


class ChainSender:
    """Sends one chain's planned transactions in rounds of successful estimates."""

    def __init__(self, chain: ChainConfig, node: RpcClient, abis: Sequence[Abi]) -> None:
        self.chain, self.node, self.abis = chain, node, list(abis)
        self.sender = keys.deployer_key()

    def fail(self, what: str) -> DeployError:
        return DeployError(f"chain {self.chain.name}: {what}")

    def send_all(self, txs: list[Tx]) -> int:
        pending = list(txs)
        while pending:
            ready = self._estimated_prefix(pending)
            self._send(ready)
            pending = pending[len(ready) :]
        return len(txs)

    def _estimated_prefix(self, txs: list[Tx]) -> list[Tx]:
        calls = [
            ("eth_estimateGas", [{"from": self.sender.address, "to": tx.to, "data": "0x" + tx.data.hex()}])
            for tx in txs
        ]
        ready: list[Tx] = []
        for tx, est in zip(txs, self.node.batch(calls), strict=False):
            if isinstance(est, Exception):
                if not ready:  # nothing sent before it could change the answer: a real revert
                    reason = (
                        describe_error(getattr(est, "data", None), self.abis) if getattr(est, "data", None) else est
                    )
                    raise self.fail(f"{tx.label} reverted: {reason}")
                break
            tx.gas = int(int(est, 16) * GAS_MARGIN) + GAS_EXTRA
            ready.append(tx)
        return ready

    def _send(self, txs: list[Tx]) -> None:
        nonce_hex, price_hex = self.node.batch(
            [("eth_getTransactionCount", [self.sender.address, "pending"]), ("eth_gasPrice", [])]
        )
        if isinstance(nonce_hex, Exception) or isinstance(price_hex, Exception):
            raise self.fail("cannot read nonce/gas price")
        nonce, gas_price = int(nonce_hex, 16), 2 * int(price_hex, 16) + 10**9
        hashes = {}
        # one request per transaction, in nonce order, over one keep-alive connection: a JSON-RPC
        # batch may reach anvil's pool out of order, and a transaction that becomes ready late is
        # not automined until the next block
        for i, tx in enumerate(txs):
            signed = Account.sign_transaction(
                {
                    "nonce": nonce + i,
                    "gasPrice": gas_price,
                    "gas": tx.gas,
                    "to": to_checksum_address(tx.to),
                    "value": 0,
                    "data": tx.data,
                    "chainId": self.chain.chain_id,
                },
                self.sender.private_key,
            )
            try:
                tx_hash = self.node.call("eth_sendRawTransaction", ["0x" + bytes(signed.raw_transaction).hex()])
            except RpcError as exc:
                raise self.fail(f"{tx.label}: {exc}") from None
            hashes[tx_hash] = tx
        self._wait_receipts(hashes)

    def _wait_receipts(self, pending: dict[str, Tx], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        polls = 0
        while pending:
            hs = list(pending)
            for h, r in zip(hs, self.node.batch([("eth_getTransactionReceipt", [h]) for h in hs]), strict=False):
                if r is None or isinstance(r, Exception):
                    continue
                tx = pending.pop(h)
                if int(r["status"], 16) != 1:
                    raise self.fail(f"{tx.label} reverted (tx {h}, gas limit {tx.gas})")
            if pending:
                if time.monotonic() > deadline:
                    labels = ", ".join(t.label for t in list(pending.values())[:3])
                    raise self.fail(f"no receipt after {timeout:.0f}s for {labels}")
                polls += 1
                if polls % 10 == 0:
                    # a transaction that became ready only after the last arrival is not
                    # automined until something mines a block, so nudge it
                    self.node.batch([("evm_mine", [])])
                time.sleep(0.02)


def _deploy_chain(
    chain: ChainConfig,
    config: DevnetConfig,
    addresses: dict[str, str],
    codes: dict[str, bytes],
    abis: dict[str, Abi],
    devs: list[str],
    params: DeployParams,
) -> int:
    with RpcClient(chain.rpc_url) as node:
        try:
            node.call("anvil_setBalance", [keys.deployer_key().address, hex(DEPLOYER_BALANCE)])
        except RpcError:
            pass  # not anvil: the deployer must already be funded
        except OSError as exc:
            raise DeployError(f"chain {chain.name}: cannot reach {chain.rpc_url}: {exc}") from None
        planner = ChainPlanner(chain, config, addresses, codes, abis, node, devs, params)
        sender = ChainSender(chain, node, list(abis.values()))
        try:
            deploys, fresh = planner.deploys()
        except RpcError as exc:
            raise sender.fail(str(exc)) from None
        # deployments first, as their own round: a call to an address without code "succeeds"
        # in an estimate, so setup calls are only estimated once the code is there
        return sender.send_all(deploys) + sender.send_all(planner.setup(fresh))


def deploy(
    config: DevnetConfig,
    log: Callable[[str], None] = print,
    params: DeployParams | None = None,
    artifacts: dict[str, Artifact] | None = None,
) -> DeployResult:
    """Deploy (or reuse) every contract on every chain of `config`; chains must be running."""
    started = time.perf_counter()
    params = params or DeployParams()
    if artifacts is None:
        artifacts = compile_contracts().artifacts
    addresses, codes = plan_addresses(artifacts)
    abis = {name: Abi(artifacts[name].abi) for name in (*CORE, *EXAMPLES)}
    devs = [k.address for k in keys.dev_accounts(config.mnemonic, config.accounts)]  # ~5 ms each
    lock = threading.Lock()

    def one(chain: ChainConfig) -> tuple[str, dict[str, Any]]:
        t0 = time.perf_counter()
        sent = _deploy_chain(chain, config, addresses, codes, abis, devs, params)
        seconds = time.perf_counter() - t0
        with lock:
            log(
                f"deploy {chain.name}: {sent} transactions in {seconds * 1000:.0f} ms"
                if sent
                else f"deploy {chain.name}: already deployed, reused"
            )
        return chain.name, {"transactions": sent, "seconds": seconds}

    # a bounded pool: on a 2-core machine more threads only add contention (32 rollups and up)
    with ThreadPoolExecutor(max_workers=min(8, len(config.chains))) as pool:
        chains = dict(pool.map(one, config.chains))
    contracts = {name: addresses[name] for name in (*CORE, *EXAMPLES)}
    return DeployResult(contracts=contracts, chains=chains, seconds=time.perf_counter() - started)
