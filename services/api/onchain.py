"""A message the relayer has not recorded yet, found in the source gateway's logs."""

from __future__ import annotations

from typing import Any

from services.api.context import Context, RpcFailure
from services.api.traces import trace_from_row


async def find_on_chain(ctx: Context, mid: str) -> dict[str, Any] | None:
    """Its MessageSent/MessageCommitted logs on some chain, as a pending trace; None if no gateway sent it."""
    import httpx

    from services.common.abi import Abi
    from services.protocol.messages import Message

    try:
        gateway = ctx.manifest.address("MetalayerGateway")
        abi = Abi(ctx.manifest.abi("MetalayerGateway"))
    except (KeyError, FileNotFoundError):
        return None
    topics = [[abi.topic("MessageSent"), abi.topic("MessageCommitted")], mid]
    for c in ctx.manifest.chains:
        try:
            logs = await ctx.rpc(
                c.rpc_url,
                "eth_getLogs",
                [{"address": gateway, "topics": topics, "fromBlock": "0x0", "toBlock": "latest"}],
            )
        except (RpcFailure, httpx.HTTPError, ValueError):
            continue
        decoded = {}
        for lg in logs:
            d = abi.decode_log(lg)
            if d:
                decoded[d[0]] = (d[1], lg)
        if "MessageSent" in decoded and "MessageCommitted" in decoded:
            (sent, lg), (committed, _) = decoded["MessageSent"], decoded["MessageCommitted"]
            msg = Message.from_events(sent, committed)
            return trace_from_row(
                {
                    "id": mid,
                    "status": "pending",
                    "src": c.chain_id,
                    "dst": msg.destination_chain_id,
                    "nonce": msg.nonce,
                    "sender": msg.sender,
                    "recipient": msg.recipient,
                    "payload": msg.payload,
                    "finality": msg.finality,
                    "sent_block": int(lg["blockNumber"], 16),
                    "sent_block_hash": lg["blockHash"],
                    "sent_tx": lg["transactionHash"],
                    "last_error": "not yet picked up by the relayer",
                },
                ctx.names,
            )
    return None
