// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {ERC7786Recipient} from "@openzeppelin/contracts/crosschain/ERC7786Recipient.sol";

/// @notice Test helper: an ERC-7786 recipient whose failure can be switched on and off.
contract ToggleRecipient is ERC7786Recipient {
    address public immutable gateway;
    bool public failing;
    uint256 public received;
    bytes32 public lastId;
    bytes public lastSender;
    bytes public lastPayload;

    event Received(bytes32 id, bytes sender, bytes payload);
    error Refused(uint256 code);

    constructor(address gateway_) {
        gateway = gateway_;
    }

    /// @notice Make the next deliveries revert (true) or succeed (false).
    function setFailing(bool failing_) external {
        failing = failing_;
    }

    function _isAuthorizedGateway(address gw, bytes calldata) internal view override returns (bool) {
        return gw == gateway;
    }

    function _processMessage(address, bytes32 id, bytes calldata sender, bytes calldata payload) internal override {
        if (failing) revert Refused(42);
        ++received;
        lastId = id;
        lastSender = sender;
        lastPayload = payload;
        emit Received(id, sender, payload);
    }
}
