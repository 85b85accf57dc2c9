// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {AccessManager} from "@openzeppelin/contracts/access/manager/AccessManager.sol";
import {IAccessManaged} from "@openzeppelin/contracts/access/manager/IAccessManaged.sol";
import {IERC7786GatewaySource} from "@openzeppelin/contracts/interfaces/draft-IERC7786.sol";
import {InteroperableAddress} from "@openzeppelin/contracts/utils/draft-InteroperableAddress.sol";

/**
 * @title CrosschainAccessManager
 * @notice An OpenZeppelin AccessManager whose hub instance is the source of truth for every rollup.
 *
 * The same bytecode and constructor arguments are deployed on every chain (one CREATE2 address).
 * - On the hub, every successful role or target change (grant, revoke, renounce, admin, guardian,
 *   grant delay, label, target function role, target admin delay, target closed, authority) gets
 *   the next version (`mirrorVersion`) and is sent as an ERC-7786 message to the role executor (a
 *   CrosschainRemoteExecutor whose only controller is this manager on the hub) on every configured
 *   rollup, which calls `applyHubChange(version, call)` on the rollup's manager.
 * - A rollup applies a change only if its version is newer than the last one applied to the same
 *   setting (`settingVersion(key)`); an older one is a no-op that succeeds. Messages arrive in any
 *   order and anyone may deliver them, yet every setting ends as the hub's newest.
 * - On a rollup, once `configureMirror` named the executor, changes come only through
 *   `applyHubChange` from the executor: a local admin (even one holding ADMIN_ROLE there) cannot
 *   grant or revoke. `renounceRole` stays local-allowed because it can only drop the caller's own rights.
 */
