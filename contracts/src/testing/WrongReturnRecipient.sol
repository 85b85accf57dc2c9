// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {IERC7786Recipient} from "@openzeppelin/contracts/interfaces/draft-IERC7786.sol";

/// @notice Test helper: a non-conforming ERC-7786 recipient whose `receiveMessage` succeeds with
/// a side effect but returns the wrong value, until fixed with `setFixed(true)`.
contract WrongReturnRecipient is IERC7786Recipient {
    bool public fixed_;
    uint256 public sideEffects;

    /// @notice Return the correct selector (true) or a wrong value (false).
    function setFixed(bool value) external {
        fixed_ = value;
    }

    /// @inheritdoc IERC7786Recipient
    function receiveMessage(bytes32, bytes calldata, bytes calldata) external payable returns (bytes4) {
        ++sideEffects;
        return fixed_ ? IERC7786Recipient.receiveMessage.selector : bytes4(0xdeadbeef);
    }
}
