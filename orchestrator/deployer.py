"""Deploy the Metalayer contracts to every chain of a devnet, fast and idempotently.

    result = deploy(config, log=print)      # chains must already run (automine)
    result.contracts                        # {"StateRootRegistry": "0x..", ...} same address on every chain
    result.manifest_section()               # the manifest's "contracts" entry (docs/PROTOCOL.md)

Every contract goes through anvil's CREATE2 deployer (0x4e59b448...) with a fixed salt and
constructor arguments that are identical on every chain (the deployer address, or the gateway
address for the examples), so addresses are the same everywhere and across runs. All
transactions come from the dedicated deployer key (funded with anvil_setBalance); dev accounts
are never used as senders and keep nonce 0.

Per chain the deployer reads the current state first (code present? already wired?) and
sends only the missing transactions, back to back with consecutive nonces, then checks all
receipts; chains are handled in parallel threads. Re-running on a deployed devnet sends nothing.

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

import json
import threading
import time
import http.client
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address

from orchestrator import keys
from orchestrator.compiler import Artifact, compile_contracts
from orchestrator.config import ChainConfig, DevnetConfig
from orchestrator.paths import ARTIFACTS_DIR, REPO_ROOT

CREATE2_FACTORY = "0x4e59b44847b379578588920ca78fbf26c0b4956c"
SALT = keccak(text="metalayer-devnet/v1")
ETHER = 10**18
DEPLOYER_BALANCE = 10**6 * ETHER

# Core contracts, deployed on every chain except GuardianStaking (hub only). Constructor arg: owner.
CORE = ("StateRootRegistry", "MetalayerGateway", "EraToken", "GuardianStaking")
EXAMPLES = ("PingPong", "CrossChainCounter")  # constructor arg: gateway
HUB_ONLY = ("GuardianStaking",)


class DeployError(RuntimeError):
    """A deployment transaction failed or a chain did not answer; the message names the chain and step."""


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


# ---------------------------------------------------------------- addresses


def create2_address(init_code: bytes, salt: bytes = SALT) -> str:
    digest = keccak(b"\xff" + bytes.fromhex(CREATE2_FACTORY[2:]) + salt + keccak(init_code))
    return to_checksum_address(digest[12:])


def _ctor_types(artifact: Artifact) -> list[str]:
    for item in artifact.abi:
        if item.get("type") == "constructor":
            return [i["type"] for i in item.get("inputs", [])]
    return []


def init_code(artifact: Artifact, args: Sequence[Any]) -> bytes:
    return bytes.fromhex(artifact.bytecode[2:]) + abi_encode(_ctor_types(artifact), list(args))


def plan_addresses(artifacts: dict[str, Artifact]) -> tuple[dict[str, str], dict[str, bytes]]:
    """(name -> address, name -> init code) for every deployed contract."""
    owner = keys.deployer_key().address
    addresses: dict[str, str] = {}
    codes: dict[str, bytes] = {}
    for name in CORE:
        codes[name] = init_code(artifacts[name], [owner])
        addresses[name] = create2_address(codes[name])
    for name in EXAMPLES:
        codes[name] = init_code(artifacts[name], [addresses["MetalayerGateway"]])
        addresses[name] = create2_address(codes[name])
    return addresses, codes


# ---------------------------------------------------------------- JSON-RPC


class _Rpc:
    """A minimal JSON-RPC client (stdlib, one keep-alive connection), with batch calls."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url
        self.timeout = timeout
        self._id = 0
        parsed = urllib.parse.urlsplit(url)
        self._host, self._port, self._path = parsed.hostname or "127.0.0.1", parsed.port or 80, parsed.path or "/"
        self._conn: http.client.HTTPConnection | None = None

    def _post(self, body: Any) -> Any:
        data = json.dumps(body).encode()
        for attempt in (0, 1):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)
            try:
                self._conn.request("POST", self._path, body=data, headers={"Content-Type": "application/json"})
                resp = self._conn.getresponse()
                payload = resp.read()
                if resp.status != 200:
                    raise DeployError(f"{self.url}: HTTP {resp.status}: {payload[:200]!r}")
                return json.loads(payload)
            except (http.client.HTTPException, ConnectionError):
                self._conn.close()
                self._conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def call(self, method: str, params: list[Any]) -> Any:
        self._id += 1
        doc = self._post({"jsonrpc": "2.0", "id": self._id, "method": method, "params": params})
        if "error" in doc:
            raise DeployError(f"{method}: {doc['error'].get('message', doc['error'])}")
        return doc["result"]

    def batch(self, calls: Sequence[tuple[str, list[Any]]]) -> list[Any]:
        """Results in order; an entry is an Exception if that call failed."""
        if not calls:
            return []
        body = []
        for method, params in calls:
            self._id += 1
            body.append({"jsonrpc": "2.0", "id": self._id, "method": method, "params": params})
        first = body[0]["id"]
        docs = self._post(body)
        out: list[Any] = [None] * len(calls)
        for doc in docs:
            i = doc["id"] - first
            out[i] = DeployError(str(doc["error"])) if "error" in doc else doc.get("result")
        return out


