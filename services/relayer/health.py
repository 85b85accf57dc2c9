"""The relayer's HTTP surface: /health (chains, queue, counters, guardians), one message and its
attempts, and `POST /v1/messages/{id}/retry` (a message that failed for good, tried again).

    POST /v1/messages/{id}/retry  200 {"id", "status": "pending"} | 404 unknown | 409 delivered or
                                  in flight | 422 malformed id
    GET  /openapi.json            all of the above, typed (services.relayer.openapi)
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from services.common.http import App, HttpError, Request
from services.common.openapi import publish
from services.relayer.context import Context
from services.relayer.delivery import Delivery
from services.relayer.openapi import relayer_document

MESSAGE_ID = re.compile(r"0x[0-9a-fA-F]{64}")


def _message_id(raw: str) -> str:
    if not MESSAGE_ID.fullmatch(raw):
        raise HttpError(422, f"message id must be 0x and 64 hex digits, got {raw[:80]!r}")
    return raw.lower()


def build_app(
    ctx: Context,
    deliveries: Mapping[int, Delivery],
    is_ready: Callable[[], bool],
    started_at: float,
    watchtower: Callable[[], dict[str, Any]] | None = None,
) -> App:
    app = App()
    publish(app, relayer_document())

    @app.get("/health")
    async def health(req: Request) -> tuple[int, Any]:
        chains = {
            str(cid): {
                "name": link.name,
                "connected": link.rpc.connected.is_set(),
                "head": link.head,
                "inflight": len(deliveries[cid].inflight) if cid in deliveries else 0,
            }
            for cid, link in ctx.links.items()
        }
        ok = is_ready() and all(c["connected"] for c in chains.values())
        stats = ctx.queue.stats()
        for cid, cur in stats.pop("cursors").items():
            if cid in chains:
                chains[cid]["cursor"] = cur
        watch = watchtower() if watchtower is not None else None
        broke = {link.name: link.out_of_funds for link in ctx.links.values() if link.out_of_funds}
        # a flagged root or an account out of gas money degrades the relayer without failing its
        # health check (it still relays elsewhere)
        status = "starting" if not ok else ("degraded" if (watch and watch["flags"]) or broke else "ok")
        return (200 if ok else 503), {
            "status": status,
            "address": ctx.signer.address,
            "out_of_funds": broke,  # chain name -> why its last delivery could not be paid for
            "chains": chains,
            "queue": stats,
            "counters": ctx.counters.as_dict(),
            "guardians": {
                u: ("down: " + ctx.guardians.down[u]) if u in ctx.guardians.down else "ok" for u in ctx.guardians.urls
            },
            "live_feeds": sorted(ctx.guardians.live),  # guardians pushing their signatures to us
            "guardian_sets": {
                str(c): {"members": sorted(s.members), "threshold": s.threshold} for c, s in ctx.sets.items()
            },
            "slashes": ctx.queue.slashes(),
            "watchtower": watch,
            "uptime": round(time.time() - started_at, 3),
        }

    @app.get("/v1/messages/{message_id}")
    async def message(req: Request) -> tuple[int, Any]:
        row = ctx.queue.get(_message_id(req.params["message_id"]))
        if row is None:
            raise HttpError(404, "unknown message id")
        doc = dict(row)
        doc["payload"] = "0x" + bytes(doc["payload"]).hex()
        doc["attempt_log"] = ctx.queue.attempts(doc["id"])
        return 200, doc

    @app.post("/v1/messages/{message_id}/retry")
    async def retry(req: Request) -> tuple[int, Any]:
        mid = _message_id(req.params["message_id"])
        status = ctx.queue.requeue(mid)
        if status is None:
            raise HttpError(404, "unknown message id")
        if status == "delivered":
            raise HttpError(409, "message already delivered")
        if status == "submitted":
            raise HttpError(409, "message is being delivered right now")
        row = ctx.queue.get(mid)
        if row is not None and row["dst"] in deliveries:
            deliveries[row["dst"]].wake.set()
        return 200, {"id": mid, "status": status}

    return app
