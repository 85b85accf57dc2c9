// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {IERC7786Recipient} from "@openzeppelin/contracts/interfaces/draft-IERC7786.sol";

/// @notice Test helper: a recipient that needs `minGas` left when it is called and burns all the gas
/// it got otherwise (the pattern of OZ ERC2771Forwarder's gas check). A simulation with a whole
/// block's gas passes and uses little; a delivery sized from that simulation starves it.
contract GasGatedRecipient is IERC7786Recipient {
    uint256 public immutable minGas;
    uint256 public received;

    constructor(uint256 minGas_) {
        minGas = minGas_;
    }

    /// @inheritdoc IERC7786Recipient
    function receiveMessage(bytes32, bytes calldata, bytes calldata) external payable returns (bytes4) {
        if (gasleft() < minGas) {
            uint256 x;
            while (true) {
                x = uint256(keccak256(abi.encode(x)));
            }
        }
        ++received;
        return IERC7786Recipient.receiveMessage.selector;
    }
}
