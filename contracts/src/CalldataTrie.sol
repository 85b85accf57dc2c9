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
 * storage tries. Inline (< 32-byte) child nodes are not supported (INVALID_SHORT_NODE); with keccak
 * keys they only occur in tries of astronomical size. Exclusion proofs return INVALID_PROOF
 * (no revert), so a slot that is not set cannot be "proven".
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
        uint256 code;
        uint256 packed;
        assembly ("memory-safe") {
            // An RLP item is packed as (kind << 128) | (payloadOffset << 64) | payloadLength,
            // kind 1 = string, 2 = list; 0 = malformed or not within `end`.
            function item(ptr, end) -> it {
                if iszero(lt(ptr, end)) { leave }
                let b := byte(0, calldataload(ptr))
                let kind := 1
                let pOff := add(ptr, 1)
                let pLen := 1
                switch lt(b, 0x80)
                case 1 { pOff := ptr }
                default {
                    switch lt(b, 0xb8)
                    case 1 { pLen := sub(b, 0x80) }
                    default {
                        switch lt(b, 0xc0)
                        case 1 {
                            let ll := sub(b, 0xb7)
                            pOff := add(pOff, ll)
                            pLen := shr(sub(256, shl(3, ll)), calldataload(add(ptr, 1)))
                        }
                        default {
                            kind := 2
                            switch lt(b, 0xf8)
                            case 1 { pLen := sub(b, 0xc0) }
                            default {
                                let ll := sub(b, 0xf7)
                                pOff := add(pOff, ll)
                                pLen := shr(sub(256, shl(3, ll)), calldataload(add(ptr, 1)))
                            }
                        }
                    }
                }
                if gt(pLen, 0xffffffff) { leave }
                if gt(add(pOff, pLen), end) { leave }
                it := or(shl(128, kind), or(shl(64, pOff), pLen))
            }
            function kindOf(it) -> r { r := shr(128, it) }
            function offOf(it) -> r { r := and(shr(64, it), 0xffffffffffffffff) }
            function lenOf(it) -> r { r := and(it, 0xffffffffffffffff) }
            function endOf(it) -> r { r := add(offOf(it), lenOf(it)) }
            function nibble(word, i) -> n {
                let b := byte(shr(1, i), word)
                switch and(i, 1)
                case 0 { n := shr(4, b) }
                default { n := and(b, 0xf) }
            }

            // Compare the hex-prefix encoded path in string item `a` with the key from `depth`.
            function path(a, k, depth) -> e, plen, leaf {
                if iszero(eq(kindOf(a), 1)) {
                    e := 12 // UNPARSEABLE_NODE
                    leave
                }
                let n0 := lenOf(a)
                if iszero(n0) {
                    e := 5 // EMPTY_PATH
                    leave
                }
                let p0 := offOf(a)
                let flag := shr(4, byte(0, calldataload(p0)))
                if gt(flag, 3) {
                    e := 11 // UNKNOWN_NODE_PREFIX
                    leave
                }
                leaf := shr(1, flag)
                let odd := and(flag, 1)
                plen := sub(shl(1, n0), sub(2, odd))
                if gt(add(depth, plen), 64) {
                    e := 6 // INVALID_PATH_REMAINDER
                    leave
                }
                switch eq(and(depth, 1), odd)
                case 1 {
                    // nibble-aligned with the key (always so for a leaf): compare whole bytes
                    if odd {
                        if iszero(eq(and(byte(0, calldataload(p0)), 0xf), nibble(k, depth))) {
                            e := 6
                            leave
                        }
                    }
                    let sh := shl(3, sub(33, n0))
                    if iszero(eq(shr(sh, calldataload(add(p0, 1))), shr(sh, shl(shl(3, shr(1, add(depth, 1))), k)))) {
                        e := 6
                        leave
                    }
                }
                default {
                    // plen <= 63 here, so every path nibble is in the first word
                    let skip := sub(2, odd)
                    let w := calldataload(p0)
                    for { let j := 0 } lt(j, plen) { j := add(j, 1) } {
                        if iszero(eq(nibble(w, add(j, skip)), nibble(k, add(depth, j)))) {
                            e := 6
                            leave
                        }
                    }
                }
            }

            // Hash reference of child `nib` of the branch whose items start at `p`.
            function child(p, end, nib) -> e, h {
                let it := 0
                for { let c := 0 } 1 { c := add(c, 1) } {
                    it := item(p, end)
                    if iszero(it) {
                        e := 12
                        leave
                    }
                    if eq(c, nib) { break }
                    p := endOf(it)
                }
                if eq(kindOf(it), 2) {
                    e := 4 // INVALID_SHORT_NODE: inline child nodes are not supported
                    leave
                }
                let n := lenOf(it)
                if iszero(n) {
                    e := 13 // INVALID_PROOF: empty child, the key is not in the trie
                    leave
                }
                if iszero(eq(n, 32)) {
                    e := 12
                    leave
                }
                h := calldataload(offOf(it))
            }

            // Leaf or extension node [path, value | child].
            function short(a, b, k, depth, last) -> e, h, d, v {
                let pe, plen, leaf := path(a, k, depth)
                if pe {
                    e := pe
                    leave
                }
                d := add(depth, plen)
                switch leaf
                case 0 {
                    if iszero(plen) {
                        e := 7 // EMPTY_EXTENSION_PATH_REMAINDER
                        leave
                    }
                    if eq(kindOf(b), 2) {
                        e := 4
                        leave
                    }
                    if iszero(eq(lenOf(b), 32)) {
                        e := 12
                        leave
                    }
                    h := calldataload(offOf(b))
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
                    if or(eq(kindOf(b), 2), iszero(lenOf(b))) {
                        e := 9 // EMPTY_VALUE
                        leave
                    }
                    v := b
                }
            }

            // One node (already hash-checked): error, next hash, new depth, leaf value item (0 = go on).
            function step(node, end, k, depth, last) -> e, h, d, v {
                let list := item(node, end)
                if or(iszero(eq(kindOf(list), 2)), iszero(eq(endOf(list), end))) {
                    e := 12
                    leave
                }
                let a := item(offOf(list), end)
                if iszero(a) {
                    e := 12
                    leave
                }
                let b := item(endOf(a), end)
                if iszero(b) {
                    e := 12
                    leave
                }
                switch eq(endOf(b), end)
                case 1 { e, h, d, v := short(a, b, k, depth, last) }
                default {
                    // branch: 16 children + value; keys are 32 bytes, so a key never ends in a branch
                    if eq(depth, 64) {
                        e := 13
                        leave
                    }
                    e, h := child(offOf(list), end, nibble(k, depth))
                    d := add(depth, 1)
                }
            }

            function walk(expected, k, proofOffset, count) -> e, v {
                let depth := 0
                for { let i := 0 } lt(i, count) { i := add(i, 1) } {
                    let node := add(proofOffset, calldataload(add(proofOffset, shl(5, i))))
                    let end := add(add(node, 0x20), calldataload(node))
                    node := add(node, 0x20)
                    calldatacopy(mload(0x40), node, sub(end, node))
                    if iszero(eq(keccak256(mload(0x40), sub(end, node)), expected)) {
                        e := 3 // INVALID_LARGE_NODE
                        if iszero(i) { e := 2 } // INVALID_ROOT
                        leave
                    }
                    e, expected, depth, v := step(node, end, k, depth, eq(add(i, 1), count))
                    if e { leave }
                    if v { leave }
                }
                e := 13 // INVALID_PROOF: ran out of nodes
            }

            code, packed := walk(root, key, proof.offset, proof.length)
            valueOffset := and(shr(64, packed), 0xffffffffffffffff)
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
            function account(off, len) -> ok_, r {
                let end := add(off, len)
                let okl, isList, p, n, x := item(off, end)
                if or(iszero(okl), iszero(isList)) { leave }
                let listEnd := add(p, n)
                let ok1, l1, p1, n1, x1 := item(p, listEnd) // nonce
                if or(iszero(ok1), l1) { leave }
                let ok2, l2, p2, n2, x2 := item(x1, listEnd) // balance
                if or(iszero(ok2), l2) { leave }
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
