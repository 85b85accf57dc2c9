"""What one chain still needs: read its state, list the missing transactions in order.

    planner = ChainPlanner(chain, config, addresses, abis, node, devs, params)
    txs = planner.deploys()     # CREATE2 deployments of contracts without code
    txs += planner.setup(fresh) # wiring, funding, staking not yet in place

Every call is encoded from the compiled ABIs (services/common/abi.Abi), so a
signature lives only in the Solidity source. Gas is not decided here: the
deployer estimates every transaction against the chain (deployer.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from orchestrator import keys
from orchestrator.chains.rpc import RpcClient, RpcError
from orchestrator.config import ChainConfig, DevnetConfig
from orchestrator.deploy.addresses import CORE, EXAMPLES, HUB_ONLY, SALT
from services.common.abi import Abi
from services.protocol.create2 import CREATE2_FACTORY
from services.protocol.erc7930 import encode_evm_chain

ETHER = 10**18


@dataclass(frozen=True)
class DeployParams:
    base_fee: int = 10**15  # 0.001 ERA per message
    fee_per_byte: int = 10**12  # 0.000001 ERA per payload byte
    relayer_bps: int = 5000
    guardian_bps: int = 3000
    operator_bps: int = 2000
    dev_era: int = 1_000_000 * ETHER  # ERA minted to each dev account on each chain
    dev_fee_deposit: int = 1_000 * ETHER  # prepaid gateway fee balance of each dev account
    example_fee_deposit: int = 1_000 * ETHER  # prepaid fee balance of PingPong / CrossChainCounter
    guardian_stake: int = 10_000 * ETHER
    min_stake: int = 1_000 * ETHER
    unbonding_delay: int = 3600
    slash_bps: int = 10_000
    reporter_bps: int = 1_000


@dataclass
class Tx:
    label: str
    to: str
    data: bytes
    gas: int = 0  # set by the deployer's estimate


@dataclass(frozen=True)
class _Read:
    key: str
    contract: str
    fn: str
    args: tuple[Any, ...] = ()


class ChainPlanner:
    def __init__(
        self,
        chain: ChainConfig,
        config: DevnetConfig,
        addresses: dict[str, str],
        codes: dict[str, bytes],
        abis: dict[str, Abi],
        node: RpcClient,
        devs: Sequence[str],
        params: DeployParams,
    ) -> None:
        self.chain, self.config, self.addr, self.codes = chain, config, addresses, codes
        self.abis, self.node, self.devs, self.params = abis, node, list(devs), params
        self.is_hub = chain.role == "hub"
        self.guardians = [keys.guardian_key(i).address for i in range(config.guardians.count)]
        self.operator = keys.deployer_key().address
        self.examples = [addresses["PingPong"]]  # its reply float; other sends are paid by their caller
        self.others = [c.chain_id for c in config.chains if c.chain_id != chain.chain_id]

    def _tx(self, label: str, contract: str, fn: str, *args: Any) -> Tx:
        return Tx(label, self.addr[contract], self.abis[contract].encode(fn, *args))

    # ------------------------------------------------------------ deployments

    def deploys(self) -> tuple[list[Tx], set[str]]:
        """CREATE2 transactions for every contract without code, and their names."""
        names = [n for n in (*CORE, *EXAMPLES) if self.is_hub or n not in HUB_ONLY]
        found = self.node.batch([("eth_getCode", [self.addr[n], "latest"]) for n in names])
        if self.node.call("eth_getCode", [CREATE2_FACTORY, "latest"]) in (None, "0x"):
            raise RpcError("eth_getCode", f"no CREATE2 deployer at {CREATE2_FACTORY}")
        fresh = set()
        for name, code in zip(names, found, strict=False):
            if isinstance(code, Exception):
                raise code
            if code in (None, "0x"):
                fresh.add(name)
        txs = [Tx(f"deploy {n}", CREATE2_FACTORY, SALT + self.codes[n]) for n in names if n in fresh]
        return txs, fresh

    # ------------------------------------------------------------ setup

    def setup(self, fresh: set[str]) -> list[Tx]:
        """Missing setup transactions, in an order where each only needs earlier ones."""
        p, cfg = self.params, self.config
        brand_new = fresh >= {"StateRootRegistry", "MetalayerGateway", "EraToken"}
        state = None if brand_new else self._read_state()

        def need(key: str) -> bool:
            return state is None or state.get(key, True)

        a = self.addr
        txs: list[Tx] = []
        tx = self._tx
        for cid in self.others:
            if need(f"tracked:{cid}"):
                txs.append(tx(f"registry.setTrackedChain({cid})", "StateRootRegistry", "setTrackedChain", cid, True))
        if need("registry.hub"):
            txs.append(
                tx(
                    "registry.configureHub",
                    "StateRootRegistry",
                    "configureHub",
                    a["MetalayerGateway"],
                    cfg.hub.chain_id,
                    a["GuardianStaking"],
                )
            )
        if state is None or state.get("guardians") != (
            sorted(g.lower() for g in self.guardians),
            cfg.guardians.threshold,
        ):
            txs.append(
                tx(
                    "registry.setGuardians",
                    "StateRootRegistry",
                    "setGuardians",
                    self.guardians,
                    cfg.guardians.threshold,
                )
            )
        if need("gateway.configure"):
            txs.append(
                tx(
                    "gateway.configure",
                    "MetalayerGateway",
                    "configure",
                    a["StateRootRegistry"],
                    a["EraToken"],
                    cfg.hub.chain_id,
                    a["GuardianStaking"],
                )
            )
        conf = cfg.guardians.confirmations
        if conf if state is None else state.get("gateway.confirmations", conf) != conf:
            # finalized messages need a root `conf` blocks newer than their proven block
            txs.append(tx("gateway.setConfirmations", "MetalayerGateway", "setConfirmations", conf))
        if need("gateway.fees"):
            fees = (
                p.base_fee,
                p.fee_per_byte,
                p.relayer_bps,
                p.guardian_bps,
                p.operator_bps,
                keys.relayer_key().address,
                self.operator,
            )
            txs.append(tx("gateway.setFeeConfig", "MetalayerGateway", "setFeeConfig", fees))
        for exempt in (a["GuardianStaking"],):  # ERA transfers pay their fee like any message
            if need(f"exempt:{exempt}"):
                txs.append(tx(f"gateway.setFeeExempt({exempt})", "MetalayerGateway", "setFeeExempt", exempt, True))
        for cid in self.others:
            if need(f"link:{cid}"):
                txs.append(tx(f"era.linkChain({cid})", "EraToken", "linkChain", a["MetalayerGateway"], cid))
        to_stake = [g for g in self.guardians if need(f"stake:{g}")] if self.is_hub else []
        if self.is_hub:
            if need("staking.configure"):
                rollups = [c.chain_id for c in cfg.rollups]
                txs.append(
                    tx(
                        "staking.configure",
                        "GuardianStaking",
                        "configure",
                        a["EraToken"],
                        a["StateRootRegistry"],
                        a["MetalayerGateway"],
                        rollups,
                    )
                )
            if need("staking.params"):
                txs.append(
                    tx(
                        "staking.setParams",
                        "GuardianStaking",
                        "setParams",
                        p.min_stake,
                        p.unbonding_delay,
                        p.slash_bps,
                        p.reporter_bps,
                    )
                )
        txs += self._funding(need, to_stake)
        return txs

    def _funding(self, need: Any, to_stake: list[str]) -> list[Tx]:
        p, a, tx = self.params, self.addr, self._tx
        to_fund = [d for d in self.devs if need(f"era:{d}")]
        to_deposit = [d for d in self.devs if need(f"fee:{d}")] + [e for e in self.examples if need(f"fee:{e}")]
        amounts = [p.example_fee_deposit if d in self.examples else p.dev_fee_deposit for d in to_deposit]
        stake_total = p.guardian_stake * len(to_stake)
        txs = []
        if to_fund:
            txs.append(tx("era.mintBatch(dev accounts)", "EraToken", "mintBatch", to_fund, p.dev_era))
        if amounts or stake_total:
            txs.append(tx("era.mint(deployer)", "EraToken", "mint", self.operator, sum(amounts) + stake_total))
        if amounts:
            txs.append(tx("era.approve(gateway)", "EraToken", "approve", a["MetalayerGateway"], sum(amounts)))
        if stake_total:
            txs.append(tx("era.approve(staking)", "EraToken", "approve", a["GuardianStaking"], stake_total))
        if amounts:
            txs.append(
                tx(
                    "gateway.depositFees(dev accounts, examples)",
                    "MetalayerGateway",
                    "depositFees",
                    to_deposit,
                    amounts,
                )
            )
        for g in to_stake:
            txs.append(tx(f"staking.stakeFor({g})", "GuardianStaking", "stakeFor", g, p.guardian_stake))
        return txs

    # ------------------------------------------------------------ reading what is in place

    def _reads(self) -> list[_Read]:
        reg, gw, era = "StateRootRegistry", "MetalayerGateway", "EraToken"
        reads = []
        for cid in self.others:
            reads.append(_Read(f"tracked:{cid}", reg, "isTracked", (cid,)))
            reads.append(_Read(f"link:{cid}", era, "getLink", (encode_evm_chain(cid),)))
        reads += [
            _Read("registry.hub", reg, "hubStaking"),
            _Read("guardians", reg, "getGuardians"),
            _Read("threshold", reg, "threshold"),
            _Read("gateway.configure", gw, "registry"),
            _Read("gateway.fees", gw, "feeConfig"),
            _Read("gateway.confirmations", gw, "confirmations"),
        ]
        reads += [
            _Read(f"exempt:{ex}", gw, "feeExempt", (ex,)) for ex in (self.addr[era], self.addr["GuardianStaking"])
        ]
        reads += [_Read(f"era:{d}", era, "balanceOf", (d,)) for d in self.devs]
        reads += [_Read(f"fee:{d}", gw, "feeBalance", (d,)) for d in (*self.devs, *self.examples)]
        if self.is_hub:
            reads += [
                _Read("staking.configure", "GuardianStaking", "registry"),
                _Read("staking.params", "GuardianStaking", "minStake"),
            ]
            reads += [_Read(f"stake:{g}", "GuardianStaking", "stakeOf", (g,)) for g in self.guardians]
        return reads

    def _read_state(self) -> dict[str, Any]:
        """What is already in place (True = still needed); "guardians" holds the current set."""
        reads = self._reads()
        calls = [
            (
                "eth_call",
                [
                    {"to": self.addr[r.contract], "data": "0x" + self.abis[r.contract].encode(r.fn, *r.args).hex()},
                    "latest",
                ],
            )
            for r in reads
        ]
        results: dict[str, Any] = {}
        for r, raw in zip(reads, self.node.batch(calls), strict=False):
            ok = not isinstance(raw, Exception) and raw not in (None, "0x")
            results[r.key] = self.abis[r.contract].decode_output(r.fn, raw) if ok else None
        need: dict[str, Any] = {}
        for key, res in results.items():
            if key == "gateway.confirmations":
                need[key] = None if res is None else res[0]
                continue
            if key in ("guardians", "threshold"):
                continue
            need[key] = True if res is None else _still_needed(key, res)
        g, t = results.get("guardians"), results.get("threshold")
        need["guardians"] = (sorted(x.lower() for x in g[0]), t[0]) if g and t else None
        return need


def _still_needed(key: str, res: tuple[Any, ...]) -> bool:
    if key.startswith("link:"):
        return int(res[0], 16) == 0
    if key.startswith("stake:"):
        return res[0] == 0 and res[1] == 0 and not res[3]
    if key == "gateway.fees":
        return res[0][2] + res[0][3] + res[0][4] == 0
    if isinstance(res[0], bool):
        return not res[0]
    if isinstance(res[0], int):
        return res[0] == 0
    return int(res[0], 16) == 0
