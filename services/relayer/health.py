"""The relayer's HTTP surface: /health (chains, queue, counters, guardians) and one message."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from services.common.http import App, HttpError, Request
from services.relayer.context import Context
from services.relayer.delivery import Delivery


def build_app(ctx: Context, deliveries: Mapping[int, Delivery], is_ready: Callable[[], bool], started_at: float) -> App:
    app = App()

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
        return (200 if ok else 503), {
            "status": "ok" if ok else "starting",
            "address": ctx.signer.address,
            "chains": chains,
            "queue": stats,
            "counters": ctx.counters.as_dict(),
            "guardians": {
                u: ("down: " + ctx.guardians.down[u]) if u in ctx.guardians.down else "ok" for u in ctx.guardians.urls
            },
            "guardian_sets": {
                str(c): {"members": sorted(s.members), "threshold": s.threshold} for c, s in ctx.sets.items()
            },
            "slashes": ctx.queue.slashes(),
            "uptime": round(time.time() - started_at, 3),
        }

    @app.get("/v1/messages/{message_id}")
    async def message(req: Request) -> tuple[int, Any]:
        row = ctx.queue.get(req.params["message_id"].lower())
        if row is None:
            raise HttpError(404, "unknown message id")
        doc = dict(row)
        doc["payload"] = "0x" + bytes(doc["payload"]).hex()
        return 200, doc

    return app
