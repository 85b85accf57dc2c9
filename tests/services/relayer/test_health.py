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
    assert unknown.status_code == 404 and unknown.json()["error"]["message"] == "unknown message id"
    assert missing.status_code == 404
    assert not_ready.status_code == 503 and not_ready.json()["status"] == "starting"


def test_retry_route_requeues_a_failed_message(stage_net, stages):
    from services.relayer.scanner import Scanner

    sent = stage_net.send("rollup-b", "hub", b"retry me")
    delivered = stage_net.send("rollup-b", "hub", b"done", account=1)
    src = stage_net.chain_id("rollup-b")

    async def scenario(ctx):
        await Scanner(ctx, src, lambda _d: None).scan_range(0, ctx.links[src].head)
        ctx.queue.mark_failed(
            {sent.id: "Refused(42)"}, {sent.id: 0}, None, None, final={sent.id}, at=1.0, outcome="rejected"
        )
        ctx.queue.mark_delivered([delivered.id], "0xtx", 1, 1.0)
        app = build_app(ctx, {}, lambda: True, time.time())
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://relayer") as c:
            ok = await c.post(f"/v1/messages/{sent.id.upper().replace('0X', '0x')}/retry")
            again = await c.get(f"/v1/messages/{sent.id}")
            done = await c.post(f"/v1/messages/{delivered.id}/retry")
            unknown = await c.post("/v1/messages/0x" + "ab" * 32 + "/retry")
            bad = await c.post("/v1/messages/0x1234/retry")
            wrong_method = await c.get(f"/v1/messages/{sent.id}/retry")
        return ok, again, done, unknown, bad, wrong_method

    ok, again, done, unknown, bad, wrong_method = stages(scenario)
    assert ok.status_code == 200 and ok.json() == {"id": sent.id, "status": "pending"}
    doc = again.json()
    assert doc["status"] == "pending" and doc["failures"] == 0
    assert [a["outcome"] for a in doc["attempt_log"]] == ["rejected"]
    assert done.status_code == 409 and "already delivered" in done.json()["error"]["message"]
    assert unknown.status_code == 404 and bad.status_code == 422 and wrong_method.status_code == 405


def test_every_route_is_in_the_openapi_document():
    """A route added to the relayer without its description fails here (schemathesis tests only described ones)."""
    from services.relayer.openapi import relayer_document
    from tests.services.schemathesis_cli import route_table

    app = build_app(None, {}, lambda: True, 0.0)  # type: ignore[arg-type]  # handlers never run here
    served, described = route_table(app, relayer_document())
    assert served == described and len(served) == 3
