"""Root posting: a chain with foreign activity gets its newest root posted; the relayer's own does not."""

from __future__ import annotations

from services.relayer.roots import RootPoster


def test_roots_are_posted_once_per_new_foreign_block(stage_net, stages):
    sent = stage_net.send("rollup-a", "hub", b"activity")
    src = stage_net.chain_id("rollup-a")

    async def scenario(ctx):
        poster = RootPoster(ctx, interval=1.0)
        link = ctx.links[src]
        await poster.post(src, link)
        posted = ctx.counters.roots_posted
        await poster.post(src, link)  # nothing new since: no second post
        return posted, ctx.counters.roots_posted, link.head

    posted, again, head = stages(scenario)
    assert posted == 2 and again == 2  # to hub and rollup-b
    for dst in ("hub", "rollup-b"):
        reg = stage_net.contract(dst, "StateRootRegistry")
        assert reg.functions.latestRoot(src).call()[0] >= sent.block
    assert head >= sent.block
