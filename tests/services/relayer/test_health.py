"""The relayer's HTTP surface, called in-process through ASGI."""

from __future__ import annotations

import time

import httpx

from services.relayer.health import build_app


def test_health_and_message_routes(stage_net, stages):
    async def scenario(ctx):
        app = build_app(ctx, {}, lambda: True, time.time())
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://relayer") as c:
            health = await c.get("/health")
            unknown = await c.get("/v1/messages/0x" + "ab" * 32)
            missing = await c.get("/v1/nothing")
        starting = build_app(ctx, {}, lambda: False, time.time())
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=starting), base_url="http://relayer") as c:
            not_ready = await c.get("/health")
        return health, unknown, missing, not_ready

    health, unknown, missing, not_ready = stages(scenario)
    doc = health.json()
    assert health.status_code == 200 and doc["status"] == "ok"
    assert {c["name"] for c in doc["chains"].values()} == {"hub", "rollup-a", "rollup-b"}
    assert doc["counters"]["batches"] == 0 and "queue" in doc and len(doc["guardians"]) == 3
    assert unknown.status_code == 404 and unknown.json()["detail"] == "unknown message id"
    assert missing.status_code == 404
    assert not_ready.status_code == 503 and not_ready.json()["status"] == "starting"
