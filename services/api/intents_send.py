"""Send a planned intent from a dev account (POST /v1/intents with `account`).

Plain path: the plan's transactions in order (approve + open, or crosschainTransfer), signed by the
dev account. Gasless path (`gasless: true`, solver route): the dev account signs the EIP-712 order
and the ERC-2612 permit, and the devnet's deployer key submits `openFor`, so the account needs no ETH.
Each transaction is awaited; its receipt gives the order id (the Open log) or the gateway nonce.
"""

from __future__ import annotations

from typing import Any

from eth_account import Account

from services.api.context import Context
from services.api.errors import ApiError
from services.api.intents_track import IntentRecord
from services.api.sending import transact
from services.common.abi import Abi
from services.common.tx import Signer
from services.solver.planner import IntentPlan, open_for_call


async def send_intent(ctx: Context, record: IntentRecord, account: int, gasless: bool) -> None:
    """Sign and send; marks `opened` and sets the order id or message nonce on `record`."""
    m, plan = ctx.manifest, record.plan
    key = m.accounts[account].private_key
    chain = m.chain(plan.from_chain["chain_id"])
    if gasless:
        order_sig = Account.sign_typed_data(key, full_message=plan.typed_data["order"]).signature  # type: ignore[index]
        permit_sig = Account.sign_typed_data(key, full_message=plan.typed_data["permit"]).signature  # type: ignore[index]
        data = open_for_call(plan, bytes(order_sig), bytes(permit_sig))
        if m.keys.deployer is None:
            raise ApiError(503, "the manifest has no deployer key to submit openFor")
        submitter = Signer(m.keys.deployer.private_key)
        gas = int(plan.order["open_for_gas"])  # type: ignore[index]
        steps = [(submitter, plan.order["origin_settler"], data, gas)]  # type: ignore[index]
    else:
        signer = Signer(key)
        steps = [(signer, tx["to"], bytes.fromhex(tx["data"][2:]), int(tx["gas"])) for tx in plan.transactions]
    receipt: dict[str, Any] = {}
    for signer, to, data, gas in steps:  # transact takes the devnet's nonce lock of the signer
        receipt, tx_hash = await transact(ctx, chain.rpc_url, chain.chain_id, signer, to, data, gas)
        record.transactions.append(tx_hash)
    record.mark("opened")
    _identify(ctx, record, plan, receipt)


def _identify(ctx: Context, record: IntentRecord, plan: IntentPlan, receipt: dict[str, Any]) -> None:
    m = ctx.manifest
    if plan.route == "solver":
        origin = m.address("OriginSettler").lower()
        topic = Abi(m.abi("OriginSettler")).topic("Open")
        for lg in receipt["logs"]:
            if lg["address"].lower() == origin and lg["topics"] and lg["topics"][0] == topic:
                record.order_id = lg["topics"][1]
                return
        raise ApiError(502, f"open transaction {record.transactions[-1]} emitted no Open event")
    gateway = m.address("MetalayerGateway").lower()
    abi = Abi(m.abi("MetalayerGateway"))
    for lg in receipt["logs"]:
        if lg["address"].lower() != gateway:
            continue
        decoded = abi.decode_log(lg)
        if decoded and decoded[0] == "MessageCommitted":
            record.message_nonce = int(decoded[1]["nonce"])
            return
    raise ApiError(502, f"transfer transaction {record.transactions[-1]} sent no gateway message")
