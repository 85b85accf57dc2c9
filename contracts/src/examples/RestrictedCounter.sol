// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {AccessManaged} from "@openzeppelin/contracts/access/manager/AccessManaged.sol";

/**
 * @title RestrictedCounter
 * @notice Example dapp governed by its chain's AccessManager: `increment` is restricted (the devnet
 * deployment maps it to role DAPP_OPERATOR), `count` is public. Deployed on every chain at one
 * address; a role granted once on the hub lets its holder call `increment` on every rollup.
 */
contract RestrictedCounter is AccessManaged {
    /// @notice Number of successful increments on this chain.
    uint256 public count;
    /// @notice Last caller of `increment`.
    address public lastCaller;

    /// @notice `caller` incremented the counter to `count`.
    event Incremented(address indexed caller, uint256 count);

    /// @param manager the chain's CrosschainAccessManager
    constructor(address manager) AccessManaged(manager) {}

    /// @notice Increment the counter (restricted by the manager).
    function increment() external restricted {
        count += 1;
        lastCaller = msg.sender;
        emit Incremented(msg.sender, count);
    }
}
