// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {ERC7786Recipient} from "@openzeppelin/contracts/crosschain/ERC7786Recipient.sol";
import {InteroperableAddress} from "@openzeppelin/contracts/utils/draft-InteroperableAddress.sol";
import {Attestation, AttestationLib, IStateRootRegistry} from "./MetalayerTypes.sol";

/**
 * @title StateRootRegistry
 * @notice Holds the guardian set and the state roots of other chains attested by at least
 * `threshold` distinct guardians (EIP-712, same digest on every chain).
 *
 * Instance: every attestation is signed under an EIP-712 domain salted with the devnet instance id
 * (`setInstance`, fresh on every `devnet up` and identical on every chain), so signatures of another
 * run never verify here. Nothing is accepted before an instance is set. Binding is a devnet run
 * boundary, not a protocol power, so it has its own authority: the `instanceBinder` (the bootstrap
 * deployer key, set by the owner) may bind as well as the owner, and keeps that right after
 * governance took ownership. It can do nothing else: no guardian, threshold, chain or fund change.
 *
 * Tracked chains: an attestation is accepted only for a chain the registry tracks
 * (`setTrackedChain`, bootstrap owner), and never for the chain the registry lives on
 * (its own state needs no attestation). Re-submitting a stored attestation is a no-op;
 * a different root for a stored (chainId, blockNumber) reverts with ConflictingRoot.
 *
 * Guardian-set changes: `setGuardians` by the bootstrap owner; `removeGuardian` by the hub's
 * GuardianStaking (directly, on the hub) or by a message from that contract on the hub chain
 * delivered through the gateway (this contract is an ERC-7786 recipient). When a removal leaves fewer
 * guardians than the threshold, the threshold is clamped to the remaining set (`ThresholdClamped`), so
 * the network stays live; an empty set accepts nothing.
 *
 * Every stored root is logged with its signers and their signatures (`AttestationSubmitted`): a
 * watchtower that finds a guardian's signature of another root for the same (chain, block) holds
 * slashing evidence for GuardianStaking.slash.
 */
