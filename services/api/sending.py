"""Send a message through the source gateway from a dev account (the API's POST /v1/messages).

Async JSON-RPC over the API's one HTTP client. The nonce is read and the transaction broadcast
under the devnet's file lock per (chain, account) (services/common/nonces.py), the one the CLI,
the proven reads and the test handle take too, so no two senders of any process pick one nonce.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import httpx

from services.api.context import Context, RpcFailure
from services.api.errors import ApiError
from services.common import nonces
from services.common.abi import Abi
from services.common.attest import checksum
from services.common.tx import Signer
from services.protocol.erc7930 import encode_evm

RECEIPT_TIMEOUT = 30.0
MAX_FEE, PRIORITY_FEE = 100 * 10**9, 10**9  # devnet: a flat cap; only gas used x base fee is charged


async def mined_receipt(ctx: Context, url: str, tx_hash: str, what: str = "transaction") -> dict[str, Any]:
    """Poll until `tx_hash` is mined (both the send and the intents routes wait this way)."""
    deadline = time.monotonic() + RECEIPT_TIMEOUT
    while (receipt := await ctx.rpc(url, "eth_getTransactionReceipt", [tx_hash])) is None:
        if time.monotonic() > deadline:
            raise ApiError(503, f"{what} {tx_hash} not mined after {RECEIPT_TIMEOUT:.0f}s")
        await asyncio.sleep(0.02)
    return dict(receipt)


@dataclass
class Sent:
    id: str
    source: int
    destination: int
    nonce: int
    sender: str
    recipient: str
    tx: str
    block: int


async def send(
    ctx: Context, source: int, destination: int, recipient: str | None, account: int, payload: bytes
) -> Sent:
    m = ctx.manifest
    if source == destination:
        raise ApiError(
            422,
            "source and destination are the same chain",
            [{"loc": ["body", "destination"], "msg": "same as source", "type": "value_error"}],
        )
    if account >= len(m.accounts):
        raise ApiError(
            422,
            f"account {account}: the devnet has {len(m.accounts)} dev accounts (0..{len(m.accounts) - 1})",
            [{"loc": ["body", "account"], "msg": "no such dev account", "type": "value_error"}],
        )
    if recipient is None:
        if "CrossChainCounter" not in m.contracts:
            raise ApiError(422, "no recipient given and no example CrossChainCounter in the manifest")
        recipient = m.address("CrossChainCounter")
    try:
        gateway, abi = m.address("MetalayerGateway"), Abi(m.abi("MetalayerGateway"))
    except (KeyError, FileNotFoundError) as exc:
        raise ApiError(503, f"the gateway is not deployed: {exc}") from None
    chain = m.chain(source)
    signer = Signer(m.accounts[account].private_key)
    data = abi.encode("sendMessage", encode_evm(m.chain(destination).chain_id, recipient), payload, [])
    receipt, tx_hash = await transact(ctx, chain.rpc_url, chain.chain_id, signer, gateway, data, None, "send")
    for lg in receipt["logs"]:
        decoded = abi.decode_log(lg)
        if decoded and decoded[0] == "MessageCommitted":
            args = decoded[1]
            return Sent(
                "0x" + bytes(args["sendId"]).hex(),
                source,
                destination,
                int(args["nonce"]),
                signer.address,
                checksum(bytes.fromhex(recipient[2:])),
                tx_hash,
                int(lg["blockNumber"], 16),
            )
    raise ApiError(502, f"send transaction {tx_hash} emitted no MessageCommitted")


async def transact(
    ctx: Context,
    url: str,
    chain_id: int,
    signer: Signer,
    to: str,
    data: bytes,
    gas: int | None = None,
    kind: str = "",
) -> tuple[dict[str, Any], str]:
    """Sign, send and wait for one transaction (the send and the intents routes); `gas` None: twice
    the estimate, and a transaction the estimate says reverts is refused (422) before it is sent.
    `kind` names it in errors ("send" -> "send transaction 0x.. reverted")."""
    what = f"{kind} transaction".strip()
    try:
        if gas is None:
            gas = 2 * await _estimate(ctx, url, signer, to, data)
        limit = gas
        tx_hash = await nonces.broadcast_async(
            lambda method, params: ctx.rpc(url, method, params),
            nonces.lock_dir(ctx.manifest),
            chain_id,
            signer.address,
            lambda nonce: signer.sign_1559(chain_id, nonce, to, data, limit, MAX_FEE, PRIORITY_FEE),
        )
        receipt = await mined_receipt(ctx, url, tx_hash, what)
    except RpcFailure as exc:
        raise ApiError(502, f"chain {chain_id}: {exc}") from None
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        raise ApiError(503, f"chain {chain_id} does not answer: {type(exc).__name__}") from None
    if int(receipt["status"], 16) != 1:
        raise ApiError(502, f"{what} {tx_hash} reverted")
    return receipt, tx_hash


async def _estimate(ctx: Context, url: str, signer: Signer, to: str, data: bytes) -> int:
    try:
        call = {"from": signer.address, "to": to, "data": "0x" + data.hex()}
        return int(await ctx.rpc(url, "eth_estimateGas", [call]), 16)
    except RpcFailure as exc:
        raise ApiError(422, f"sendMessage would revert: {revert_text(exc)}") from None


def revert_text(exc: RpcFailure) -> str:
    """The node's message, or its revert data decoded by every known ABI (what the CLI shows too)."""
    if isinstance(exc.data, str) and exc.data.startswith("0x"):
        from services.api.reasons import decode_reason  # only now: the decoder loads eth_abi

        return decode_reason(exc.data) or str(exc)
    return str(exc)
