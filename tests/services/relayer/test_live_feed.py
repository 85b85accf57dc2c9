"""The guardians' live feed: a message block's signatures reach the relayer as they are made, so
its quorum needs no request; a pushed signature that does not recover to its signer never counts."""

from __future__ import annotations

import asyncio
import time


def test_a_message_blocks_quorum_is_pushed_before_anyone_asks(stage_net, stages):
    src, dst = stage_net.chain_id("rollup-a"), stage_net.chain_id("rollup-b")

    async def scenario(ctx):
        pool = ctx.guardians
        asked: list[str] = []
        real_get = pool.getter.get

        async def counted(url: str, timeout: float):
            asked.append(url)
            return await real_get(url, timeout)

        pool.getter.get = counted
        pool.listen()
        deadline = time.monotonic() + 10
        while len(pool.live) < len(pool.urls) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        live = set(pool.live)
        sent = await asyncio.to_thread(stage_net.send, "rollup-a", "rollup-b", b"live")  # loop keeps reading
        block = sent.block
        gset = ctx.sets[dst]
        deadline = time.monotonic() + 10  # nobody asks: the signatures can only come pushed
        while len(pool.known(src, block)) < gset.threshold and time.monotonic() < deadline:
            await asyncio.sleep(0.001)
        quorum = await pool.quorum(src, block, gset.members, gset.threshold, wait=2.0, pushed=True)
        return live, block, quorum, asked, gset

    live, block, quorum, asked, gset = stages(scenario)
    assert len(live) == len(stage_net.manifest.guardians.members)
    assert quorum.attestation.block_number == block and quorum.for_set(gset.members, gset.threshold)
    assert asked == []  # the live feeds brought the quorum: no guardian was asked


def test_a_pushed_signature_counts_only_for_the_signer_it_recovers_to(stage_net, stages):
    src = stage_net.chain_id("rollup-a")
    honest, sigs = stage_net.attest("rollup-a", stage_net.w3["rollup-a"].eth.block_number)
    members = stage_net.manifest.guardians.members

    async def scenario(ctx):
        pool = ctx.guardians
        doc = {
            "chain_id": src,
            "block_number": honest.block_number,
            "block_hash": "0x" + honest.block_hash.hex(),
            "state_root": "0x" + honest.state_root.hex(),
            "signature": "0x" + sigs[0].hex(),
            "signer": members[0].address,
        }
        url = pool.urls[0]
        verdicts = [
            pool._accept(url, dict(doc, signer=members[1].address)),  # names someone else
            pool._accept(url, dict(doc, state_root="0x" + "77" * 32)),  # signed another root
            pool._accept(url, dict(doc, signature="0x1234")),  # not a signature
            pool._accept(url, {"chain_id": src}),  # not an attestation
            pool._accept(url, doc),  # the real thing
        ]
        return verdicts, pool.known(src, honest.block_number)

    verdicts, known = stages(scenario)
    assert verdicts == [False, False, False, False, True]
    assert [att for att, _ in known] == [honest]


def test_pushes_of_blocks_without_messages_are_checked_only_when_needed(stage_net, stages):
    src = stage_net.chain_id("hub")
    honest, sigs = stage_net.attest("hub", stage_net.w3["hub"].eth.block_number, signers=[0, 1])
    members = stage_net.manifest.guardians.members

    async def scenario(ctx):
        pool = ctx.guardians
        docs = [
            {
                "chain_id": src,
                "block_number": honest.block_number,
                "block_hash": "0x" + honest.block_hash.hex(),
                "state_root": "0x" + honest.state_root.hex(),
                "signature": "0x" + sig.hex(),
                "signer": members[i].address,
                "message_block": False,
            }
            for i, sig in enumerate(sigs)
        ]
        forged = dict(docs[0], state_root="0x" + "77" * 32)
        for junk in (float("inf"), 1e400, float("nan"), "x", None):  # JSON Infinity / 1e400 parse as floats
            assert pool._take_push(pool.urls[0], dict(docs[0], chain_id=junk)) is False
        taken = [pool._take_push(pool.urls[i], d) for i, d in enumerate([*docs, forged])]
        held_before = dict(pool._cache)  # nothing checked yet
        gset = ctx.sets[stage_net.chain_id("rollup-a")]
        quorum = pool.cached(src, honest.block_number, gset.members, gset.threshold)  # checked now
        return taken, held_before, quorum, pool.known(src, honest.block_number)

    taken, held_before, quorum, known = stages(scenario)
    assert taken == [False, False, False] and held_before == {}
    assert quorum is not None and quorum.attestation == honest and len(quorum.signatures) == 2
    assert {att for att, _ in known} == {honest}  # the forged push never counted


def test_a_guardian_flooding_its_feed_gets_only_so_many_signatures_checked(stage_net, stages):
    """Checking a pushed signature (recovering its signer) costs the relayer CPU: a guardian pushing
    more than PUSH_CHECKS_PER_S a second has the rest held, checked only if a quorum needs them."""
    from services.relayer.guardians import PUSH_CHECKS_PER_S

    src = stage_net.chain_id("hub")

    async def scenario(ctx):
        pool = ctx.guardians
        checked: list[int] = []
        real_accept = pool._accept

        def counted(url, doc):
            checked.append(doc["block_number"])
            return real_accept(url, doc)

        pool._accept = counted
        flood = PUSH_CHECKS_PER_S + 500
        began = time.monotonic()
        for n in range(flood):  # garbage, each for its own block
            doc = {
                "chain_id": src,
                "block_number": 10**6 + n,
                "block_hash": "0x" + "11" * 32,
                "state_root": "0x" + "22" * 32,
                "signature": "0x" + "33" * 65,
                "message_block": True,
            }
            pool._take_push(pool.urls[0], doc)
        flooded, took = len(checked), time.monotonic() - began
        other = dict(doc, block_number=1, message_block=True)
        pool._take_push(pool.urls[1], other)
        return flooded, took, len(checked) - flooded, len(pool._unchecked)

    flooded, took, other, held = stages(scenario)
    if took < 1.0:  # all within one second (a very slow machine spreads them over two)
        assert flooded == PUSH_CHECKS_PER_S and held == 500  # the rest kept (bounded), checked only if needed
    assert flooded < PUSH_CHECKS_PER_S + 500
    assert other == 1  # another guardian is not held back
