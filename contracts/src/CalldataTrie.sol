// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {TrieProof} from "@openzeppelin/contracts/utils/cryptography/TrieProof.sol";

/**
 * @title CalldataTrie
 * @notice Merkle-Patricia inclusion proofs (eth_getProof nodes) verified straight from calldata.
 *
 * Why hand-written: OZ `TrieProof` (memory based, RLP decoding into slices) measured ~120k gas per
 * proof here, which alone breaks the delivery gas targets (<=150k unbatched, <=45k per batched
 * message). This walks the nodes in place in calldata (one keccak per node, no decoding into memory)
 * and reports failures with OZ's `TrieProof.ProofError` codes. It is differential-tested against
 * OZ `TrieProof` (contracts/src/testing/TrieProofDiff.sol, tests/contracts/test_calldata_trie.py).
 *
 * Scope: secure tries with 32-byte keys (keccak of the address or slot), i.e. Ethereum state and
 * storage tries. Inline (< 32-byte, embedded in their parent) nodes are followed in place; like OZ,
 * an inline node may also be repeated as the next proof element. Exclusion proofs: when the proof
 * shows the key is absent (an empty branch child, or a leaf / extension whose path diverges from the
 * key, in the last proof element; or an empty proof of the empty trie) the result is NO_ERROR with
 * an empty value (valueLength 0); a present leaf never has an empty value (EMPTY_VALUE).
 */
