"""A guardian whose store was lost never signs a second root for a height it signed before.

Seen on a running devnet: guardian-0 signed rollup-a's block 1948; the block was rewound
(evm_revert) and re-mined with another hash; guardian-0, restarted with an empty store, signed
the new root for 1948: an equivocation (slashable evidence against an honest key). Its
signatures that reached a registry are in that registry's AttestationSubmitted logs; a guardian
reads them back at start. (Here: the stage net's chains and registries, a Guardian in-process.)
"""

from __future__ import annotations

import asyncio

from services.guardian.service import Guardian


def test_a_guardian_with_an_empty_store_keeps_the_roots_it_signed_on_chain(stage_net, tmp_path):
    src = stage_net.w3["rollup-a"].provider
    snapshot = src.make_request("evm_snapshot", [])["result"]
    sent = stage_net.send("rollup-a", "rollup-b", b"signed, rewound, store lost")  # < 32 bytes: counts 1
    stage_net.relay(sent)  # guardians 0 and 1 sign block `sent.block`; rollup-b's registry stores it
    a = stage_net.chain_id("rollup-a")
    stored = stage_net.contract("rollup-b", "StateRootRegistry").functions.rootAt(a, sent.block).call()
    assert src.make_request("evm_revert", [snapshot])["result"]
    while stage_net.w3["rollup-a"].eth.block_number < sent.block:  # the height again, another block
        src.make_request("evm_mine", [])
    assert stage_net.w3["rollup-a"].eth.get_block(sent.block).stateRoot != bytes(stored)

    async def scenario():
        g = Guardian(stage_net.manifest, 0, tmp_path / "empty.sqlite")
        await g.start()
        try:
            recalled = g.store.get(a, sent.block)
            # the source now has another block at that height: asked again, it keeps its word
            answer = g.sign_block(a, sent.block, b"\x01" * 32, b"\x02" * 32)
            return recalled, answer, g.refusals
        finally:
            await g.close()

    recalled, answer, refusals = asyncio.run(scenario())
    assert recalled is not None and recalled.state_root == bytes(stored)
    assert answer.state_root == bytes(stored) and refusals >= 1  # the new head was refused too
