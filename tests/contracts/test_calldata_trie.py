"""CalldataTrie (the gateway's hand-written proof walker) against OZ TrieProof on real anvil proofs."""

from __future__ import annotations

import random

import pytest
import rlp
from eth_utils import keccak
from web3.exceptions import ContractLogicError
from web3.logs import DISCARD

from services.protocol import commitment_slot, compress_storage_proofs
from tests.contracts.conftest import DEV

A = "rollup-a"


@pytest.fixture
def diff(net):
    return net.deploy(A, "TrieProofDiff")


def _both(diff, root, key, proof):
    mine = diff.functions.calldataGet(root, key, proof).call()
    try:
        oz = diff.functions.ozGet(root, key, proof).call()
    except ContractLogicError:
        oz = [255, b""]  # OZ reverts on some malformed input
    return mine, oz


def _agree(mine, oz, value):
    """Same leaf as OZ; where OZ has none, CalldataTrie proves absence exactly for unset slots."""
    if oz[0] == 0:
        assert mine == oz
    elif value == 0:
        assert mine == [0, b""]  # exclusion proof (OZ TrieProof only proves inclusion)
    else:
        assert mine[0] != 0


def test_valid_account_and_storage_proofs_agree(net, diff):
    fixture = net.deploy(A, "StorageFixture")
    rng = random.Random(7)
    slots = [rng.randbytes(32) for _ in range(40)] + [(i).to_bytes(32, "big") for i in range(10)]
    # pairs of slots whose trie keys share 5 nibbles: extension nodes (odd and even paths)
    by_prefix: dict[str, bytes] = {}
    for i in range(6000):
        slot = (10**6 + i).to_bytes(32, "big")
        prefix = keccak(slot).hex()[:5]
        if prefix in by_prefix:
            slots += [by_prefix.pop(prefix), slot]
        else:
            by_prefix[prefix] = slot
    assert len(slots) > 56
    for i, slot in enumerate(slots):
        value = (rng.getrandbits(8 * rng.choice((1, 2, 20, 32))) or 1).to_bytes(32, "big")
        net.transact(A, fixture.functions.set(slot, value), DEV[i % 10].address)
    block = net.w3[A].eth.get_block("latest")
    accounts = [fixture.address, net.addr["MetalayerGateway"], net.addr["EraToken"], *[d.address for d in DEV]]
    for account in accounts:
        proof = net.w3[A].provider.make_request("eth_getProof", [account, [], hex(block.number)])["result"]
        nodes = [bytes.fromhex(n[2:]) for n in proof["accountProof"]]
        mine, oz = _both(diff, block.stateRoot, keccak(bytes.fromhex(account[2:])), nodes)
        assert mine[0] == 0 and mine == oz
    missing = [rng.randbytes(32) for _ in range(10)]
    proof = net.w3[A].provider.make_request(
        "eth_getProof", [fixture.address, ["0x" + s.hex() for s in slots + missing], hex(block.number)]
    )["result"]
    root = bytes.fromhex(proof["storageHash"][2:])
    extensions = set()
    for entry in proof["storageProof"]:
        key = keccak(bytes.fromhex(entry["key"][2:].rjust(64, "0")))
        nodes = [bytes.fromhex(n[2:]) for n in entry["proof"]]
        for node in nodes:
            items = rlp.decode(node)
            if len(items) == 2 and items[0][0] >> 4 in (0, 1):
                extensions.add(items[0][0] >> 4)
        mine, oz = _both(diff, root, key, nodes)
        _agree(mine, oz, int(entry["value"], 16))
        assert mine[0] == 0 and (mine[1] != b"") == (int(entry["value"], 16) != 0)
    assert extensions, "no extension node was exercised"


def test_tampered_proofs_are_rejected_by_both(net, diff):
    msgs = [net.send_message(A, "rollup-b", DEV[1].address, bytes([i]))[0] for i in range(20)]
    block = net.w3[A].eth.get_block("latest")
    proof = net.w3[A].provider.make_request(
        "eth_getProof", [net.addr["MetalayerGateway"], ["0x" + m.slot.hex() for m in msgs], hex(block.number)]
    )["result"]
    root = bytes.fromhex(proof["storageHash"][2:])
    rng = random.Random(11)
    for entry, msg in zip(proof["storageProof"], msgs):
        key = keccak(msg.slot)
        nodes = [bytes.fromhex(n[2:]) for n in entry["proof"]]
        assert _both(diff, root, key, nodes)[0] == [0, b"\x01"]
        variants = [
            nodes[:-1],  # truncated
            nodes + [nodes[-1]],  # extra element
            nodes[1:],  # missing root
            [nodes[0], nodes[0], *nodes[1:]],
        ]
        for _ in range(4):  # one flipped byte somewhere
            j = rng.randrange(len(nodes))
            raw = bytearray(nodes[j])
            raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
            variants.append([*nodes[:j], bytes(raw), *nodes[j + 1 :]])
        for variant in variants:
            mine, oz = _both(diff, root, key, variant)
            assert mine[0] != 0 and oz[0] != 0
        # right proof, wrong key / wrong root
        assert _both(diff, root, keccak(b"other"), nodes)[0][0] != 0
        assert _both(diff, keccak(b"root"), key, nodes)[0][0] == 2  # INVALID_ROOT


