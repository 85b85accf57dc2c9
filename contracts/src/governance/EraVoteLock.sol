// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IERC5805} from "@openzeppelin/contracts/interfaces/IERC5805.sol";
import {Checkpoints} from "@openzeppelin/contracts/utils/structs/Checkpoints.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/**
 * @title EraVoteLock
 * @notice Locks ERA for a committed duration; locked ERA counts twice in governance.
 *
 * This contract is also the Governor's votes source (IERC5805): the voting power of an account is
 * its delegated ERA votes (ERC20Votes on the EraToken: delegate to yourself to activate them)
 * plus LOCK_MULTIPLIER (2) times the ERA it has locked here. Locked ERA sits in this contract,
 * which never delegates, so it leaves the locker's ERC20Votes balance: it is counted once, here,
 * doubled. The total supply for quorum is ERA's total supply plus the locked amount (the sum of
 * every possible vote). A lock must run at least `minLockDuration` seconds; checkpoints use ERA's
 * clock (block numbers), so past votes are exact at a proposal's snapshot.
 */
contract EraVoteLock is IERC5805, Ownable {
    using SafeERC20 for IERC20;
    using Checkpoints for Checkpoints.Trace208;

    /// @notice Weight of locked ERA relative to held, delegated ERA.
    uint256 public constant LOCK_MULTIPLIER = 2;

    /// @notice The ERA token (ERC20Votes).
    IERC5805 public immutable era;
    /// @notice Shortest lock (seconds) accepted.
    uint64 public minLockDuration;

    struct Lock {
        uint256 amount;
        uint64 unlockTime;
    }

    mapping(address account => Lock) private _locks;
    mapping(address account => Checkpoints.Trace208) private _weight;
    Checkpoints.Trace208 private _totalWeight;

    /// @notice `account` locked `amount` more ERA; everything it has locked unlocks at `unlockTime`.
    event Locked(address indexed account, uint256 amount, uint64 unlockTime);
    /// @notice `account` withdrew its `amount` of unlocked ERA to `to`.
    event Unlocked(address indexed account, address indexed to, uint256 amount);
    /// @notice The minimum lock duration changed.
    event MinLockDurationSet(uint64 duration);

    error LockTooShort(uint64 duration, uint64 minimum);
    error StillLocked(uint64 unlockTime);
    error NothingLocked();
    error ZeroAmount();
    error DelegateOnEra();
    error FutureLookup(uint256 timepoint, uint48 clock);

    /// @param era_ the EraToken
    /// @param minLockDuration_ shortest lock in seconds
    /// @param initialOwner bootstrap owner (handed to governance at deployment)
    constructor(address era_, uint64 minLockDuration_, address initialOwner) Ownable(initialOwner) {
        era = IERC5805(era_);
        minLockDuration = minLockDuration_;
        emit MinLockDurationSet(minLockDuration_);
    }

    // ---------------------------------------------------------------- locking

    /// @notice Lock `amount` ERA (pulled from the caller) until at least now + `duration`.
    /// @dev Adding to an existing lock keeps the later of the two unlock times.
    /// @param amount ERA to lock
    /// @param duration seconds, at least `minLockDuration`
    function lock(uint256 amount, uint64 duration) external {
        if (amount == 0) revert ZeroAmount();
        if (duration < minLockDuration) revert LockTooShort(duration, minLockDuration);
        IERC20(address(era)).safeTransferFrom(msg.sender, address(this), amount);
        Lock storage lk = _locks[msg.sender];
        uint64 until = uint64(block.timestamp) + duration;
        if (until > lk.unlockTime) lk.unlockTime = until;
        lk.amount += amount;
        _addWeight(msg.sender, amount * LOCK_MULTIPLIER, true);
        emit Locked(msg.sender, amount, lk.unlockTime);
    }

    /// @notice Withdraw all of the caller's ERA once its lock expired.
    /// @param to receiver of the ERA
    function unlock(address to) external {
        Lock memory lk = _locks[msg.sender];
        if (lk.amount == 0) revert NothingLocked();
        if (block.timestamp < lk.unlockTime) revert StillLocked(lk.unlockTime);
        delete _locks[msg.sender];
        _addWeight(msg.sender, lk.amount * LOCK_MULTIPLIER, false);
        IERC20(address(era)).safeTransfer(to, lk.amount);
        emit Unlocked(msg.sender, to, lk.amount);
    }

    /// @notice Set the shortest accepted lock (owner: governance). Existing locks are unaffected.
    /// @param duration seconds
    function setMinLockDuration(uint64 duration) external onlyOwner {
        minLockDuration = duration;
        emit MinLockDurationSet(duration);
    }

    /// @notice The lock of `account`: amount of ERA and unlock time.
    /// @param account the locker
    function lockOf(address account) external view returns (uint256 amount, uint64 unlockTime) {
        Lock memory lk = _locks[account];
        return (lk.amount, lk.unlockTime);
    }

    /// @notice Current voting weight from locks alone (LOCK_MULTIPLIER x locked ERA).
    /// @param account the locker
    function lockedVotes(address account) external view returns (uint256) {
        return _weight[account].latest();
    }

    function _addWeight(address account, uint256 delta, bool add) private {
        uint48 now_ = clock();
        Checkpoints.Trace208 storage w = _weight[account];
        uint256 current = w.latest();
        uint256 total = _totalWeight.latest();
        w.push(now_, SafeCast.toUint208(add ? current + delta : current - delta));
        _totalWeight.push(now_, SafeCast.toUint208(add ? total + delta : total - delta));
        emit DelegateVotesChanged(account, current, add ? current + delta : current - delta);
    }

    // ---------------------------------------------------------------- IERC5805 (the Governor's votes source)

    /// @notice ERA's clock (block numbers): lock checkpoints and ERA checkpoints line up.
    function clock() public view returns (uint48) {
        return era.clock();
    }

    /// @notice ERA's clock mode.
    // solhint-disable-next-line func-name-mixedcase
    function CLOCK_MODE() external view returns (string memory) {
        return era.CLOCK_MODE();
    }

    /// @notice Delegated ERA votes plus twice the locked ERA.
    /// @param account the voter
    function getVotes(address account) external view returns (uint256) {
        return era.getVotes(account) + _weight[account].latest();
    }

    /// @notice Voting power at a past `timepoint` (the Governor's snapshot).
    /// @param account the voter
    /// @param timepoint a past block number
    function getPastVotes(address account, uint256 timepoint) external view returns (uint256) {
        _checkPast(timepoint);
        return era.getPastVotes(account, timepoint) + _weight[account].upperLookupRecent(SafeCast.toUint48(timepoint));
    }

    /// @notice ERA total supply plus the extra weight of locks, at a past `timepoint` (for quorum).
    /// @param timepoint a past block number
    function getPastTotalSupply(uint256 timepoint) external view returns (uint256) {
        _checkPast(timepoint);
        uint256 lockedExtra = _totalWeight.upperLookupRecent(SafeCast.toUint48(timepoint)) / LOCK_MULTIPLIER;
        return era.getPastTotalSupply(timepoint) + lockedExtra * (LOCK_MULTIPLIER - 1);
    }

    /// @notice The ERA delegate of `account` (delegation happens on the EraToken).
    /// @param account the holder
    function delegates(address account) external view returns (address) {
        return era.delegates(account);
    }

    /// @notice Not supported: delegate on the EraToken; locks always count for the locker.
    function delegate(address) external pure {
        revert DelegateOnEra();
    }

    /// @notice Not supported: delegate on the EraToken.
    function delegateBySig(address, uint256, uint256, uint8, bytes32, bytes32) external pure {
        revert DelegateOnEra();
    }

    function _checkPast(uint256 timepoint) private view {
        uint48 now_ = clock();
        if (timepoint >= now_) revert FutureLookup(timepoint, now_);
    }
}
