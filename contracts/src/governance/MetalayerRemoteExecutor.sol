// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {CrosschainRemoteExecutor} from "@openzeppelin/contracts/crosschain/CrosschainRemoteExecutor.sol";
import {ERC7579Utils, Mode, CallType} from "@openzeppelin/contracts/account/utils/draft-ERC7579Utils.sol";
import {Execution} from "@openzeppelin/contracts/interfaces/draft-IERC7579.sol";

/**
 * @title MetalayerRemoteExecutor
 * @notice OpenZeppelin's CrosschainRemoteExecutor, plus a record of what it ran: one instance per
 * hub controller (the CrosschainAccessManager for roles, the MetalayerGovernor for proposals) on
 * every rollup. Only messages from the controller on the hub, delivered by the local gateway, run.
 *
 * A message that calls a function on an address without code (a contract that exists on the hub
 * only, a typo) is refused with `TargetHasNoCode` before anything runs: a low-level call to such an
 * address would succeed and the message would pass for executed. The refusal reverts the delivery,
 * so the gateway and the relayer record it as failed and `executed(messageId)` stays false. A plain
 * value transfer (no calldata) to an account without code is allowed.
 */
contract MetalayerRemoteExecutor is CrosschainRemoteExecutor {
    using ERC7579Utils for *;

    /// @notice Whether the message `receiveId` (the gateway message id) was executed here.
    mapping(bytes32 receiveId => bool) public executed;

    /// @notice The controller's instruction in message `receiveId` was executed.
    event RemoteExecuted(bytes32 indexed receiveId);

    /// @notice The message calls `target`, which has no code on this chain.
    error TargetHasNoCode(address target);

    /// @param gateway_ the local MetalayerGateway
    /// @param controller_ ERC-7930 address of the controller on the hub
    constructor(address gateway_, bytes memory controller_) CrosschainRemoteExecutor(gateway_, controller_) {}

    function _processMessage(address gateway_, bytes32 receiveId, bytes calldata sender, bytes calldata payload)
        internal
        override
    {
        _requireTargetsHaveCode(payload);
        super._processMessage(gateway_, receiveId, sender, payload);
        executed[receiveId] = true;
        emit RemoteExecuted(receiveId);
    }

    /// @dev Every call of the ERC-7579 `payload` (mode, then execution data) that carries calldata, and
    /// every delegatecall, must target an address with code. Unknown call types are left to the parent.
    function _requireTargetsHaveCode(bytes calldata payload) private view {
        (CallType callType,,,) = Mode.wrap(bytes32(payload[0x00:0x20])).decodeMode();
        bytes calldata executionCalldata = payload[0x20:];
        if (callType == ERC7579Utils.CALLTYPE_SINGLE) {
            (address target,, bytes calldata callData) = executionCalldata.decodeSingle();
            _requireCode(target, callData.length != 0);
        } else if (callType == ERC7579Utils.CALLTYPE_BATCH) {
            Execution[] calldata batch = executionCalldata.decodeBatch();
            for (uint256 i = 0; i < batch.length; ++i) {
                _requireCode(batch[i].target, batch[i].callData.length != 0);
            }
        } else if (callType == ERC7579Utils.CALLTYPE_DELEGATECALL) {
            (address target,) = executionCalldata.decodeDelegate();
            _requireCode(target, true);
        }
    }

    function _requireCode(address target, bool callsCode) private view {
        if (callsCode && target.code.length == 0) revert TargetHasNoCode(target);
    }
}
