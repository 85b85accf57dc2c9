// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {ERC7786Recipient} from "@openzeppelin/contracts/crosschain/ERC7786Recipient.sol";

/// @notice Test helper: an ERC-7786 recipient that burns every unit of gas it is given (a
/// poisoned message: out of gas whatever the relayer offers), until switched off.
contract GasBurnerRecipient is ERC7786Recipient {
    address public immutable gateway;
    bool public burning = true;
    uint256 public received;

    constructor(address gateway_) {
        gateway = gateway_;
    }

    /// @notice Burn all gas (true) or accept messages normally (false).
    function setBurning(bool burning_) external {
        burning = burning_;
    }

    function _isAuthorizedGateway(address gw, bytes calldata) internal view override returns (bool) {
        return gw == gateway;
    }

    function _processMessage(address, bytes32, bytes calldata, bytes calldata) internal override {
        if (burning) {
            uint256 x;
            while (true) {
                x = uint256(keccak256(abi.encode(x)));
            }
        }
        ++received;
    }
}