library CalldataTrie {
    /**
     * @notice Walk `proof` from `root` along `key`; on success return the leaf value (an RLP item) as
     * a calldata range.
     * @return err NO_ERROR on success
     * @return valueOffset calldata offset of the leaf value's payload
     * @return valueLength its length
     */
    function get(bytes32 root, bytes32 key, bytes[] calldata proof)
        internal
        pure
        returns (TrieProof.ProofError err, uint256 valueOffset, uint256 valueLength)
    {
        return get(root, key, proof, 0);
    }

    /// @notice Root of the empty trie (keccak256 of RLP("")).
    bytes32 internal constant EMPTY_TRIE_ROOT = 0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421;

    /// @notice A buffer for {get} with node reuse: `MAX_NODES` node offsets of the previous proof.
    uint256 internal constant MAX_NODES = 64;

    function newReuseBuffer() internal pure returns (uint256 buffer) {
        assembly ("memory-safe") {
            buffer := mload(0x40)
            mstore(0x40, add(buffer, shl(5, MAX_NODES)))
            calldatacopy(buffer, calldatasize(), shl(5, MAX_NODES)) // zero it
        }
    }

    /**
     * @notice Like {get}, but an empty node at position j stands for node j of the previous proof
     * walked with the same `reuse` buffer (see {newReuseBuffer}; 0 = no reuse). Batches use it so
     * the nodes shared by consecutive storage proofs (the top of the trie) are sent once. A reused
     * node is hash-checked like any other, so reuse cannot change what is proven.
     */
    function get(bytes32 root, bytes32 key, bytes[] calldata proof, uint256 reuse)
        internal
        pure
        returns (TrieProof.ProofError err, uint256 valueOffset, uint256 valueLength)
    {
        uint256 code;
        assembly ("memory-safe") {
            // Every node is authenticated by its hash before it is parsed (the root node against
            // `root`, every other one against the reference in its parent), so only genuine,
            // well-formed trie nodes are ever parsed: parsing can stay minimal.

            // RLP string/list header at `ptr`: payload offset and length
            function header(ptr) -> pOff, pLen {
                let b := byte(0, calldataload(ptr))
                switch lt(b, 0x80)
                case 1 {
                    pOff := ptr
                    pLen := 1
                }
                default {
                    let base := 0x80
                    if gt(b, 0xbf) { base := 0xc0 }
                    let sl := sub(b, base)
                    switch lt(sl, 56)
                    case 1 {
                        pOff := add(ptr, 1)
                        pLen := sl
                    }
                    default {
                        let ll := sub(sl, 55)
                        pOff := add(add(ptr, 1), ll)
                        pLen := shr(sub(256, shl(3, ll)), calldataload(add(ptr, 1)))
                    }
                }
            }
            function nibble(word, i) -> n {
                n := and(shr(shl(2, iszero(and(i, 1))), byte(shr(1, i), word)), 0xf)
            }

            // Leaf or extension node [path, value | child] whose list payload starts at `p`: compares
            // the hex-prefix path with the key from `depth`. Returns the next hash (extension) or the
            // leaf value packed as (offset << 64) | length.
            function short(p, k, depth, last) -> e, h, d, v {
                let p0, n0 := header(p)
                if iszero(n0) {
                    e := 5 // EMPTY_PATH
                    leave
                }
                let leaf := 0
                {
                    let flag := shr(4, byte(0, calldataload(p0)))
                    leaf := shr(1, flag)
                    let odd := and(flag, 1)
                    let plen := sub(shl(1, n0), sub(2, odd))
                    if or(gt(flag, 3), gt(add(depth, plen), 64)) {
                        e := 6 // INVALID_PATH_REMAINDER
                        leave
                    }
                    switch eq(and(depth, 1), odd)
                    case 1 {
                        // nibble-aligned with the key (always so for a leaf): compare whole bytes
                        if odd {
                            if iszero(eq(and(byte(0, calldataload(p0)), 0xf), nibble(k, depth))) {
                                e := 100 // the path diverges from the key
                                leave
                            }
                        }
                        let sh := shl(3, sub(33, n0))
                        if iszero(eq(shr(sh, calldataload(add(p0, 1))), shr(sh, shl(shl(3, shr(1, add(depth, 1))), k)))) {
                            e := 100
                            leave
                        }
                    }
                    default {
                        // plen <= 63 here, so every path nibble is in the first word
                        for { let j := 0 } lt(j, plen) { j := add(j, 1) } {
                            if iszero(eq(nibble(calldataload(p0), add(j, sub(2, odd))), nibble(k, add(depth, j)))) {
                                e := 100
                                leave
                            }
                        }
                    }
                    d := add(depth, plen)
                }
                let q, n1 := header(add(p0, n0))
                switch leaf
                case 0 {
                    // extension: the child is a 32-byte hash or an inline (< 32-byte) list
                    if eq(d, depth) {
                        e := 7 // EMPTY_EXTENSION_PATH_REMAINDER
                        leave
                    }
                    let c := byte(0, calldataload(add(p0, n0)))
                    switch and(eq(n1, 32), eq(c, 0xa0))
                    case 1 { h := calldataload(q) }
                    default {
                        if iszero(and(gt(c, 0xc0), lt(c, 0xe0))) {
                            e := 4 // INVALID_SHORT_NODE
                            leave
                        }
                        e := 101 // inline child at h
                        h := add(p0, n0)
                    }
                }
                default {
                    if iszero(eq(d, 64)) {
                        e := 10 // MISMATCH_LEAF_PATH_KEY_REMAINDER
                        leave
                    }
                    if iszero(last) {
                        e := 8 // INVALID_EXTRA_PROOF_ELEMENT
                        leave
                    }
                    if iszero(n1) {
                        e := 9 // EMPTY_VALUE
                        leave
                    }
                    v := or(shl(64, q), n1)
                }
            }

            // Child `nib` of a branch (16 children: 0x80 empty, 0xa0 + hash, or an inline list, then
            // the value) whose list payload starts at `p`: its hash, or the position of an inline child.
            function branchChild(p, nib) -> e, h {
                for { let c := 0 } lt(c, nib) { c := add(c, 1) } {
                    let b := byte(0, calldataload(p))
                    switch b
                    case 0x80 { p := add(p, 1) }
                    case 0xa0 { p := add(p, 33) }
                    default {
                        if iszero(and(gt(b, 0xc0), lt(b, 0xe0))) {
                            e := 4 // INVALID_SHORT_NODE
                            leave
                        }
                        p := add(p, sub(b, 0xbf))
                    }
                }
                let b := byte(0, calldataload(p))
                switch b
                case 0xa0 { h := calldataload(add(p, 1)) }
                case 0x80 { e := 100 } // empty child: the key is not in the trie
                default {
                    switch and(gt(b, 0xc0), lt(b, 0xe0))
                    case 1 {
                        e := 101 // inline child at h
                        h := p
                    }
                    default { e := 4 }
                }
            }

            // Hash the node whose ABI-encoded `bytes` starts at `node` (copied past the free memory pointer).
            function nodeHash(node) -> h {
                let len := calldataload(node)
                let scratch := mload(0x40)
                calldatacopy(scratch, add(node, 0x20), len)
                h := keccak256(scratch, len)
            }

            // Payload position of the node (RLP list) at `ptr` and whether it is a leaf / extension (2 items).
            function open(ptr) -> p, isShort {
                let n := 0
                p, n := header(ptr)
                let p0, n0 := header(p)
                let q1, n1 := header(add(p0, n0))
                isShort := eq(add(q1, n1), add(p, n))
            }

            // Whether proof element `node` (ABI `bytes` in calldata) is exactly the inline node at `inl`.
            function sameAsInline(node, inl) -> same {
                let len := add(byte(0, calldataload(inl)), sub(1, 0xc0))
                if eq(calldataload(node), len) {
                    let sh := shl(3, sub(32, len))
                    same := eq(shr(sh, calldataload(add(node, 0x20))), shr(sh, calldataload(inl)))
                }
            }

            // Returns e = 0 with v = 0 when the proof shows the key is absent.
            function walk(expected, k, proofOffset, count, buf) -> e, v {
                let depth := 0
                let inl := 0 // calldata position of an inline node to walk next (0: the next element)
                let i := 0
                for { } 1 { } {
                    let p := 0
                    let isShort := 0
                    switch inl
                    case 0 {
                        if iszero(lt(i, count)) {
                            e := 13 // INVALID_PROOF: ran out of nodes
                            leave
                        }
                        let node := add(proofOffset, calldataload(add(proofOffset, shl(5, i))))
                        if buf {
                            if gt(i, 63) {
                                e := 13
                                leave
                            }
                            let slot := add(buf, shl(5, i))
                            switch calldataload(node)
                            case 0 { node := mload(slot) }
                            default { mstore(slot, node) }
                            if iszero(node) {
                                e := 13 // INVALID_PROOF: nothing to reuse
                                leave
                            }
                        }
                        if iszero(eq(nodeHash(node), expected)) {
                            e := 3 // INVALID_LARGE_NODE
                            if iszero(i) { e := 2 } // INVALID_ROOT
                            leave
                        }
                        p, isShort := open(add(node, 0x20))
                        i := add(i, 1)
                    }
                    default {
                        // authenticated as part of its parent; OZ also accepts it repeated as the next element
                        p, isShort := open(inl)
                        if lt(i, count) {
                            if sameAsInline(add(proofOffset, calldataload(add(proofOffset, shl(5, i)))), inl) {
                                i := add(i, 1)
                            }
                        }
                        inl := 0
                    }
                    switch isShort
                    case 1 {
                        e, expected, depth, v := short(p, k, depth, eq(i, count))
                        if eq(e, 101) {
                            e := 0
                            inl := expected
                        }
                        if eq(e, 100) {
                            e := 6 // INVALID_PATH_REMAINDER, unless it proves absence
                            if eq(i, count) { e := 0 }
                            leave
                        }
                        if e { leave }
                        if v { leave }
                    }
                    default {
                        // a 32-byte key never ends in a branch
                        if eq(depth, 64) {
                            e := 13
                            leave
                        }
                        e, expected := branchChild(p, nibble(k, depth))
                        if eq(e, 101) {
                            e := 0
                            inl := expected
                        }
                        if eq(e, 100) {
                            e := 13 // INVALID_PROOF, unless it proves absence
                            if eq(i, count) { e := 0 }
                            leave
                        }
                        if e { leave }
                        depth := add(depth, 1)
                    }
                }
            }

            let packed := 0
            switch and(iszero(proof.length), eq(root, EMPTY_TRIE_ROOT))
            case 1 { } // the empty trie: every key is absent
            default { code, packed := walk(root, key, proof.offset, proof.length, reuse) }
            valueOffset := shr(64, packed)
            valueLength := and(packed, 0xffffffffffffffff)
        }
        err = TrieProof.ProofError(code);
    }

    /// @notice The storage root from an account leaf value (RLP [nonce, balance, storageRoot, codeHash]).
    function storageRoot(uint256 valueOffset, uint256 valueLength) internal pure returns (bool ok, bytes32 root) {
        assembly ("memory-safe") {
            function item(ptr, end) -> ok_, isList, pOff, pLen, next {
                if iszero(lt(ptr, end)) { leave }
                let b := byte(0, calldataload(ptr))
                switch lt(b, 0x80)
                case 1 {
                    pOff := ptr
                    pLen := 1
                }
                default {
                    switch lt(b, 0xb8)
                    case 1 {
                        pOff := add(ptr, 1)
                        pLen := sub(b, 0x80)
                    }
                    default {
                        switch lt(b, 0xc0)
                        case 1 {
                            let ll := sub(b, 0xb7)
                            pOff := add(add(ptr, 1), ll)
                            pLen := shr(sub(256, mul(8, ll)), calldataload(add(ptr, 1)))
                        }
                        default {
                            isList := 1
                            switch lt(b, 0xf8)
                            case 1 {
                                pOff := add(ptr, 1)
                                pLen := sub(b, 0xc0)
                            }
                            default {
                                let ll := sub(b, 0xf7)
                                pOff := add(add(ptr, 1), ll)
                                pLen := shr(sub(256, mul(8, ll)), calldataload(add(ptr, 1)))
                            }
                        }
                    }
                }
                next := add(pOff, pLen)
                if gt(pLen, 0xffffffff) { leave }
                if gt(next, end) { leave }
                ok_ := 1
            }
            // Yul binds every value item() returns; the unused ones carry solhint markers.
            function account(off, len) -> ok_, r {
                let end := add(off, len)
                // solhint-disable-next-line no-unused-vars
                let okl, isList, p, n, x := item(off, end)
                if or(iszero(okl), iszero(isList)) { leave }
                let listEnd := add(p, n)
                // solhint-disable-next-line no-unused-vars
                let ok1, l1, p1, n1, x1 := item(p, listEnd) // nonce
                if or(iszero(ok1), l1) { leave }
                // solhint-disable-next-line no-unused-vars
                let ok2, l2, p2, n2, x2 := item(x1, listEnd) // balance
                if or(iszero(ok2), l2) { leave }
                // solhint-disable-next-line no-unused-vars
                let ok3, l3, p3, n3, x3 := item(x2, listEnd) // storage root
                if or(or(iszero(ok3), l3), iszero(eq(n3, 32))) { leave }
                r := calldataload(p3)
                ok_ := 1
            }
            ok, root := account(valueOffset, valueLength)
        }
    }

    /// @notice The 32-byte word from a storage leaf value (RLP string of the trimmed big-endian value).
    function storageValue(uint256 valueOffset, uint256 valueLength) internal pure returns (bool ok, bytes32 value) {
        assembly ("memory-safe") {
            if lt(0, valueLength) {
                let b := byte(0, calldataload(valueOffset))
                switch lt(b, 0x80)
                case 1 {
                    if eq(valueLength, 1) {
                        value := b
                        ok := 1
                    }
                }
                default {
                    let n := sub(b, 0x80)
                    if and(and(lt(b, 0xa1), gt(n, 0)), eq(valueLength, add(n, 1))) {
                        value := shr(sub(256, shl(3, n)), calldataload(add(valueOffset, 1)))
                        ok := 1
                    }
                }
            }
        }
    }
}
