// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IERC7786GatewaySource} from "@openzeppelin/contracts/interfaces/draft-IERC7786.sol";
import {InteroperableAddress} from "@openzeppelin/contracts/utils/draft-InteroperableAddress.sol";
import {Attestation, IStateRootRegistry} from "./MetalayerTypes.sol";

/**
 * @title GuardianStaking
 * @notice On the hub: guardians stake ERA (minimum stake, unbonding delay) and earn rewards; anyone can
 * prove an equivocation (two attestations of the same chain and block with different contents, both
 * signed by one guardian), which slashes the guardian (configurable share, up to 100%), rewards the
 * reporter and removes the guardian from the registry on the hub directly and on every rollup through
 * gateway messages.
 *
 * Rewards: any ERA that arrives here beyond what is owed (stakes, unbonding, unclaimed rewards) — the
 * guardians' share of gateway fees, forwarded by `MetalayerGateway.distributeFees`, and what remains of
 * a slash after the reporter reward — is shared among the members of the hub registry's guardian set at
 * the moment it is distributed (`syncRewards`, also run before every stake change), pro rata by their
 * active stake. Stake of anyone outside the set earns nothing, so stake bought just before a
 * distribution by a non-guardian takes no share.
 *
 * Exit: unbonding that leaves a guardian's active stake below `minStake` removes it from the set on the
 * hub and, through the same gateway messages as a slash, on every rollup (`GuardianExited`).
 *
 * Evidence is checked under the hub registry's EIP-712 domain (salted with the devnet instance id), so
 * signatures from another run of the devnet never count as evidence.
 */