def _has_inline_node(nodes: list[bytes]) -> bool:
    """Whether a proof node embeds a child node (an RLP list instead of a 32-byte hash)."""
    def embedded(item) -> bool:
        return isinstance(item, list)
    for node in nodes:
        items = rlp.decode(node)
        extension = len(items) == 2 and items[0][0] >> 4 in (0, 1)
        children = items[:16] if len(items) == 17 else items[1:] if extension else []
        if any(embedded(c) for c in children):
            return True
    return False


def _colliding(keys_a: dict[bytes, bytes], keys_b: dict[bytes, bytes] | None = None) -> tuple[bytes, bytes]:
    """Two entries whose trie keys share their first 8 nibbles (then both leaves are < 32 bytes,
    embedded in their branch). keys_*: trie key -> what produced it. Birthday search, bounded."""
    by_prefix = {k[:4]: v for k, v in keys_a.items()}
    for k, v in (keys_b or keys_a).items():
        other = by_prefix.get(k[:4])
        if other is not None and other != v:
            return other, v
    raise AssertionError("no pair with a shared 32-bit key prefix in the search space")


def test_inline_nodes_agree_with_oz(net, diff):
    fixture = net.deploy(A, "StorageFixture")
    candidates = {keccak(i.to_bytes(32, "big")): i.to_bytes(32, "big") for i in range(200_000)}
    s1, s2 = _colliding(candidates)
    for slot, value in ((s1, 5), (s2, 7)):
        net.transact(A, fixture.functions.set(slot, value.to_bytes(32, "big")), DEV[0].address)
    block = net.w3[A].eth.get_block("latest").number
    slots = ["0x" + s1.hex(), "0x" + s2.hex()]
    proof = net.w3[A].provider.make_request("eth_getProof", [fixture.address, slots, hex(block)])["result"]
    root = bytes.fromhex(proof["storageHash"][2:])
    for entry, slot, value in zip(proof["storageProof"], (s1, s2), (5, 7), strict=True):
        nodes = [bytes.fromhex(n[2:]) for n in entry["proof"]]
        assert _has_inline_node(nodes), "the proof has no inline node"
        mine, oz = _both(diff, root, keccak(slot), nodes)
        assert oz == [0, bytes([value])] and mine == oz
        # both forms of an embedded leaf: repeated as its own proof element (anvil) or not (geth)
        if len(nodes[-1]) < 32:
            other = nodes[:-1]
        else:
            branch = rlp.decode(nodes[-1])
            leaf = next(c for c in branch[:16] if isinstance(c, list) and _leaf_for(c, keccak(slot)))
            other = [*nodes, rlp.encode(leaf)]
        mine, oz = _both(diff, root, keccak(slot), other)
        assert oz == [0, bytes([value])] and mine == oz
        # tampering with the embedded leaf (in its parent, or its repeated copy) is caught
        parent = max(j for j, n in enumerate(other) if len(n) >= 32)
        for variant in (nodes, other):
            for j in (parent, len(variant) - 1):
                bad = bytearray(variant[j])
                bad[-1] ^= 1
                assert _both(diff, root, keccak(slot), [*variant[:j], bytes(bad), *variant[j + 1 :]])[0][0] != 0


def _leaf_for(item: list, key: bytes) -> bool:
    path = item[0]
    nibbles = path.hex()[1:] if path[0] >> 4 == 3 else path.hex()[2:]
    return key.hex().endswith(nibbles)


def test_messages_whose_commitment_leaves_are_inline_are_delivered(net):
    gw_a = net.c(A, "MetalayerGateway")
    src, dst = net.chain_id[A], net.chain_id["rollup-b"]
    recipient = net.deploy("rollup-b", "ToggleRecipient", net.addr["MetalayerGateway"]).address
    sender = DEV[0].address
    nonce = gw_a.functions.outboundNonce().call() + 1

    def keys(n: int) -> dict[bytes, bytes]:
        words = b"".join(x.to_bytes(32, "big") for x in (src, dst, n))
        head = words + bytes(12) + bytes.fromhex(sender[2:]) + bytes(12) + bytes.fromhex(recipient[2:])
        out = {}
        for i in range(150_000):
            payload = i.to_bytes(4, "big")
            msg_id = keccak(head + keccak(payload))
            out[keccak(commitment_slot(msg_id))] = payload
        return out

    p1, p2 = _colliding(keys(nonce), keys(nonce + 1))
    m1, _ = net.send_message(A, "rollup-b", recipient, p1, sender)
    m2, _ = net.send_message(A, "rollup-b", recipient, p2, sender)
    assert (m1.nonce, m2.nonce) == (nonce, nonce + 1)
    att = net.attest(A, "rollup-b")
    acct, sps = net.proofs(A, [m1, m2], att.block_number)
    assert all(_has_inline_node(p) for p in sps)
    gw_b = net.c("rollup-b", "MetalayerGateway")
    fn = gw_b.functions.deliverBatch(src, att.block_number, acct, [m1.as_tuple(), m2.as_tuple()], compress_storage_proofs(sps))
    receipt = net.transact("rollup-b", fn, DEV[5].address)
    assert len(gw_b.events.MessageDelivered().process_receipt(receipt, errors=DISCARD)) == 2
    assert all(gw_b.functions.isMessageDelivered(src, m.nonce, m.id).call() for m in (m1, m2))
