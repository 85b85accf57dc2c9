// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {ERC7786Recipient} from "@openzeppelin/contracts/crosschain/ERC7786Recipient.sol";

/// @notice Test helper: an ERC-7786 recipient that needs `work` gas (e.g. 1.5M) to accept a
/// message; with less it runs out of gas. It also records the gas it was given.
contract HeavyRecipient is ERC7786Recipient {
    address public immutable gateway;
    uint256 public immutable work;
    uint256 public received;
    uint256 public lastGasGiven;
    bytes32 public digest;

    event Worked(bytes32 id, uint256 gasGiven);

    constructor(address gateway_, uint256 work_) {
        gateway = gateway_;
        work = work_;
    }

    function _isAuthorizedGateway(address gw, bytes calldata) internal view override returns (bool) {
        return gw == gateway;
    }

    function _processMessage(address, bytes32 id, bytes calldata, bytes calldata) internal override {
        uint256 start = gasleft();
        bytes32 x = id;
        while (start - gasleft() < work) {
            x = keccak256(abi.encode(x));
        }
        digest = x;
        lastGasGiven = start;
        ++received;
        emit Worked(id, start);
    }
}
