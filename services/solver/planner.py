"""Plan an intent ("move 100 USDC from rollup-a to 0x… on rollup-b"): route, quote, unsigned transactions.

    plan = plan_intent(manifest, IntentRequest("rollup-a", "rollup-b", "USDC", "100", "0xabc…", sender="0x…"))
    plan.route            # "solver" (a solver fills at once from its inventory) or "canonical" (USDC bridge)
    plan.reason           # why that route
    plan.quote            # solver fee, ERA message fee, gas per chain, expected seconds
    plan.transactions     # unsigned transactions for the sender's wallet, in order
    plan.typed_data       # solver route: EIP-712 order + ERC-2612 permit for the gasless openFor path
    open_for_call(plan, order_signature, permit_signature)   # calldata anyone may submit (gasless)

Bad input raises IntentError(field, message) before anything is read from a chain where possible;
the API answers it with a 4xx and the message, the CLI prints it on one line. The amount is in
token units ("100", "0.5"); the recipient receives exactly it, the sender pays it plus the fee.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

import httpx
from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector

from services.common.manifest import Chain, Manifest
from services.protocol import encode_evm
from services.solver.orders import (
    ORDER_DATA_TYPEHASH,
    GaslessOrder,
    OrderData,
    gasless_typed_data,
    onchain_order,
    permit_filler_data,
    permit_typed_data,
)
from services.solver.terms import pick_solver, solver_terms
from services.solver.validation import (
    DECIMALS,
    IntentError,
    check_address,
    parse_amount,
    resolve_chain,
    resolve_token,
)

DEFAULT_TTL = 300  # seconds from now to the fill deadline
MAX_DEADLINE = 2**32 - 1  # the order's fill deadline is a uint32
OPEN_WINDOW = 120  # seconds a gasless order may wait to be opened
SETTLEMENT_PAYLOAD = 64  # abi.encode(bytes32 orderId, address repayTo)
# Gas limit per step: measured use plus ~15% (approve 46k, open 208k, fill 221k, settlement delivery
# 133k, crosschainTransfer 150k, mint delivery 130k on this devnet; the e2e tests send with these limits).
GAS = {
    "approve": 55_000,
    "open": 260_000,
    "open_for": 320_000,
    "fill": 260_000,
    "settle": 160_000,
    "crosschain_transfer": 180_000,
    "mint_delivery": 160_000,
}
LATENCY = {"solver": 0.05, "canonical": 0.1}  # seconds beyond block times, instant mining (scripts/bench.py intents)


@dataclass(frozen=True)
class IntentRequest:
    from_chain: str | int
    to_chain: str | int
    token: str
    amount: str | int | Decimal  # token units, e.g. "100"
    recipient: str
    sender: str | None = None  # the paying account (balance check, unsigned transactions)
    deadline: int | None = None  # fill deadline (unix seconds); default now + DEFAULT_TTL
    route: str | None = None  # force "solver" or "canonical"


@dataclass
class IntentPlan:
    route: str
    reason: str
    from_chain: dict[str, Any]
    to_chain: dict[str, Any]
    token: dict[str, Any]
    amount: int
    recipient: str
    sender: str | None
    quote: dict[str, Any]
    transactions: list[dict[str, Any]] = field(default_factory=list)
    order: dict[str, Any] | None = None
    typed_data: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["amount"] = str(self.amount)
        return doc


def _selector_call(signature: str, types: list[str], args: list[Any]) -> bytes:
    return function_signature_to_4byte_selector(signature) + encode(types, args)


__all__ = [
    "IntentError",
    "IntentPlan",
    "IntentRequest",
    "open_for_call",
    "parse_amount",
    "plan_intent",
]


class _Reader:
    """Synchronous JSON-RPC reads (the API runs a sync endpoint in its thread pool)."""

    def __init__(self, manifest: Manifest):
        self.m = manifest
        self.http = httpx.Client(timeout=10)

    def rpc(self, chain: Chain, method: str, params: list[Any]) -> Any:
        doc = self.http.post(chain.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).json()
        if "error" in doc:
            raise RuntimeError(f"{chain.name}: {method}: {doc['error'].get('message')}")
        return doc["result"]

    def call(
        self, chain: Chain, to: str, sig: str, types: list[str], args: list[Any], out: list[str]
    ) -> tuple[Any, ...]:
        raw = self.rpc(chain, "eth_call", [{"to": to, "data": "0x" + _selector_call(sig, types, args).hex()}, "latest"])
        return decode(out, bytes.fromhex(raw[2:]))

    def now(self, chain: Chain) -> int:
        return int(self.rpc(chain, "eth_getBlockByNumber", ["latest", False])["timestamp"], 16)


# ------------------------------------------------------------------ planning


def plan_intent(m: Manifest, req: IntentRequest, reader: _Reader | None = None) -> IntentPlan:
    src, dst = resolve_chain(m, req.from_chain, "from_chain"), resolve_chain(m, req.to_chain, "to_chain")
    if src.chain_id == dst.chain_id:
        raise IntentError("to_chain", f"from and to are the same chain ({src.name})")
    usdc = resolve_token(m, req.token)
    amount = parse_amount(req.amount)
    recipient = check_address(req.recipient, "recipient")
    sender = check_address(req.sender, "sender") if req.sender is not None else None
    if req.route not in (None, "solver", "canonical"):
        raise IntentError("route", f"route must be 'solver' or 'canonical', got {req.route!r}")
    if req.deadline is not None and (isinstance(req.deadline, bool) or not isinstance(req.deadline, int)):
        raise IntentError("deadline", f"deadline must be unix seconds (an integer), got {req.deadline!r}")
    if req.deadline is not None and req.deadline > MAX_DEADLINE:  # the order's fillDeadline is a uint32
        raise IntentError("deadline", f"deadline must be at most {MAX_DEADLINE} (uint32), got {req.deadline}")
    if reader is not None:
        return _plan(m, req, reader, src, dst, usdc, amount, recipient, sender)
    own = _Reader(m)
    try:
        return _plan(m, req, own, src, dst, usdc, amount, recipient, sender)
    finally:
        own.http.close()


def _plan(
    m: Manifest,
    req: IntentRequest,
    r: _Reader,
    src: Chain,
    dst: Chain,
    usdc: str,
    amount: int,
    recipient: str,
    sender: str | None,
) -> IntentPlan:
    now = r.now(src)
    deadline = req.deadline if req.deadline is not None else now + DEFAULT_TTL
    if deadline <= now:
        raise IntentError("deadline", f"deadline {deadline} is in the past ({src.name} time is {now})")

    holders, why = _holders(m, r, dst, usdc, amount)
    route = req.route or ("solver" if holders else "canonical")
    if route == "solver" and not holders:
        raise IntentError("route", f"no solver can fill this intent: {why}")
    # the solver measures its margin on the later clock: they drift apart under time travel
    solver = pick_solver(holders, deadline, max(now, r.now(dst)), src, dst) if route == "solver" else None
    fee = -(-amount * solver["fee_bps"] // 10_000) if route == "solver" and solver else 0
    pay = amount + fee
    if sender is not None:
        (balance,) = r.call(src, usdc, "balanceOf(address)", ["address"], [sender], ["uint256"])
        if balance < pay:
            raise IntentError(
                "amount",
                f"{sender} holds {balance / 10**DECIMALS} USDC on {src.name}, the intent needs {pay / 10**DECIMALS}",
            )
    gateway = m.address("MetalayerGateway")
    chains = {
        "from_chain": {"name": src.name, "chain_id": src.chain_id},
        "to_chain": {"name": dst.name, "chain_id": dst.chain_id},
    }
    token = {"symbol": "USDC", "address": usdc, "decimals": DECIMALS}
    if route == "canonical":
        payload_len = len(encode(["bytes", "bytes", "uint256"], [encode_evm(src.chain_id, recipient), b"\0" * 20, 0]))
        (era_fee,) = r.call(
            src, gateway, "quoteFee(uint256,uint256)", ["uint256", "uint256"], [dst.chain_id, payload_len], ["uint256"]
        )
        reason = why if req.route is None else "canonical route requested"
        quote = {
            "solver": None,
            "solver_fee": "0",
            "input_amount": str(amount),
            "output_amount": str(amount),
            "era_message_fee": str(era_fee),
            "era_fee_payer": "USDC contract's prepaid gateway balance",
            "gas": {src.name: GAS["crosschain_transfer"], dst.name: GAS["mint_delivery"]},
            "expected_seconds": _expected(src, dst, "canonical"),
        }
        tx = _tx(
            src,
            sender,
            usdc,
            _selector_call(
                "crosschainTransfer(bytes,uint256)", ["bytes", "uint256"], [encode_evm(dst.chain_id, recipient), amount]
            ),
            GAS["crosschain_transfer"],
            f"burn {amount / 10**DECIMALS} USDC on {src.name}, minted to the recipient on {dst.name}",
        )
        return IntentPlan(
            "canonical", reason, chains["from_chain"], chains["to_chain"], token, amount, recipient, sender, quote, [tx]
        )

    assert solver is not None
    (era_fee,) = r.call(
        dst,
        gateway,
        "quoteFee(uint256,uint256)",
        ["uint256", "uint256"],
        [src.chain_id, SETTLEMENT_PAYLOAD],
        ["uint256"],
    )
    origin = m.address("OriginSettler")
    data = OrderData(usdc, pay, usdc, amount, recipient, dst.chain_id)
    quote = {
        "solver": {"index": solver["index"], "address": solver["address"], "fee_bps": solver["fee_bps"]},
        "solver_fee": str(fee),
        "input_amount": str(pay),
        "output_amount": str(amount),
        "era_message_fee": str(era_fee),
        "era_fee_payer": "DestinationSettler's prepaid gateway balance",
        "gas": {src.name: GAS["approve"] + GAS["open"] + GAS["settle"], dst.name: GAS["fill"]},
        "expected_seconds": _expected(src, dst, "solver"),
    }
    txs = [
        _tx(
            src,
            sender,
            usdc,
            _selector_call("approve(address,uint256)", ["address", "uint256"], [origin, pay]),
            GAS["approve"],
            f"allow the OriginSettler to escrow {pay / 10**DECIMALS} USDC",
        ),
        _tx(
            src,
            sender,
            origin,
            _selector_call("open((uint32,bytes32,bytes))", ["(uint32,bytes32,bytes)"], [onchain_order(deadline, data)]),
            GAS["open"],
            "open the order (escrow + ERC-7683 Open event)",
        ),
    ]
    order: dict[str, Any] = {
        "origin_settler": origin,
        "destination_settler": m.address("DestinationSettler"),
        "fill_deadline": deadline,
        "order_data_type": "0x" + ORDER_DATA_TYPEHASH.hex(),
        "order_data": "0x" + data.encode().hex(),
    }
    typed = None
    if sender is not None:
        nonce = secrets.randbits(64)
        open_deadline = min(now + OPEN_WINDOW, deadline)
        gasless = GaslessOrder(origin, sender, nonce, src.chain_id, open_deadline, deadline, data)
        (permit_nonce,) = r.call(src, usdc, "nonces(address)", ["address"], [sender], ["uint256"])
        order.update(
            nonce=nonce,
            open_deadline=open_deadline,
            user=sender,
            permit_deadline=open_deadline,
            open_for_gas=GAS["open_for"],
        )
        typed = {
            "order": _jsonable(gasless_typed_data(gasless)),
            "permit": permit_typed_data(usdc, src.chain_id, sender, origin, pay, permit_nonce, open_deadline),
        }
    reason = (
        f"solver {solver['index']} holds enough USDC on {dst.name} and asks {solver['fee_bps']} bps: "
        "the recipient is paid in the next block, the solver is repaid on the origin after the proof"
    )
    return IntentPlan(
        "solver",
        reason if req.route is None else "solver route requested",
        chains["from_chain"],
        chains["to_chain"],
        token,
        amount,
        recipient,
        sender,
        quote,
        txs,
        order,
        typed,
    )


def _holders(m: Manifest, r: _Reader, dst: Chain, usdc: str, amount: int) -> tuple[list[dict[str, Any]], str]:
    """The solvers holding `amount` on `dst` (with the terms each applies), or why there are none."""
    solvers = solver_terms(m)
    if not solvers:
        return [], "no solver is configured on this devnet: the canonical route (USDC bridge) moves it"
    holders, most = [], 0
    for s in solvers:
        (balance,) = r.call(dst, usdc, "balanceOf(address)", ["address"], [s["address"]], ["uint256"])
        most = max(most, balance)
        if balance >= amount:
            holders.append(s)
    if not holders:
        return [], (
            f"no solver holds {amount / 10**DECIMALS} USDC on {dst.name} (largest inventory "
            f"{most / 10**DECIMALS}): the canonical route (USDC bridge) moves it"
        )
    return holders, ""


def _expected(src: Chain, dst: Chain, route: str) -> float:
    return round((src.block_time or 0) + (dst.block_time or 0) + LATENCY[route], 3)


def _tx(chain: Chain, sender: str | None, to: str, data: bytes, gas: int, description: str) -> dict[str, Any]:
    return {
        "chain": chain.name,
        "chain_id": chain.chain_id,
        "from": sender,
        "to": to,
        "data": "0x" + data.hex(),
        "value": "0",
        "gas": gas,
        "description": description,
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def gasless_order(plan: IntentPlan) -> GaslessOrder:
    """The signed order of a solver plan made with a sender (for openFor)."""
    o = plan.order
    if plan.route != "solver" or not o or "nonce" not in o:
        raise IntentError("route", "only a solver plan made with a sender has a gasless order")
    data = OrderData.decode(bytes.fromhex(o["order_data"][2:]))
    return GaslessOrder(
        o["origin_settler"],
        o["user"],
        o["nonce"],
        plan.from_chain["chain_id"],
        o["open_deadline"],
        o["fill_deadline"],
        data,
    )


def open_for_call(plan: IntentPlan, order_signature: bytes, permit_signature: bytes | None) -> bytes:
    """Calldata of `OriginSettler.openFor(order, signature, permit)`: any account may submit it."""
    order = gasless_order(plan)
    filler_data = permit_filler_data(plan.order["permit_deadline"], permit_signature) if permit_signature else b""  # type: ignore[index]
    return _selector_call(
        "openFor((address,address,uint256,uint256,uint32,uint32,bytes32,bytes),bytes,bytes)",
        ["(address,address,uint256,uint256,uint32,uint32,bytes32,bytes)", "bytes", "bytes"],
        [order.as_tuple(), order_signature, filler_data],
    )
