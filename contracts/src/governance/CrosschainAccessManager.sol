// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {AccessManager} from "@openzeppelin/contracts/access/manager/AccessManager.sol";
import {IERC7786GatewaySource} from "@openzeppelin/contracts/interfaces/draft-IERC7786.sol";
import {InteroperableAddress} from "@openzeppelin/contracts/utils/draft-InteroperableAddress.sol";

/**
 * @title CrosschainAccessManager
 * @notice An OpenZeppelin AccessManager whose hub instance is the source of truth for every rollup.
 *
 * The same bytecode and constructor arguments are deployed on every chain (one CREATE2 address).
 * - On the hub, every successful role or target change (grant, revoke, renounce, admin, guardian,
 *   grant delay, label, target function role, target admin delay, target closed) is also sent as
 *   an ERC-7786 message to the role executor (a CrosschainRemoteExecutor whose only controller is
 *   this manager on the hub) on every configured rollup, which replays the same call on the
 *   rollup's manager.
 * - On a rollup, once `configureMirror` named the executor, those changes are accepted only from
 *   the executor: a local admin (even one holding ADMIN_ROLE there) cannot grant or revoke.
 *   `renounceRole` stays local-allowed because it can only drop the caller's own rights.
 */
contract CrosschainAccessManager is AccessManager {
    /// @notice Chain id of the hub (the source of truth).
    uint256 public immutable hubChainId;
    /// @notice The local ERC-7786 gateway (MetalayerGateway), same address on every chain.
    IERC7786GatewaySource public immutable gateway;

    /// @notice The role executor (same address on every rollup); zero until configured.
    address public roleExecutor;
    uint256[] private _rollups;

    /// @notice A hub change was sent to a rollup (sendId is the gateway message id).
    event RoleChangeMirrored(bytes4 indexed selector, uint256 indexed destinationChainId, bytes32 sendId);
    /// @notice The mirror targets changed.
    event MirrorConfigured(uint256[] rollups, address roleExecutor);

    /// @notice A role change on a rollup that did not come from the hub through the executor.
    error NotFromHub(address caller);
    /// @notice Revoking ADMIN from the role executor would cut every rollup off the hub for good.
    error ExecutorAdminLocked();

    /// @param initialAdmin bootstrap admin (the devnet deployer; hands over during deployment)
    /// @param hubChainId_ the hub's chain id
    /// @param gateway_ the local MetalayerGateway
    constructor(address initialAdmin, uint256 hubChainId_, address gateway_) AccessManager(initialAdmin) {
        hubChainId = hubChainId_;
        gateway = IERC7786GatewaySource(gateway_);
    }

    /// @notice Set the rollups changes are mirrored to (hub) and the role executor (every chain). Admin only.
    /// @dev On a rollup, once set, only the executor may change roles, including this setting.
    /// @param rollups destination chain ids (ignored on rollups)
    /// @param executor the role executor's address (same on every rollup)
    function configureMirror(uint256[] calldata rollups, address executor) external onlyAuthorized {
        _onlyFromHub();
        _rollups = rollups;
        roleExecutor = executor;
        emit MirrorConfigured(rollups, executor);
    }

    /// @notice The rollups hub changes are mirrored to.
    function mirrorRollups() external view returns (uint256[] memory) {
        return _rollups;
    }

    /// @notice Whether this instance is the hub's (the source of truth).
    function isHub() public view returns (bool) {
        return block.chainid == hubChainId;
    }

    // ---------------------------------------------------------------- mirrored admin operations
    // On the hub: AccessManager's checks, then mirrored. On a configured rollup: only the role
    // executor, which replays what the hub already authorized (applied without local checks, so a
    // role with a custom admin on the hub replays even though the executor holds only ADMIN here).

    /// @inheritdoc AccessManager
    function labelRole(uint64 roleId, string calldata label) public override {
        if (_replaying()) {
            if (roleId == ADMIN_ROLE || roleId == PUBLIC_ROLE) revert AccessManagerLockedRole(roleId);
            emit RoleLabel(roleId, label);
            return;
        }
        super.labelRole(roleId, label);
        _mirror(msg.data);
    }

    /// @inheritdoc AccessManager
    function grantRole(uint64 roleId, address account, uint32 executionDelay) public override {
        if (_replaying()) {
            _grantRole(roleId, account, getRoleGrantDelay(roleId), executionDelay);
            return;
        }
        super.grantRole(roleId, account, executionDelay);
        _mirror(msg.data);
    }

    /// @inheritdoc AccessManager
    function revokeRole(uint64 roleId, address account) public override {
        if (_replaying()) {
            _revokeRole(roleId, account);
            return;
        }
        if (roleId == ADMIN_ROLE && account == roleExecutor && account != address(0)) revert ExecutorAdminLocked();
        super.revokeRole(roleId, account);
        _mirror(msg.data);
    }

    /// @inheritdoc AccessManager
    /// @dev On the hub, the renouncement becomes a revocation on every rollup.
    function renounceRole(uint64 roleId, address callerConfirmation) public override {
        super.renounceRole(roleId, callerConfirmation);
        _mirror(abi.encodeCall(this.revokeRole, (roleId, callerConfirmation)));
    }

    /// @inheritdoc AccessManager
    function setRoleAdmin(uint64 roleId, uint64 admin) public override {
        if (_replaying()) {
            _setRoleAdmin(roleId, admin);
            return;
        }
        super.setRoleAdmin(roleId, admin);
        _mirror(msg.data);
    }

    /// @inheritdoc AccessManager
    function setRoleGuardian(uint64 roleId, uint64 guardian) public override {
        if (_replaying()) {
            _setRoleGuardian(roleId, guardian);
            return;
        }
        super.setRoleGuardian(roleId, guardian);
        _mirror(msg.data);
    }

    /// @inheritdoc AccessManager
    function setGrantDelay(uint64 roleId, uint32 newDelay) public override {
        if (_replaying()) {
            _setGrantDelay(roleId, newDelay);
            return;
        }
        super.setGrantDelay(roleId, newDelay);
        _mirror(msg.data);
    }

    /// @inheritdoc AccessManager
    function setTargetFunctionRole(address target, bytes4[] calldata selectors, uint64 roleId) public override {
        if (_replaying()) {
            for (uint256 i = 0; i < selectors.length; ++i) _setTargetFunctionRole(target, selectors[i], roleId);
            return;
        }
        super.setTargetFunctionRole(target, selectors, roleId);
        _mirror(msg.data);
    }

    /// @inheritdoc AccessManager
    function setTargetAdminDelay(address target, uint32 newDelay) public override {
        if (_replaying()) {
            _setTargetAdminDelay(target, newDelay);
            return;
        }
        super.setTargetAdminDelay(target, newDelay);
        _mirror(msg.data);
    }

    /// @inheritdoc AccessManager
    function setTargetClosed(address target, bool closed) public override {
        if (_replaying()) {
            _setTargetClosed(target, closed);
            return;
        }
        super.setTargetClosed(target, closed);
        _mirror(msg.data);
    }

    /// @inheritdoc AccessManager
    /// @dev Not mirrored (which manager governs a contract is a per-chain decision), but on a
    /// rollup it is still reserved to the executor.
    function updateAuthority(address target, address newAuthority) public override {
        _onlyFromHub();
        super.updateAuthority(target, newAuthority);
    }

    // ---------------------------------------------------------------- internals

    /// @dev True when a configured rollup's executor replays a hub change; reverts for any other
    /// caller on a configured rollup; false on the hub and on a rollup not configured yet.
    function _replaying() private view returns (bool) {
        _onlyFromHub();
        return !isHub() && roleExecutor != address(0);
    }

    /// @dev On a configured rollup, admin operations come only from the role executor.
    function _onlyFromHub() private view {
        address executor = roleExecutor;
        if (!isHub() && executor != address(0) && msg.sender != executor) revert NotFromHub(msg.sender);
    }

    /// @dev On the hub, send `data` to the manager (this address) on every rollup via its executor.
    function _mirror(bytes memory data) private {
        if (!isHub()) return;
        address executor = roleExecutor;
        uint256 n = _rollups.length;
        if (executor == address(0) || n == 0) return;
        // ERC-7579 single call (mode 0): target ++ value ++ calldata
        bytes memory payload = abi.encodePacked(bytes32(0), address(this), uint256(0), data);
        bytes[] memory noAttributes = new bytes[](0);
        for (uint256 i = 0; i < n; ++i) {
            uint256 chainId = _rollups[i];
            bytes32 sendId = gateway.sendMessage(InteroperableAddress.formatEvmV1(chainId, executor), payload, noAttributes);
            emit RoleChangeMirrored(bytes4(data), chainId, sendId);
        }
    }
}
