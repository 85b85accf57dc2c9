// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

/// @notice Test helper: a contract with arbitrary storage to prove for cross-chain reads.
contract StorageFixture {
    event Stored(bytes32 slot, bytes32 value);

    /// @notice Write `value` at `slot`.
    function set(bytes32 slot, bytes32 value) external {
        assembly ("memory-safe") {
            sstore(slot, value)
        }
        emit Stored(slot, value);
    }

    /// @notice Read `slot`.
    function get(bytes32 slot) external view returns (bytes32 value) {
        assembly ("memory-safe") {
            value := sload(slot)
        }
    }
}