contract CrosschainAccessManager is AccessManager {
    /// @notice The settings a version applies to; a setting's key is `settingKey(kind, subject, detail)`.
    enum Setting {
        Member, // (roleId, account): grant, revoke, renounce
        Label, // (roleId, 0)
        RoleAdmin, // (roleId, 0)
        RoleGuardian, // (roleId, 0)
        GrantDelay, // (roleId, 0)
        FunctionRole, // (target, selector)
        TargetAdminDelay, // (target, 0)
        TargetClosed, // (target, 0)
        Authority // (target, 0): updateAuthority
    }

    /// @notice Chain id of the hub (the source of truth).
    uint256 public immutable hubChainId;
    /// @notice The local ERC-7786 gateway (MetalayerGateway), same address on every chain.
    IERC7786GatewaySource public immutable gateway;

    /// @notice The role executor (same address on every rollup); zero until configured.
    address public roleExecutor;
    uint256[] private _rollups;
    /// @notice Hub: the version of the newest mirrored change (one per hub call, counting from 1).
    uint256 public mirrorVersion;
    /// @notice Version of the newest change made (hub) or applied (rollup) to each setting; 0: none.
    mapping(bytes32 key => uint256) public settingVersion;

    /// @notice A hub change was sent to a rollup (sendId is the gateway message id).
    event RoleChangeMirrored(
        bytes4 indexed selector, uint256 indexed destinationChainId, bytes32 sendId, uint256 version
    );
    /// @notice The mirror targets changed.
    event MirrorConfigured(uint256[] rollups, address roleExecutor);
    /// @notice Setting `key` now holds the hub change `version` (made on the hub, applied on a rollup).
    event SettingVersionSet(bytes32 indexed key, uint256 version);
    /// @notice A rollup received hub change `version` for `key` after a newer one (`applied`): no-op.
    event StaleChangeIgnored(bytes32 indexed key, uint256 version, uint256 applied);

    /// @notice A role change on a rollup that did not come from the hub through the executor.
    error NotFromHub(address caller);
    /// @notice Revoking ADMIN from the role executor would cut every rollup off the hub for good.
    error ExecutorAdminLocked();
    /// @notice `applyHubChange` got a call it does not replay.
    error UnknownHubChange(bytes4 selector);

    /// @param initialAdmin bootstrap admin (the devnet deployer; hands over during deployment)
    /// @param hubChainId_ the hub's chain id
    /// @param gateway_ the local MetalayerGateway
    constructor(address initialAdmin, uint256 hubChainId_, address gateway_) AccessManager(initialAdmin) {
        hubChainId = hubChainId_;
        gateway = IERC7786GatewaySource(gateway_);
    }

    /// @notice Set the rollups changes are mirrored to (hub) and the role executor (every chain). Admin only.
    /// @dev Not mirrored. On a rollup, once set, it is locked (`NotFromHub`): the executor is the
    /// rollup's only link to the hub.
    /// @param rollups destination chain ids (ignored on rollups)
    /// @param executor the role executor's address (same on every rollup)
    function configureMirror(uint256[] calldata rollups, address executor) external onlyAuthorized {
        _onlyUnlocked();
        _rollups = rollups;
        roleExecutor = executor;
        emit MirrorConfigured(rollups, executor);
    }

    /// @notice The rollups hub changes are mirrored to.
    /// @return chain ids
    function mirrorRollups() external view returns (uint256[] memory) {
        return _rollups;
    }

    /// @notice Whether this instance is the hub's (the source of truth).
    /// @return true on the hub chain
    function isHub() public view returns (bool) {
        return block.chainid == hubChainId;
    }

    /// @notice The key of a setting in `settingVersion`: keccak256(abi.encode(kind, subject, detail)).
    /// @param kind which setting
    /// @param subject the role id or the target address (as uint256)
    /// @param detail the account (Member) or the selector (FunctionRole) as uint256, else 0
    /// @return key the setting's key
    function settingKey(Setting kind, uint256 subject, uint256 detail) public pure returns (bytes32) {
        return keccak256(abi.encode(kind, subject, detail));
    }

    // ---------------------------------------------------------------- hub changes (mirrored)
    // On the hub: AccessManager's checks, then mirrored. On a configured rollup: NotFromHub for
    // every caller; the hub's changes arrive through applyHubChange.

    /// @inheritdoc AccessManager
    function labelRole(uint64 roleId, string calldata label) public override {
        _onlyUnlocked();
        super.labelRole(roleId, label);
        _mirror(msg.data, settingKey(Setting.Label, roleId, 0));
    }

    /// @inheritdoc AccessManager
    function grantRole(uint64 roleId, address account, uint32 executionDelay) public override {
        _onlyUnlocked();
        super.grantRole(roleId, account, executionDelay);
        _mirror(msg.data, _memberKey(roleId, account));
    }

    /// @inheritdoc AccessManager
    function revokeRole(uint64 roleId, address account) public override {
        _onlyUnlocked();
        if (roleId == ADMIN_ROLE && account == roleExecutor && account != address(0)) revert ExecutorAdminLocked();
        super.revokeRole(roleId, account);
        _mirror(msg.data, _memberKey(roleId, account));
    }

    /// @inheritdoc AccessManager
    /// @dev Allowed on rollups too (it only drops the caller's rights). On the hub, the
    /// renouncement becomes a revocation on every rollup.
    function renounceRole(uint64 roleId, address callerConfirmation) public override {
        super.renounceRole(roleId, callerConfirmation);
        _mirror(abi.encodeCall(this.revokeRole, (roleId, callerConfirmation)), _memberKey(roleId, callerConfirmation));
    }

    /// @inheritdoc AccessManager
    function setRoleAdmin(uint64 roleId, uint64 admin) public override {
        _onlyUnlocked();
        super.setRoleAdmin(roleId, admin);
        _mirror(msg.data, settingKey(Setting.RoleAdmin, roleId, 0));
    }

    /// @inheritdoc AccessManager
    function setRoleGuardian(uint64 roleId, uint64 guardian) public override {
        _onlyUnlocked();
        super.setRoleGuardian(roleId, guardian);
        _mirror(msg.data, settingKey(Setting.RoleGuardian, roleId, 0));
    }

    /// @inheritdoc AccessManager
    function setGrantDelay(uint64 roleId, uint32 newDelay) public override {
        _onlyUnlocked();
        super.setGrantDelay(roleId, newDelay);
        _mirror(msg.data, settingKey(Setting.GrantDelay, roleId, 0));
    }

    /// @inheritdoc AccessManager
    function setTargetFunctionRole(address target, bytes4[] calldata selectors, uint64 roleId) public override {
        _onlyUnlocked();
        super.setTargetFunctionRole(target, selectors, roleId);
        bytes32[] memory keys = new bytes32[](selectors.length);
        for (uint256 i = 0; i < selectors.length; ++i) keys[i] = _functionKey(target, selectors[i]);
        _mirror(msg.data, keys);
    }

    /// @inheritdoc AccessManager
    function setTargetAdminDelay(address target, uint32 newDelay) public override {
        _onlyUnlocked();
        super.setTargetAdminDelay(target, newDelay);
        _mirror(msg.data, settingKey(Setting.TargetAdminDelay, uint160(target), 0));
    }

    /// @inheritdoc AccessManager
    function setTargetClosed(address target, bool closed) public override {
        _onlyUnlocked();
        super.setTargetClosed(target, closed);
        _mirror(msg.data, settingKey(Setting.TargetClosed, uint160(target), 0));
    }

    /// @inheritdoc AccessManager
    /// @dev Mirrored: `target` is the contract at the same address on the hub and every rollup.
    function updateAuthority(address target, address newAuthority) public override {
        _onlyUnlocked();
        super.updateAuthority(target, newAuthority);
        _mirror(msg.data, settingKey(Setting.Authority, uint160(target), 0));
    }

    // ---------------------------------------------------------------- rollup: replay a hub change

    /// @notice Rollup: apply hub change `version` (`call` is the hub call, e.g. grantRole(...)) to every
    /// setting it touches whose applied version is older; older changes are ignored. Executor only.
    /// @dev Applied without local checks: the hub authorized it (a role with a custom admin on the
    /// hub replays although the executor holds only ADMIN here).
    /// @param version the hub's `mirrorVersion` of the change
    /// @param call the hub call's calldata
    function applyHubChange(uint256 version, bytes calldata call) external {
        if (isHub() || msg.sender != roleExecutor) revert NotFromHub(msg.sender);
        bytes4 selector = bytes4(call);
        bytes calldata args = call[4:];
        if (selector == this.grantRole.selector) {
            (uint64 roleId, address account, uint32 executionDelay) = abi.decode(args, (uint64, address, uint32));
            if (_newer(_memberKey(roleId, account), version)) {
                _grantRole(roleId, account, getRoleGrantDelay(roleId), executionDelay);
            }
        } else if (selector == this.revokeRole.selector) {
            (uint64 roleId, address account) = abi.decode(args, (uint64, address));
            if (_newer(_memberKey(roleId, account), version)) _revokeRole(roleId, account);
        } else if (selector == this.setTargetFunctionRole.selector) {
            (address target, bytes4[] memory selectors, uint64 roleId) = abi.decode(args, (address, bytes4[], uint64));
            for (uint256 i = 0; i < selectors.length; ++i) {
                if (_newer(_functionKey(target, selectors[i]), version)) {
                    _setTargetFunctionRole(target, selectors[i], roleId);
                }
            }
        } else if (selector == this.labelRole.selector) {
            (uint64 roleId, string memory label) = abi.decode(args, (uint64, string));
            if (_newer(settingKey(Setting.Label, roleId, 0), version)) emit RoleLabel(roleId, label);
        } else {
            _applyPair(selector, version, args);
        }
    }

    /// @dev The hub changes whose arguments are one (role or target) and one value.
    function _applyPair(bytes4 selector, uint256 version, bytes calldata args) private {
        (uint256 subject, uint256 value) = abi.decode(args, (uint256, uint256));
        if (selector == this.setRoleAdmin.selector) {
            if (_newer(settingKey(Setting.RoleAdmin, subject, 0), version)) _setRoleAdmin(uint64(subject), uint64(value));
        } else if (selector == this.setRoleGuardian.selector) {
            if (_newer(settingKey(Setting.RoleGuardian, subject, 0), version)) {
                _setRoleGuardian(uint64(subject), uint64(value));
            }
        } else if (selector == this.setGrantDelay.selector) {
            if (_newer(settingKey(Setting.GrantDelay, subject, 0), version)) _setGrantDelay(uint64(subject), uint32(value));
        } else if (selector == this.setTargetAdminDelay.selector) {
            if (_newer(settingKey(Setting.TargetAdminDelay, subject, 0), version)) {
                _setTargetAdminDelay(address(uint160(subject)), uint32(value));
            }
        } else if (selector == this.setTargetClosed.selector) {
            if (_newer(settingKey(Setting.TargetClosed, subject, 0), version)) {
                _setTargetClosed(address(uint160(subject)), value != 0);
            }
        } else if (selector == this.updateAuthority.selector) {
            if (_newer(settingKey(Setting.Authority, subject, 0), version)) {
                IAccessManaged(address(uint160(subject))).setAuthority(address(uint160(value)));
            }
        } else {
            revert UnknownHubChange(selector);
        }
    }

    // ---------------------------------------------------------------- internals

    /// @dev On a configured rollup, changes come only through applyHubChange.
    function _onlyUnlocked() private view {
        if (!isHub() && roleExecutor != address(0)) revert NotFromHub(msg.sender);
    }

    /// @dev Rollup: record `version` for `key` and return true if it is newer than the applied one.
    function _newer(bytes32 key, uint256 version) private returns (bool) {
        uint256 applied = settingVersion[key];
        if (version <= applied) {
            emit StaleChangeIgnored(key, version, applied);
            return false;
        }
        settingVersion[key] = version;
        emit SettingVersionSet(key, version);
        return true;
    }

    function _memberKey(uint64 roleId, address account) private pure returns (bytes32) {
        return settingKey(Setting.Member, roleId, uint160(account));
    }

    function _functionKey(address target, bytes4 selector) private pure returns (bytes32) {
        return settingKey(Setting.FunctionRole, uint160(target), uint32(selector));
    }

    function _mirror(bytes memory data, bytes32 key) private {
        bytes32[] memory keys = new bytes32[](1);
        keys[0] = key;
        _mirror(data, keys);
    }

    /// @dev On the hub, stamp `keys` with the next version and send `data` with it to the manager
    /// (this address) on every rollup via its executor.
    function _mirror(bytes memory data, bytes32[] memory keys) private {
        if (!isHub()) return;
        address executor = roleExecutor;
        uint256 n = _rollups.length;
        if (executor == address(0) || n == 0) return;
        uint256 version = ++mirrorVersion;
        for (uint256 i = 0; i < keys.length; ++i) {
            settingVersion[keys[i]] = version;
            emit SettingVersionSet(keys[i], version);
        }
        // ERC-7579 single call (mode 0): target ++ value ++ calldata
        bytes memory call = abi.encodeCall(this.applyHubChange, (version, data));
        bytes memory payload = abi.encodePacked(bytes32(0), address(this), uint256(0), call);
        bytes[] memory noAttributes = new bytes[](0);
        for (uint256 i = 0; i < n; ++i) {
            uint256 chainId = _rollups[i];
            bytes32 sendId = gateway.sendMessage(InteroperableAddress.formatEvmV1(chainId, executor), payload, noAttributes);
            emit RoleChangeMirrored(bytes4(data), chainId, sendId, version);
        }
    }
}
