"""Scanner: a real gateway's logs become queue rows, exactly once, with the cursor moved."""

from __future__ import annotations

from services.relayer.scanner import Scanner


def test_scan_ingests_each_message_once_and_wakes_its_destination(stage_net, stages):
    sent = stage_net.send("rollup-a", "rollup-b", b"scan me")
    src, dst = stage_net.chain_id("rollup-a"), stage_net.chain_id("rollup-b")
    woken: list[int] = []

    async def scenario(ctx):
        scanner = Scanner(ctx, src, woken.append)
        head = ctx.links[src].head
        new = await scanner.scan_range(0, head)
        again = await scanner.scan_range(0, head)  # a replayed range stores nothing twice
        return new, again, ctx.queue.get(sent.id), ctx.queue.cursor(src)

    new, again, row, cursor = stages(scenario)
    assert sent.id in new and again == []
    assert dst in woken and len(woken) == len(set(woken))  # each destination woken once
    assert cursor >= sent.block
    assert (row["src"], row["dst"], row["nonce"], bytes(row["payload"])) == (src, dst, sent.nonce, b"scan me")
    assert row["sender"].lower() == sent.sender.lower() and row["recipient"].lower() == sent.recipient.lower()
    assert row["sent_block"] == sent.block and row["sent_tx"] == sent.tx and row["status"] == "pending"
    assert row["seen_at"] >= row["mined_at"] > 0


def test_run_follows_new_heads(stage_net, stages):
    import asyncio

    src = stage_net.chain_id("hub")

    async def scenario(ctx):
        scanner = Scanner(ctx, src, lambda _dst: None)
        ctx.links[src].on_head = lambda _n: scanner.wake.set()
        task = asyncio.create_task(scanner.run())
        try:
            sent = await asyncio.to_thread(stage_net.send, "hub", "rollup-a", b"followed")
            for _ in range(200):
                if ctx.queue.get(sent.id) is not None:
                    return sent, ctx.queue.get(sent.id)
                await asyncio.sleep(0.02)
            return sent, None
        finally:
            task.cancel()

    sent, row = stages(scenario)
    assert row is not None and bytes(row["payload"]) == b"followed"


def test_pushed_logs_store_a_message_and_ask_its_proof_before_the_scan(stage_net, stages):
    import asyncio

    from services.protocol.messages import commitment_slot

    src, dst = stage_net.chain_id("rollup-b"), stage_net.chain_id("hub")
    woken: list[int] = []

    async def scenario(ctx):
        scanner = Scanner(ctx, src, woken.append)
        scanner.cursor = ctx.links[src].head  # as if scanned up to here (run() is not started)
        await scanner.subscribe()
        for junk in ({"blockNumber": "0xzz"}, {"blockNumber": 5}, {"blockNumber": hex(10**6), "topics": []}, {}):
            scanner._on_log(junk)  # not a log: ignored, and the pushes after it still count
        await asyncio.sleep(0)
        sent = await asyncio.to_thread(stage_net.send, "rollup-b", "hub", b"pushed")
        for _ in range(250):
            if ctx.queue.get(sent.id) is not None:
                break
            await asyncio.sleep(0.02)
        row = ctx.queue.get(sent.id)
        proof = ctx.prefetch.take(src, sent.block, [commitment_slot(bytes.fromhex(sent.id[2:]))])
        cursor = ctx.queue.cursor(src)
        again = await scanner.scan_range(scanner.cursor + 1, ctx.links[src].head)  # the scan confirms it
        return sent, row, proof is not None, cursor, again, ctx.queue.get(sent.id), ctx.queue.cursor(src)

    sent, row, prefetched, cursor_before, again, confirmed, cursor_after = stages(scenario)
    assert row is not None and bytes(row["payload"]) == b"pushed" and row["sent_block"] == sent.block
    assert row["sent_time"] is not None and row["seen_at"] >= row["mined_at"] > 0
    assert prefetched and woken == [dst]
    assert cursor_before is None or cursor_before < sent.block  # stored ahead of the scan
    assert again == [] and confirmed["status"] == "pending" and cursor_after >= sent.block
