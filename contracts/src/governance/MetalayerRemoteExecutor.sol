// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {CrosschainRemoteExecutor} from "@openzeppelin/contracts/crosschain/CrosschainRemoteExecutor.sol";

/**
 * @title MetalayerRemoteExecutor
 * @notice OpenZeppelin's CrosschainRemoteExecutor, plus a record of what it ran: one instance per
 * hub controller (the CrosschainAccessManager for roles, the MetalayerGovernor for proposals) on
 * every rollup. Only messages from the controller on the hub, delivered by the local gateway, run.
 */
contract MetalayerRemoteExecutor is CrosschainRemoteExecutor {
    /// @notice Whether the message `receiveId` (the gateway message id) was executed here.
    mapping(bytes32 receiveId => bool) public executed;

    /// @notice The controller's instruction in message `receiveId` was executed.
    event RemoteExecuted(bytes32 indexed receiveId);

    /// @param gateway_ the local MetalayerGateway
    /// @param controller_ ERC-7930 address of the controller on the hub
    constructor(address gateway_, bytes memory controller_) CrosschainRemoteExecutor(gateway_, controller_) {}

    function _processMessage(address gateway_, bytes32 receiveId, bytes calldata sender, bytes calldata payload)
        internal
        override
    {
        super._processMessage(gateway_, receiveId, sender, payload);
        executed[receiveId] = true;
        emit RemoteExecuted(receiveId);
    }
}
