// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {IERC7786Recipient} from "@openzeppelin/contracts/interfaces/draft-IERC7786.sol";

/// @notice Test helper: a recipient whose behaviour is set per test. Every call writes state first
/// (so a rolled-back delivery is visible as "no trace"), then:
/// mode 0 returns the selector, 1 returns a wrong value, 2 reverts, 3 burns all the gas it gets,
/// 4 burns `burn` gas then returns the selector.
contract BehaviourRecipient is IERC7786Recipient {
    uint8 public mode;
    uint256 public burn;
    uint256 public calls;
    uint256 public lastGas;
    bytes32 public lastId;

    error Refused();

    /// @notice Set the behaviour (see the contract doc).
    function setMode(uint8 mode_, uint256 burn_) external {
        mode = mode_;
        burn = burn_;
    }

    /// @inheritdoc IERC7786Recipient
    function receiveMessage(bytes32 id, bytes calldata, bytes calldata) external payable returns (bytes4) {
        uint256 g = gasleft();
        ++calls;
        lastGas = g;
        lastId = id;
        uint8 m = mode;
        if (m == 1) return 0xdeadbeef;
        if (m == 2) revert Refused();
        if (m == 3) {
            while (true) {}
        }
        if (m == 4) {
            uint256 b = burn;
            while (g - gasleft() < b) {} // runs out of gas when it got less than `burn`
        }
        return IERC7786Recipient.receiveMessage.selector;
    }
}