contract StateRootRegistry is IStateRootRegistry, Ownable, ERC7786Recipient {
    struct Root {
        bytes32 blockHash;
        bytes32 stateRoot;
    }

    /// @notice Maximum number of guardians (signers are tracked in a 256-bit bitmap).
    uint256 public constant MAX_GUARDIANS = 256;

    address[] private _guardians;
    /// guardian => index + 1 (0 = not a guardian)
    mapping(address => uint256) private _guardianIndex;
    uint256 private _threshold;

    mapping(uint256 chainId => bool) private _tracked;
    mapping(uint256 chainId => mapping(uint256 blockNumber => Root)) private _roots;
    mapping(uint256 chainId => uint256) private _latestBlock;

    /// @notice The gateway that delivers hub messages to this registry.
    address public gateway;
    /// @notice Chain id of the hub.
    uint256 public hubChainId;
    /// @notice GuardianStaking on the hub (same address on every chain).
    address public hubStaking;
    /// @notice The devnet instance id: the salt of the EIP-712 domain (0 = not set, nothing accepted).
    bytes32 public instanceId;
    bytes32 private _domainSeparator;
    /// @notice Who may bind the registry to a devnet instance besides the owner (the bootstrap key).
    address public instanceBinder;

    event AttestationSubmitted(
        uint256 indexed chainId,
        uint256 indexed blockNumber,
        bytes32 blockHash,
        bytes32 stateRoot,
        address[] signers,
        bytes[] signatures
    );
    event InstanceSet(bytes32 indexed instanceId, bytes32 domainSeparator);
    event InstanceBinderSet(address indexed previousBinder, address indexed newBinder);
    event ThresholdClamped(uint256 previous, uint256 clamped);
    event GuardianSetChanged(address[] guardians, uint256 threshold);
    event GuardianRemoved(address indexed guardian);
    event TrackedChainSet(uint256 indexed chainId, bool tracked);
    event HubConfigured(address gateway, uint256 hubChainId, address hubStaking);

    error NotGuardian(address signer);
    error DuplicateSigner(address signer);
    error InsufficientSignatures(uint256 valid, uint256 threshold);
    error UntrackedChain(uint256 chainId);
    error OwnChain(uint256 chainId);
    error ConflictingRoot(uint256 chainId, uint256 blockNumber, bytes32 stored, bytes32 submitted);
    error InvalidGuardianSet();
    error InvalidThreshold(uint256 threshold, uint256 guardians);
    error UnauthorizedGuardianChange(address caller);
    error UnknownHubMessage(bytes4 selector);
    error InstanceNotSet();
    error InvalidInstance();
    error UnauthorizedInstanceBinder(address caller);

    /// @param initialOwner the bootstrap owner (the devnet deployer), also the first instance binder
    constructor(address initialOwner) Ownable(initialOwner) {
        instanceBinder = initialOwner;
        emit InstanceBinderSet(address(0), initialOwner);
    }

    // ------------------------------------------------------------------ attestations

    /**
     * @notice Store an attestation signed by at least `threshold` distinct current guardians.
     * @param att the attested (chainId, blockNumber, blockHash, stateRoot)
     * @param signatures 65-byte (r,s,v) EIP-712 signatures over `attestationDigest(att)`
     */
    function submitAttestation(Attestation calldata att, bytes[] calldata signatures) external {
        uint256 chainId = att.chainId;
        if (chainId == block.chainid) revert OwnChain(chainId);
        if (!_tracked[chainId]) revert UntrackedChain(chainId);
        Root storage stored = _roots[chainId][att.blockNumber];
        bytes32 storedRoot = stored.stateRoot;
        if (storedRoot != bytes32(0)) {
            if (storedRoot == att.stateRoot && stored.blockHash == att.blockHash) return; // already stored
            revert ConflictingRoot(chainId, att.blockNumber, storedRoot, att.stateRoot);
        }
        address[] memory signers = _checkSignatures(_digest(att), signatures);
        stored.blockHash = att.blockHash;
        stored.stateRoot = att.stateRoot;
        if (att.blockNumber > _latestBlock[chainId]) _latestBlock[chainId] = att.blockNumber;
        emit AttestationSubmitted(chainId, att.blockNumber, att.blockHash, att.stateRoot, signers, signatures);
    }

    /// @notice Reverts unless `signatures` hold at least `threshold` distinct guardian signatures of `digest`.
    /// @param digest the EIP-712 digest
    /// @param signatures 65-byte signatures
    function verifySignatures(bytes32 digest, bytes[] calldata signatures) external view {
        _checkSignatures(digest, signatures);
    }

    function _checkSignatures(bytes32 digest, bytes[] calldata signatures) private view returns (address[] memory signers) {
        uint256 seen; // bitmap of guardian indices
        uint256 count = signatures.length;
        signers = new address[](count);
        for (uint256 i = 0; i < count; ++i) {
            address signer = ECDSA.recoverCalldata(digest, signatures[i]);
            signers[i] = signer;
            uint256 index = _guardianIndex[signer];
            if (index == 0) revert NotGuardian(signer);
            uint256 bit = 1 << (index - 1);
            if (seen & bit != 0) revert DuplicateSigner(signer);
            seen |= bit;
        }
        uint256 threshold_ = _threshold;
        if (count < threshold_ || threshold_ == 0) revert InsufficientSignatures(count, threshold_);
    }

    /// @notice The EIP-712 digest guardians sign for `att` (identical on every chain of this devnet instance).
    /// @param att the attestation
    function attestationDigest(Attestation calldata att) external view returns (bytes32) {
        return _digest(att);
    }

    /// @notice The EIP-712 domain separator: EIP712Domain(name "Metalayer", version "1", salt instanceId).
    function domainSeparator() external view returns (bytes32) {
        if (instanceId == bytes32(0)) revert InstanceNotSet();
        return _domainSeparator;
    }

    /// @notice Bind this registry to a devnet instance (instance binder or owner, at every `devnet up`):
    /// from now on only signatures under the domain salted with `instanceId` verify.
    /// @param instanceId_ the instance id (non-zero; the same on every chain of the devnet)
    function setInstance(bytes32 instanceId_) external {
        if (msg.sender != instanceBinder && msg.sender != owner()) revert UnauthorizedInstanceBinder(msg.sender);
        if (instanceId_ == bytes32(0)) revert InvalidInstance();
        instanceId = instanceId_;
        bytes32 separator = AttestationLib.domainSeparator(instanceId_);
        _domainSeparator = separator;
        emit InstanceSet(instanceId_, separator);
    }

    /// @notice Name who may bind the registry to an instance besides the owner (owner only).
    /// @param binder the new binder (address(0): only the owner binds)
    function setInstanceBinder(address binder) external onlyOwner {
        emit InstanceBinderSet(instanceBinder, binder);
        instanceBinder = binder;
    }

    function _digest(Attestation calldata att) private view returns (bytes32) {
        bytes32 separator = _domainSeparator;
        if (separator == bytes32(0)) revert InstanceNotSet();
        return AttestationLib.digest(separator, att);
    }

    /// @notice The highest attested block of `chainId` (all zero if none).
    /// @param chainId source chain
    function latestRoot(uint256 chainId) external view returns (uint256 blockNumber, bytes32 blockHash, bytes32 stateRoot) {
        blockNumber = _latestBlock[chainId];
        Root storage r = _roots[chainId][blockNumber];
        return (blockNumber, r.blockHash, r.stateRoot);
    }

    /// @notice The attested state root of (`chainId`, `blockNumber`), 0 if none.
    /// @param chainId source chain
    /// @param blockNumber block of that chain
    function rootAt(uint256 chainId, uint256 blockNumber) external view returns (bytes32 stateRoot) {
        return _roots[chainId][blockNumber].stateRoot;
    }

    /// @notice The attested block hash of (`chainId`, `blockNumber`), 0 if none.
    /// @param chainId source chain
    /// @param blockNumber block of that chain
    function blockHashAt(uint256 chainId, uint256 blockNumber) external view returns (bytes32) {
        return _roots[chainId][blockNumber].blockHash;
    }

    // ------------------------------------------------------------------ tracked chains

    /// @notice Start or stop accepting attestations for `chainId` (bootstrap owner).
    /// @param chainId the chain
    /// @param tracked whether it is tracked
    function setTrackedChain(uint256 chainId, bool tracked) external onlyOwner {
        if (chainId == block.chainid) revert OwnChain(chainId);
        _tracked[chainId] = tracked;
        emit TrackedChainSet(chainId, tracked);
    }

    /// @notice Whether attestations for `chainId` are accepted.
    /// @param chainId the chain
    function isTracked(uint256 chainId) external view returns (bool) {
        return _tracked[chainId];
    }

    // ------------------------------------------------------------------ guardian set

    /// @notice Replace the guardian set (bootstrap owner only).
    /// @param guardians the new set (distinct, non-zero, at most 256)
    /// @param threshold_ signatures required, 1..guardians.length
    function setGuardians(address[] calldata guardians, uint256 threshold_) external {
        if (msg.sender != owner()) revert UnauthorizedGuardianChange(msg.sender);
        uint256 n = guardians.length;
        if (n == 0 || n > MAX_GUARDIANS) revert InvalidGuardianSet();
        if (threshold_ == 0 || threshold_ > n) revert InvalidThreshold(threshold_, n);
        for (uint256 i = 0; i < _guardians.length; ++i) delete _guardianIndex[_guardians[i]];
        delete _guardians;
        for (uint256 i = 0; i < n; ++i) {
            address g = guardians[i];
            if (g == address(0) || _guardianIndex[g] != 0) revert InvalidGuardianSet();
            _guardians.push(g);
            _guardianIndex[g] = i + 1;
        }
        _threshold = threshold_;
        emit GuardianSetChanged(guardians, threshold_);
    }

    /// @notice Remove `guardian` from the set. Only the hub's GuardianStaking (on the hub);
    /// on other chains the same removal arrives as a hub message (see receiveMessage).
    /// If fewer guardians than the threshold remain, the threshold is clamped to their number.
    /// @param guardian the guardian to remove (no-op if not a guardian)
    function removeGuardian(address guardian) external {
        if (msg.sender != hubStaking || block.chainid != hubChainId || hubStaking == address(0)) {
            revert UnauthorizedGuardianChange(msg.sender);
        }
        _removeGuardian(guardian);
    }

    function _removeGuardian(address guardian) private {
        uint256 index = _guardianIndex[guardian];
        if (index == 0) return;
        uint256 last = _guardians.length - 1;
        if (index - 1 != last) {
            address moved = _guardians[last];
            _guardians[index - 1] = moved;
            _guardianIndex[moved] = index;
        }
        _guardians.pop();
        delete _guardianIndex[guardian];
        emit GuardianRemoved(guardian);
        uint256 remaining = _guardians.length;
        if (_threshold > remaining) {
            // liveness over a threshold no set can meet: the remaining guardians carry the network
            emit ThresholdClamped(_threshold, remaining);
            _threshold = remaining;
        }
        emit GuardianSetChanged(_guardians, _threshold);
    }

    /// @notice Set the gateway and the hub staking contract allowed to change the set (bootstrap owner).
    /// @param gateway_ the local gateway
    /// @param hubChainId_ the hub's chain id
    /// @param hubStaking_ GuardianStaking's address on the hub
    function configureHub(address gateway_, uint256 hubChainId_, address hubStaking_) external onlyOwner {
        gateway = gateway_;
        hubChainId = hubChainId_;
        hubStaking = hubStaking_;
        emit HubConfigured(gateway_, hubChainId_, hubStaking_);
    }

    /// @notice The current guardians.
    function getGuardians() external view returns (address[] memory) {
        return _guardians;
    }

    /// @notice Signatures required for an attestation.
    function threshold() external view returns (uint256) {
        return _threshold;
    }

    /// @notice Whether `account` is a current guardian.
    /// @param account the address
    function isGuardian(address account) external view returns (bool) {
        return _guardianIndex[account] != 0;
    }

    // ------------------------------------------------------------------ hub messages

    /// @dev Only the local gateway, relaying a message from GuardianStaking on the hub chain.
    function _isAuthorizedGateway(address gw, bytes calldata sender) internal view override returns (bool) {
        if (gw != gateway || gw == address(0)) return false;
        (bool ok, uint256 chainId, address addr) = InteroperableAddress.tryParseEvmV1Calldata(sender);
        return ok && chainId == hubChainId && addr == hubStaking;
    }

    /// @dev Payload: abi.encodeCall(this.removeGuardian, (guardian)).
    function _processMessage(address, bytes32, bytes calldata, bytes calldata payload) internal override {
        bytes4 selector = bytes4(payload[:4]);
        if (selector != this.removeGuardian.selector) revert UnknownHubMessage(selector);
        _removeGuardian(abi.decode(payload[4:], (address)));
    }
}
