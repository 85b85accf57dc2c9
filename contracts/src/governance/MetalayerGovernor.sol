// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {Governor} from "@openzeppelin/contracts/governance/Governor.sol";
import {GovernorSettings} from "@openzeppelin/contracts/governance/extensions/GovernorSettings.sol";
import {GovernorCountingSimple} from "@openzeppelin/contracts/governance/extensions/GovernorCountingSimple.sol";
import {GovernorVotes} from "@openzeppelin/contracts/governance/extensions/GovernorVotes.sol";
import {GovernorVotesQuorumFraction} from "@openzeppelin/contracts/governance/extensions/GovernorVotesQuorumFraction.sol";
import {GovernorCrosschain} from "@openzeppelin/contracts/governance/extensions/GovernorCrosschain.sol";
import {IVotes} from "@openzeppelin/contracts/governance/utils/IVotes.sol";
import {Mode} from "@openzeppelin/contracts/account/utils/draft-ERC7579Utils.sol";
import {IERC7786GatewaySource} from "@openzeppelin/contracts/interfaces/draft-IERC7786.sol";
import {InteroperableAddress} from "@openzeppelin/contracts/utils/draft-InteroperableAddress.sol";

/**
 * @title MetalayerGovernor
 * @notice ERA governance on the hub: one vote, every rollup.
 *
 * Voting power comes from EraVoteLock (delegated ERA + 2x locked ERA). A proposal's actions are
 * plain calls on the hub, or `relayCrosschain(gateway, executor, mode, calldata)` calls on this
 * governor that send the action through the hub's MetalayerGateway to the governance executor
 * (a MetalayerRemoteExecutor controlled by this governor) on a rollup. Every message sent while
 * executing a proposal is recorded per proposal (`crosschainSends`) and in `CrosschainActionSent`,
 * so each chain's execution can be followed to the executor's `executed(sendId)`.
 * No timelock: devnet parameters favour seconds-long lifecycles (see docs/GOVERNANCE.md).
 */
contract MetalayerGovernor is
    Governor,
    GovernorSettings,
    GovernorCountingSimple,
    GovernorVotes,
    GovernorVotesQuorumFraction,
    GovernorCrosschain
{
    /// @notice One message sent to a rollup executor while executing a proposal.
    struct CrosschainSend {
        uint256 chainId;
        address executor;
        bytes32 sendId;
    }

    mapping(uint256 proposalId => CrosschainSend[]) private _sends;
    uint256 private _executing;

    /// @notice Proposal `proposalId` sent an action to `executor` on `chainId` as message `sendId`.
    event CrosschainActionSent(uint256 indexed proposalId, uint256 indexed chainId, address executor, bytes32 sendId);

    /// @param votes the votes source (EraVoteLock)
    /// @param votingDelay_ clock units (seconds: the clock is ERA's timestamp) between proposal and voting start
    /// @param votingPeriod_ clock units (seconds) of voting
    /// @param proposalThreshold_ votes needed to propose
    /// @param quorumNumerator_ quorum in percent of the votes supply at the snapshot
    constructor(
        IVotes votes,
        uint48 votingDelay_,
        uint32 votingPeriod_,
        uint256 proposalThreshold_,
        uint256 quorumNumerator_
    )
        Governor("Metalayer Governor")
        GovernorSettings(votingDelay_, votingPeriod_, proposalThreshold_)
        GovernorVotes(votes)
        GovernorVotesQuorumFraction(quorumNumerator_)
    {}

    /// @notice Messages sent to rollup executors by the execution of `proposalId`.
    /// @param proposalId the proposal
    function crosschainSends(uint256 proposalId) external view returns (CrosschainSend[] memory) {
        return _sends[proposalId];
    }

    function _executeOperations(
        uint256 proposalId,
        address[] memory targets,
        uint256[] memory values,
        bytes[] memory calldatas,
        bytes32 descriptionHash
    ) internal override {
        _executing = proposalId;
        super._executeOperations(proposalId, targets, values, calldatas, descriptionHash);
        _executing = 0;
    }

    function _crosschainExecute(address gateway, bytes memory executor, Mode mode, bytes memory executionCalldata)
        internal
        override
    {
        bytes32 sendId = IERC7786GatewaySource(gateway).sendMessage(
            executor, abi.encodePacked(mode, executionCalldata), new bytes[](0)
        );
        (uint256 chainId, address target) = InteroperableAddress.parseEvmV1(executor);
        uint256 proposalId = _executing;
        _sends[proposalId].push(CrosschainSend(chainId, target, sendId));
        emit CrosschainActionSent(proposalId, chainId, target, sendId);
    }

    // ---------------------------------------------------------------- required overrides

    /// @inheritdoc Governor
    function proposalThreshold() public view override(Governor, GovernorSettings) returns (uint256) {
        return super.proposalThreshold();
    }

    /// @inheritdoc Governor
    function quorum(uint256 timepoint) public view override(Governor, GovernorVotesQuorumFraction) returns (uint256) {
        return super.quorum(timepoint);
    }
}