def _selector(signature: str) -> bytes:
    return function_signature_to_4byte_selector(signature)


def calldata(signature: str, types: Sequence[str] = (), args: Sequence[Any] = ()) -> bytes:
    return _selector(signature) + abi_encode(list(types), list(args))


# ---------------------------------------------------------------- per-chain deployment


@dataclass
class _Tx:
    label: str
    to: str
    data: bytes
    gas: int


class _ChainDeployer:
    def __init__(
        self,
        chain: ChainConfig,
        config: DevnetConfig,
        addresses: dict[str, str],
        codes: dict[str, bytes],
        params: DeployParams,
        log: Callable[[str], None],
    ) -> None:
        self.chain = chain
        self.config = config
        self.addr = addresses
        self.codes = codes
        self.params = params
        self.log = log
        self.rpc = _Rpc(chain.rpc_url)
        self.deployer = keys.deployer_key()
        self.is_hub = chain.role == "hub"
        self.txs: list[_Tx] = []
        self.devs: list[str] = []  # dev account addresses (derived once by deploy())

    # reads -------------------------------------------------------------

    def _calls(self, calls: Sequence[tuple[str, str, Sequence[str], Sequence[Any], Sequence[str]]]) -> list[Any]:
        """Batch of eth_call: (to, signature, arg types, args, return types) -> decoded tuples or None."""
        batch = [
            ("eth_call", [{"to": to, "data": "0x" + calldata(sig, t, a).hex()}, "latest"])
            for to, sig, t, a, _ in calls
        ]
        results = self.rpc.batch(batch)
        out = []
        for (_, _, _, _, rtypes), res in zip(calls, results):
            if isinstance(res, Exception) or res in (None, "0x"):
                out.append(None)
            else:
                out.append(abi_decode(list(rtypes), bytes.fromhex(res[2:])))
        return out

    # plan --------------------------------------------------------------

    def _add(self, label: str, to: str, data: bytes, gas: int = 1_000_000) -> None:
        self.txs.append(_Tx(label, to, data, gas))

    def plan(self) -> None:
        names = [n for n in (*CORE, *EXAMPLES) if self.is_hub or n not in HUB_ONLY]
        codes = self.rpc.batch([("eth_getCode", [self.addr[n], "latest"]) for n in names])
        factory = self.rpc.call("eth_getCode", [CREATE2_FACTORY, "latest"])
        if factory in (None, "0x"):
            raise DeployError(f"chain {self.chain.name}: no CREATE2 deployer at {CREATE2_FACTORY}")
        fresh = set()
        for name, code in zip(names, codes):
            if isinstance(code, Exception):
                raise DeployError(f"chain {self.chain.name}: eth_getCode failed: {code}")
            if code in (None, "0x"):
                fresh.add(name)
                self._add(f"deploy {name}", CREATE2_FACTORY, SALT + self.codes[name], gas=6_000_000)
        self._plan_setup(fresh)

    def _plan_setup(self, fresh: set[str]) -> None:
        p = self.params
        cfg = self.config
        a = self.addr
        reg, gw, era, staking = a["StateRootRegistry"], a["MetalayerGateway"], a["EraToken"], a["GuardianStaking"]
        hub_id = cfg.hub.chain_id
        others = [c.chain_id for c in cfg.chains if c.chain_id != self.chain.chain_id]
        guardians = [keys.guardian_key(i).address for i in range(cfg.guardians.count)]
        relayer = keys.relayer_key().address
        operator = self.deployer.address
        devs = self.devs
        examples = [a["PingPong"]]  # the reply float; other sends are paid by their caller
        fee_cfg = (p.base_fee, p.fee_per_byte, p.relayer_bps, p.guardian_bps, p.operator_bps, relayer, operator)
        fee_cfg_type = "(uint128,uint128,uint16,uint16,uint16,address,address)"

        if fresh >= {"StateRootRegistry", "MetalayerGateway", "EraToken"}:
            state = None  # brand-new chain: nothing to read
        else:
            state = self._read_state(others, devs, examples)

        def need(key: str) -> bool:
            return state is None or state.get(key, True)

        # registry
        for cid in others:
            if need(f"tracked:{cid}"):
                self._add(f"registry.setTrackedChain({cid})", reg, calldata("setTrackedChain(uint256,bool)", ["uint256", "bool"], [cid, True]), 100_000)
        if need("registry.hub"):
            self._add("registry.configureHub", reg, calldata("configureHub(address,uint256,address)", ["address", "uint256", "address"], [gw, hub_id, staking]), 150_000)
        if state is None or state.get("guardians") != (sorted(g.lower() for g in guardians), cfg.guardians.threshold):
            self._add("registry.setGuardians", reg, calldata("setGuardians(address[],uint256)", ["address[]", "uint256"], [guardians, cfg.guardians.threshold]), 300_000 + 60_000 * len(guardians))
        # gateway
        if need("gateway.configure"):
            self._add("gateway.configure", gw, calldata("configure(address,address,uint256,address)", ["address", "address", "uint256", "address"], [reg, era, hub_id, staking]), 200_000)
        if need("gateway.fees"):
            self._add("gateway.setFeeConfig", gw, calldata(f"setFeeConfig({fee_cfg_type})", [fee_cfg_type], [fee_cfg]), 200_000)
        for exempt in (staking,):
            if need(f"exempt:{exempt}"):
                self._add(f"gateway.setFeeExempt({exempt})", gw, calldata("setFeeExempt(address,bool)", ["address", "bool"], [exempt, True]), 100_000)
        # ERA links
        for cid in others:
            if need(f"link:{cid}"):
                self._add(f"era.linkChain({cid})", era, calldata("linkChain(address,uint256)", ["address", "uint256"], [gw, cid]), 250_000)
        # dev balances and fee deposits
        to_fund = [d for d in devs if need(f"era:{d}")]
        to_deposit = [d for d in devs if need(f"fee:{d}")] + [e for e in examples if need(f"fee:{e}")]
        deposit_total = sum(p.example_fee_deposit if d in examples else p.dev_fee_deposit for d in to_deposit)
        stake_total = 0
        to_stake: list[str] = []
        if self.is_hub:
            to_stake = [g for g in guardians if need(f"stake:{g}")]
            stake_total = p.guardian_stake * len(to_stake)
        if to_fund:
            self._add("era.mintBatch(dev accounts)", era, calldata("mintBatch(address[],uint256)", ["address[]", "uint256"], [to_fund, p.dev_era]), 100_000 + 60_000 * len(to_fund))
        if deposit_total or stake_total:
            self._add("era.mint(deployer)", era, calldata("mint(address,uint256)", ["address", "uint256"], [operator, deposit_total + stake_total]), 150_000)
        if deposit_total:
            self._add("era.approve(gateway)", era, calldata("approve(address,uint256)", ["address", "uint256"], [gw, deposit_total]), 100_000)
            amounts = [p.example_fee_deposit if d in examples else p.dev_fee_deposit for d in to_deposit]
            self._add("gateway.depositFees(dev accounts, examples)", gw, calldata("depositFees(address[],uint256[])", ["address[]", "uint256[]"], [to_deposit, amounts]), 100_000 + 40_000 * len(to_deposit))
        # staking (hub)
        if self.is_hub:
            rollups = [c.chain_id for c in cfg.rollups]
            if need("staking.configure"):
                self._add("staking.configure", staking, calldata("configure(address,address,address,uint256[])", ["address", "address", "address", "uint256[]"], [era, reg, gw, rollups]), 300_000)
            if need("staking.params"):
                self._add("staking.setParams", staking, calldata("setParams(uint256,uint64,uint16,uint16)", ["uint256", "uint64", "uint16", "uint16"], [p.min_stake, p.unbonding_delay, p.slash_bps, p.reporter_bps]), 150_000)
            if stake_total:
                self._add("era.approve(staking)", era, calldata("approve(address,uint256)", ["address", "uint256"], [staking, stake_total]), 100_000)
                for g in to_stake:
                    self._add(f"staking.stakeFor({g})", staking, calldata("stakeFor(address,uint256)", ["address", "uint256"], [g, p.guardian_stake]), 250_000)

    def _read_state(self, others: list[int], devs: list[str], examples: list[str]) -> dict[str, Any]:
        """What is already in place (True = still needed)."""
        a = self.addr
        reg, gw, era, staking = a["StateRootRegistry"], a["MetalayerGateway"], a["EraToken"], a["GuardianStaking"]
        calls: list[tuple[str, str, Sequence[str], Sequence[Any], Sequence[str]]] = []
        keys_: list[str] = []

        def q(key: str, to: str, sig: str, types: Sequence[str], args: Sequence[Any], rtypes: Sequence[str]) -> None:
            keys_.append(key)
            calls.append((to, sig, types, args, rtypes))

        for cid in others:
            q(f"tracked:{cid}", reg, "isTracked(uint256)", ["uint256"], [cid], ["bool"])
            q(f"link:{cid}", era, "getLink(bytes)", ["bytes"], [_evm_chain(cid)], ["address", "bytes"])
        q("registry.hub", reg, "hubStaking()", [], [], ["address"])
        q("guardians", reg, "getGuardians()", [], [], ["address[]"])
        q("threshold", reg, "threshold()", [], [], ["uint256"])
        q("gateway.configure", gw, "registry()", [], [], ["address"])
        q("gateway.fees", gw, "feeConfig()", [], [], ["(uint128,uint128,uint16,uint16,uint16,address,address)"])
        for ex in (era, staking):
            q(f"exempt:{ex}", gw, "feeExempt(address)", ["address"], [ex], ["bool"])
        for d in devs:
            q(f"era:{d}", era, "balanceOf(address)", ["address"], [d], ["uint256"])
        for d in (*devs, *examples):
            q(f"fee:{d}", gw, "feeBalance(address)", ["address"], [d], ["uint256"])
        if self.is_hub:
            q("staking.configure", staking, "registry()", [], [], ["address"])
            q("staking.params", staking, "minStake()", [], [], ["uint256"])
            for i in range(self.config.guardians.count):
                g = keys.guardian_key(i).address
                q(f"stake:{g}", staking, "stakeOf(address)", ["address"], [g], ["uint256", "uint256", "uint64", "bool"])
        results = dict(zip(keys_, self._calls(calls)))
        need: dict[str, Any] = {}
        for key, res in results.items():
            if key == "guardians" or key == "threshold":
                continue
            if res is None:
                need[key] = True
            elif key.startswith("link:"):
                need[key] = int(res[0], 16) == 0
            elif key.startswith("stake:"):
                need[key] = res[0] == 0 and res[1] == 0 and not res[3]
            elif key == "gateway.fees":
                need[key] = res[0][2] + res[0][3] + res[0][4] == 0
            elif isinstance(res[0], bool):
                need[key] = not res[0]
            elif isinstance(res[0], int):
                need[key] = res[0] == 0
            else:
                need[key] = int(res[0], 16) == 0
        g, t = results.get("guardians"), results.get("threshold")
        need["guardians"] = (sorted(x.lower() for x in g[0]), t[0]) if g and t else None
        return need

    # send --------------------------------------------------------------

    def send(self) -> int:
        if not self.txs:
            return 0
        nonce_hex, gas_price_hex = self.rpc.batch(
            [
                ("eth_getTransactionCount", [self.deployer.address, "pending"]),
                ("eth_gasPrice", []),
            ]
        )
        if isinstance(nonce_hex, Exception) or isinstance(gas_price_hex, Exception):
            raise DeployError(f"chain {self.chain.name}: cannot read nonce/gas price")
        nonce = int(nonce_hex, 16)
        gas_price = 2 * int(gas_price_hex, 16) + 10**9
        raws = []
        for i, tx in enumerate(self.txs):
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
                self.deployer.private_key,
            )
            raws.append("0x" + bytes(signed.raw_transaction).hex())
        # one request per transaction, in nonce order, over one keep-alive connection: a JSON-RPC
        # batch may reach anvil's pool out of order, and a transaction that becomes ready late is
        # not automined until the next block
        hashes = []
        for tx, raw in zip(self.txs, raws):
            try:
                hashes.append(self.rpc.call("eth_sendRawTransaction", [raw]))
            except DeployError as exc:
                raise DeployError(f"chain {self.chain.name}: {tx.label}: {exc}") from None
        self._wait_receipts(list(hashes))
        return len(self.txs)

    def _wait_receipts(self, hashes: list[str], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        polls = 0
        pending = dict(zip(hashes, self.txs))
        while pending:
            hs = list(pending)
            receipts = self.rpc.batch([("eth_getTransactionReceipt", [h]) for h in hs])
            for h, r in zip(hs, receipts):
                if r is None or isinstance(r, Exception):
                    continue
                tx = pending.pop(h)
                if int(r["status"], 16) != 1:
                    raise DeployError(f"chain {self.chain.name}: {tx.label} reverted (tx {h})")
            if pending:
                if time.monotonic() > deadline:
                    labels = ", ".join(t.label for t in list(pending.values())[:3])
                    raise DeployError(f"chain {self.chain.name}: no receipt after {timeout:.0f}s for {labels}")
                polls += 1
                if polls % 10 == 0:
                    # A batch can reach anvil out of nonce order; a transaction that becomes
                    # ready only after the last arrival is not automined until something
                    # mines a block, so nudge it.
                    self.rpc.batch([("evm_mine", [])])
                time.sleep(0.02)


def _evm_chain(chain_id: int) -> bytes:
    ref = chain_id.to_bytes((chain_id.bit_length() + 7) // 8, "big")
    return b"\x00\x01\x00\x00" + bytes([len(ref)]) + ref + b"\x00"


# ---------------------------------------------------------------- entry point


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
    deployer = keys.deployer_key()
    devs = [k.address for k in keys.dev_accounts(config.mnemonic, config.accounts)]  # ~5 ms each
    lock = threading.Lock()

    def safe_log(msg: str) -> None:
        with lock:
            log(msg)

    def one(chain: ChainConfig) -> tuple[str, dict[str, Any]]:
        t0 = time.perf_counter()
        cd = _ChainDeployer(chain, config, addresses, codes, params, safe_log)
        cd.devs = devs
        try:
            cd.rpc.call("anvil_setBalance", [deployer.address, hex(DEPLOYER_BALANCE)])
        except DeployError:
            pass  # not anvil: the deployer must already be funded
        except OSError as exc:
            raise DeployError(f"chain {chain.name}: cannot reach {chain.rpc_url}: {exc}") from None
        try:
            cd.plan()
            sent = cd.send()
        finally:
            cd.rpc.close()
        seconds = time.perf_counter() - t0
        safe_log(
            f"deploy {chain.name}: {sent} transactions in {seconds * 1000:.0f} ms"
            if sent
            else f"deploy {chain.name}: already deployed, reused"
        )
        return chain.name, {"transactions": sent, "seconds": seconds}

    with ThreadPoolExecutor(max_workers=len(config.chains)) as pool:
        chains = dict(pool.map(one, config.chains))
    contracts = {name: addresses[name] for name in (*CORE, *EXAMPLES)}
    return DeployResult(contracts=contracts, chains=chains, seconds=time.perf_counter() - started)
