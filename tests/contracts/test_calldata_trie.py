"""CalldataTrie (the gateway's hand-written proof walker) against OZ TrieProof on real anvil proofs."""

from __future__ import annotations

import random

import pytest
import rlp
from eth_utils import keccak
from web3.exceptions import ContractLogicError

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
