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
 * @notice Locks ERA for a committed duration; locked ERA counts twice in governance while the lock runs.
 *
 * This contract is also the Governor's votes source (IERC5805): the voting power of an account at a
 * timepoint t is its delegated ERA votes (ERC20Votes on the EraToken: delegate to yourself to activate
 * them) plus the ERA it has locked here, times LOCK_MULTIPLIER (2) if the lock is in force at t
 * (unlockTime > t), once if it expired and was not withdrawn yet. Locked ERA sits in this contract,
 * which never delegates, so it leaves the locker's ERC20Votes balance: it is counted once, here. The
 * total supply for quorum is ERA's total supply plus the locked amount (every lock's bonus, expired or
 * not, until withdrawn: an upper bound of the possible votes, so quorum never comes out lower than
 * exact). A lock must run at least `minLockDuration` seconds. The clock is ERA's, timestamps, the unit
 * of unlock times: past votes are exact at a proposal's snapshot, expiry included.
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
    mapping(address account => Checkpoints.Trace208) private _lockedAt; // locked amount over time
    mapping(address account => Checkpoints.Trace208) private _unlockTimeAt; // unlock time over time
    Checkpoints.Trace208 private _totalLocked;

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
        uint256 votesBefore = _lockVotesAt(msg.sender, clock());
        Lock storage lk = _locks[msg.sender];
        uint64 until = uint64(block.timestamp) + duration;
        if (until > lk.unlockTime) lk.unlockTime = until;
        lk.amount += amount;
        _checkpoint(msg.sender, lk.amount, lk.unlockTime, amount, true);
        emit Locked(msg.sender, amount, lk.unlockTime);
        emit DelegateVotesChanged(msg.sender, votesBefore, _lockVotesAt(msg.sender, clock()));
    }

    /// @notice Withdraw all of the caller's ERA once its lock expired.
    /// @param to receiver of the ERA
    function unlock(address to) external {
        Lock memory lk = _locks[msg.sender];
        if (lk.amount == 0) revert NothingLocked();
        if (block.timestamp < lk.unlockTime) revert StillLocked(lk.unlockTime);
        uint256 votesBefore = _lockVotesAt(msg.sender, clock());
        delete _locks[msg.sender];
        _checkpoint(msg.sender, 0, lk.unlockTime, lk.amount, false);
        IERC20(address(era)).safeTransfer(to, lk.amount);
        emit Unlocked(msg.sender, to, lk.amount);
        emit DelegateVotesChanged(msg.sender, votesBefore, 0);
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

    /// @notice Current voting weight from the lock alone: LOCK_MULTIPLIER x locked ERA while the lock
    /// runs, 1 x once it expired (until withdrawn).
    /// @param account the locker
    function lockedVotes(address account) external view returns (uint256) {
        return _lockVotesAt(account, clock());
    }

    /// @dev Votes of `account`'s lock at `timepoint`: the amount locked then, doubled if its unlock time
    /// (as it stood then) is after `timepoint`.
    function _lockVotesAt(address account, uint48 timepoint) private view returns (uint256) {
        uint256 amount = _lockedAt[account].upperLookupRecent(timepoint);
        if (amount == 0) return 0;
        bool inForce = _unlockTimeAt[account].upperLookupRecent(timepoint) > timepoint;
        return inForce ? amount * LOCK_MULTIPLIER : amount;
    }

    function _checkpoint(address account, uint256 amount, uint64 unlockTime, uint256 delta, bool add) private {
        uint48 now_ = clock();
        _lockedAt[account].push(now_, SafeCast.toUint208(amount));
        _unlockTimeAt[account].push(now_, unlockTime);
        uint256 total = _totalLocked.latest();
        _totalLocked.push(now_, SafeCast.toUint208(add ? total + delta : total - delta));
    }

    // ---------------------------------------------------------------- IERC5805 (the Governor's votes source)

    /// @notice ERA's clock (timestamps): lock checkpoints, unlock times and ERA checkpoints line up.
    function clock() public view returns (uint48) {
        return era.clock();
    }

    /// @notice ERA's clock mode.
    // solhint-disable-next-line func-name-mixedcase
    function CLOCK_MODE() external view returns (string memory) {
        return era.CLOCK_MODE();
    }

    /// @notice Delegated ERA votes plus the lock's votes (twice the locked ERA while the lock runs).
    /// @param account the voter
    function getVotes(address account) external view returns (uint256) {
        return era.getVotes(account) + _lockVotesAt(account, clock());
    }

    /// @notice Voting power at a past `timepoint` (the Governor's snapshot).
    /// @param account the voter
    /// @param timepoint a past timestamp
    function getPastVotes(address account, uint256 timepoint) external view returns (uint256) {
        _checkPast(timepoint);
        return era.getPastVotes(account, timepoint) + _lockVotesAt(account, SafeCast.toUint48(timepoint));
    }

    /// @notice ERA total supply plus the extra weight of locks, at a past `timepoint` (for quorum).
    /// @dev Expired locks not withdrawn yet keep their bonus here (an upper bound; see the contract notice).
    /// @param timepoint a past timestamp
    function getPastTotalSupply(uint256 timepoint) external view returns (uint256) {
        _checkPast(timepoint);
        uint256 locked = _totalLocked.upperLookupRecent(SafeCast.toUint48(timepoint));
        return era.getPastTotalSupply(timepoint) + locked * (LOCK_MULTIPLIER - 1);
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
