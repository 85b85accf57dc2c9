// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {TrieProof} from "@openzeppelin/contracts/utils/cryptography/TrieProof.sol";
import {CalldataTrie} from "../CalldataTrie.sol";

/// @notice Test helper: runs CalldataTrie and OZ TrieProof on the same proof (differential testing, gas).
contract TrieProofDiff {
    /// @notice CalldataTrie.get: error code and the leaf value bytes.
    function calldataGet(bytes32 root, bytes32 key, bytes[] calldata proof)
        external
        pure
        returns (uint8 err, bytes memory value)
    {
        (TrieProof.ProofError e, uint256 off, uint256 len) = CalldataTrie.get(root, key, proof);
        value = msg.data[off:off + len];
        return (uint8(e), value);
    }

    /// @notice OZ TrieProof.tryTraverse on a 32-byte key.
    function ozGet(bytes32 root, bytes32 key, bytes[] calldata proof) external pure returns (uint8 err, bytes memory value) {
        TrieProof.ProofError e;
        (value, e) = TrieProof.tryTraverse(root, abi.encodePacked(key), proof);
        return (uint8(e), value);
    }

    /// @notice Gas of CalldataTrie.get alone.
    function calldataGas(bytes32 root, bytes32 key, bytes[] calldata proof) external view returns (uint256 used) {
        uint256 g = gasleft();
        CalldataTrie.get(root, key, proof);
        used = g - gasleft();
    }

    /// @notice Gas of OZ TrieProof.tryTraverse alone.
    function ozGas(bytes32 root, bytes32 key, bytes[] calldata proof) external view returns (uint256 used) {
        uint256 g = gasleft();
        TrieProof.tryTraverse(root, abi.encodePacked(key), proof);
        used = g - gasleft();
    }
}