contract GuardianStaking is Ownable {
    using SafeERC20 for IERC20;

    uint256 private constant BPS = 10_000;

    struct Staker {
        uint256 active;
        uint256 unbonding;
        uint64 unbondingEnd;
        bool slashed;
        uint256 rewards; // credited, unclaimed
    }

    IERC20 public era;
    IStateRootRegistry public registry;
    IERC7786GatewaySource public gateway;
    uint256 public minStake;
    uint64 public unbondingDelay;
    uint16 public slashBps;
    uint16 public reporterBps;
    uint256[] private _rollups;

    mapping(address guardian => Staker) private _stakers;
    uint256 public totalActive;
    uint256 public totalUnbonding;
    uint256 public totalRewardsOwed;

    event Configured(address era, address registry, address gateway, uint256[] rollups);
    event ParamsSet(uint256 minStake, uint64 unbondingDelay, uint16 slashBps, uint16 reporterBps);
    event Staked(address indexed guardian, address indexed payer, uint256 amount);
    event Unbonding(address indexed guardian, uint256 amount, uint64 releaseTime);
    event Withdrawn(address indexed guardian, address indexed to, uint256 amount);
    event RewardsAdded(uint256 amount);
    event RewardsClaimed(address indexed guardian, address indexed to, uint256 amount);
    event Slashed(address indexed guardian, address indexed reporter, uint256 amount, uint256 reporterReward);
    event GuardianRemovalSent(address indexed guardian, uint256 indexed chainId, bytes32 sendId);
    event GuardianExited(address indexed guardian, uint256 remainingActive);

    error BelowMinStake(uint256 resulting, uint256 minStake);
    error InsufficientStake(uint256 requested, uint256 available);
    error StillUnbonding(uint64 releaseTime);
    error NothingToWithdraw();
    error NotConflicting();
    error SignerMismatch(address first, address second);
    error NothingToSlash(address guardian);
    error AlreadySlashed(address guardian);
    error InvalidShare();
    error ZeroAmount();

    /// @param initialOwner the bootstrap owner (the devnet deployer)
    constructor(address initialOwner) Ownable(initialOwner) {}

    // ------------------------------------------------------------------ configuration

    /// @notice Wire ERA, the hub registry, the hub gateway and the rollups to notify on removal (owner).
    /// @param era_ ERA token
    /// @param registry_ the hub's StateRootRegistry (same address on every chain)
    /// @param gateway_ the hub's gateway
    /// @param rollups chain ids whose registries get removal messages
    function configure(address era_, address registry_, address gateway_, uint256[] calldata rollups) external onlyOwner {
        era = IERC20(era_);
        registry = IStateRootRegistry(registry_);
        gateway = IERC7786GatewaySource(gateway_);
        _rollups = rollups;
        emit Configured(era_, registry_, gateway_, rollups);
    }

    /// @notice Set staking parameters (owner).
    /// @param minStake_ minimum active stake of a guardian (0 stake is always allowed)
    /// @param unbondingDelay_ seconds between unbond and withdraw
    /// @param slashBps_ share of the stake slashed, up to 10000 (100%)
    /// @param reporterBps_ share of the slashed amount paid to the reporter, up to 10000
    function setParams(uint256 minStake_, uint64 unbondingDelay_, uint16 slashBps_, uint16 reporterBps_) external onlyOwner {
        if (slashBps_ > BPS || reporterBps_ > BPS) revert InvalidShare();
        minStake = minStake_;
        unbondingDelay = unbondingDelay_;
        slashBps = slashBps_;
        reporterBps = reporterBps_;
        emit ParamsSet(minStake_, unbondingDelay_, slashBps_, reporterBps_);
    }

    /// @notice Chain ids notified when a guardian is removed.
    function rollups() external view returns (uint256[] memory) {
        return _rollups;
    }

    // ------------------------------------------------------------------ staking

    /// @notice Stake `amount` ERA (pulled from the caller) for the caller.
    /// @param amount ERA amount
    function stake(uint256 amount) external {
        _stake(msg.sender, amount);
    }

    /// @notice Stake `amount` ERA (pulled from the caller) for `guardian`.
    /// @param guardian credited guardian
    /// @param amount ERA amount
    function stakeFor(address guardian, uint256 amount) external {
        _stake(guardian, amount);
    }

    function _stake(address guardian, uint256 amount) private {
        if (amount == 0) revert ZeroAmount();
        Staker storage s = _stakers[guardian];
        if (s.slashed) revert AlreadySlashed(guardian);
        syncRewards(); // what arrived before this stake is not its to share
        era.safeTransferFrom(msg.sender, address(this), amount);
        s.active += amount;
        totalActive += amount;
        if (s.active < minStake) revert BelowMinStake(s.active, minStake);
        emit Staked(guardian, msg.sender, amount);
    }

    /// @notice Start unbonding `amount` of the caller's active stake; withdrawable after the delay.
    /// Unbonding stake earns nothing and is still slashable. Adding to an unbonding restarts its delay.
    /// A guardian whose active stake falls below `minStake` leaves the guardian set on every chain.
    /// @param amount ERA amount
    function unbond(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        Staker storage s = _stakers[msg.sender];
        if (amount > s.active) revert InsufficientStake(amount, s.active);
        syncRewards();
        uint256 remaining = s.active - amount;
        s.active = remaining;
        s.unbonding += amount;
        totalActive -= amount;
        totalUnbonding += amount;
        uint64 end = uint64(block.timestamp) + unbondingDelay;
        s.unbondingEnd = end;
        emit Unbonding(msg.sender, amount, end);
        if (remaining < minStake && registry.isGuardian(msg.sender)) {
            emit GuardianExited(msg.sender, remaining);
            _removeEverywhere(msg.sender);
        }
    }

    /// @notice Withdraw the caller's unbonded stake once the delay has passed.
    /// @param to receiver
    function withdraw(address to) external {
        Staker storage s = _stakers[msg.sender];
        uint256 amount = s.unbonding;
        if (amount == 0) revert NothingToWithdraw();
        if (block.timestamp < s.unbondingEnd) revert StillUnbonding(s.unbondingEnd);
        s.unbonding = 0;
        totalUnbonding -= amount;
        era.safeTransfer(to, amount);
        emit Withdrawn(msg.sender, to, amount);
    }

    /// @notice A guardian's stake: active, unbonding, release time of the unbonding, slashed flag.
    /// @param guardian the guardian
    function stakeOf(address guardian) external view returns (uint256 active, uint256 unbonding, uint64 unbondingEnd, bool slashed) {
        Staker storage s = _stakers[guardian];
        return (s.active, s.unbonding, s.unbondingEnd, s.slashed);
    }

    // ------------------------------------------------------------------ rewards

    /// @notice Distribute ERA received since the last sync (fees, slash remainders) to the current
    /// guardian set, pro rata by active stake. Nothing happens while no guardian has active stake.
    function syncRewards() public {
        uint256 added = _unowed();
        if (added == 0) return;
        address[] memory members = registry.getGuardians();
        uint256 weight = _weight(members);
        if (weight == 0) return;
        uint256 distributed;
        for (uint256 i = 0; i < members.length; ++i) {
            Staker storage s = _stakers[members[i]];
            uint256 share = (added * s.active) / weight;
            s.rewards += share;
            distributed += share;
        }
        // rounding dust stays unowed and is shared at the next sync
        totalRewardsOwed += distributed;
        emit RewardsAdded(distributed);
    }

    /// @notice Rewards `guardian` can claim now (including its share of what is not yet synced).
    /// @param guardian the guardian
    function pendingRewards(address guardian) external view returns (uint256) {
        Staker storage s = _stakers[guardian];
        uint256 added = _unowed();
        if (added == 0 || s.active == 0 || !registry.isGuardian(guardian)) return s.rewards;
        uint256 weight = _weight(registry.getGuardians());
        return s.rewards + (added * s.active) / weight;
    }

    /// @notice Claim the caller's rewards.
    /// @param to receiver
    function claimRewards(address to) external returns (uint256 amount) {
        syncRewards();
        Staker storage s = _stakers[msg.sender];
        amount = s.rewards;
        if (amount == 0) return 0;
        s.rewards = 0;
        totalRewardsOwed -= amount;
        era.safeTransfer(to, amount);
        emit RewardsClaimed(msg.sender, to, amount);
    }

    function _unowed() private view returns (uint256) {
        uint256 owed = totalActive + totalUnbonding + totalRewardsOwed;
        uint256 balance = era.balanceOf(address(this));
        return balance > owed ? balance - owed : 0;
    }

    function _weight(address[] memory members) private view returns (uint256 weight) {
        for (uint256 i = 0; i < members.length; ++i) weight += _stakers[members[i]].active;
    }

    // ------------------------------------------------------------------ slashing

    /**
     * @notice Slash the guardian that signed two conflicting attestations (same chainId and blockNumber,
     * different blockHash or stateRoot). The reporter (caller) gets `reporterBps` of the slashed amount;
     * the rest becomes rewards of the other stakers. The guardian is removed from the hub registry and,
     * through gateway messages, from every rollup's registry.
     * @param a the first attestation
     * @param sigA the guardian's signature of `a`
     * @param b the conflicting attestation
     * @param sigB the guardian's signature of `b`
     * @return guardian the slashed guardian
     * @return amount the slashed amount
     */
    function slash(Attestation calldata a, bytes calldata sigA, Attestation calldata b, bytes calldata sigB)
        external
        returns (address guardian, uint256 amount)
    {
        if (a.chainId != b.chainId || a.blockNumber != b.blockNumber) revert NotConflicting();
        if (a.blockHash == b.blockHash && a.stateRoot == b.stateRoot) revert NotConflicting();
        // the hub registry's digest: salted with this devnet instance, so evidence from another run fails
        guardian = ECDSA.recoverCalldata(registry.attestationDigest(a), sigA);
        address second = ECDSA.recoverCalldata(registry.attestationDigest(b), sigB);
        if (guardian != second) revert SignerMismatch(guardian, second);

        Staker storage s = _stakers[guardian];
        if (s.slashed) revert AlreadySlashed(guardian);
        uint256 stakeTotal = s.active + s.unbonding;
        if (stakeTotal == 0 && !registry.isGuardian(guardian)) revert NothingToSlash(guardian);
        syncRewards();
        s.slashed = true;

        amount = (stakeTotal * slashBps) / BPS;
        uint256 reward = (amount * reporterBps) / BPS;
        // take from active first, then from unbonding
        uint256 fromActive = amount <= s.active ? amount : s.active;
        s.active -= fromActive;
        totalActive -= fromActive;
        s.unbonding -= amount - fromActive;
        totalUnbonding -= amount - fromActive;
        // the guardian keeps earned rewards but the rest of its stake starts unbonding now
        if (s.active != 0) {
            totalUnbonding += s.active;
            totalActive -= s.active;
            s.unbonding += s.active;
            s.active = 0;
            s.unbondingEnd = uint64(block.timestamp) + unbondingDelay;
        }
        if (reward != 0) era.safeTransfer(msg.sender, reward);
        emit Slashed(guardian, msg.sender, amount, reward);
        _removeEverywhere(guardian);
    }

    function _removeEverywhere(address guardian) private {
        registry.removeGuardian(guardian);
        bytes memory payload = abi.encodeCall(IStateRootRegistry.removeGuardian, (guardian));
        uint256[] memory chains = _rollups;
        for (uint256 i = 0; i < chains.length; ++i) {
            bytes32 sendId = gateway.sendMessage(
                InteroperableAddress.formatEvmV1(chains[i], address(registry)), payload, new bytes[](0)
            );
            emit GuardianRemovalSent(guardian, chains[i], sendId);
        }
    }
}
