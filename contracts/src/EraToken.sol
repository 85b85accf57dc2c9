// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC20Votes} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Votes.sol";
import {ERC20Crosschain} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Crosschain.sol";
import {CrosschainLinked} from "@openzeppelin/contracts/crosschain/CrosschainLinked.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {InteroperableAddress} from "@openzeppelin/contracts/utils/draft-InteroperableAddress.sol";
import {Time} from "@openzeppelin/contracts/utils/types/Time.sol";

/**
 * @title EraToken (ERA)
 * @notice The Metalayer fee and staking token: ERC20 + Permit + Votes, natively cross-chain through the
 * MetalayerGateway (ERC20Crosschain: burn on the source chain, mint on the destination), deployed at the
 * same address on every chain so the sum of the supplies on all chains is conserved by transfers.
 * The bootstrap owner links the counterparts and mints the devnet's initial balances.
 * Votes checkpoints use timestamps (ERC-6372 `mode=timestamp`): governance compares them with lock
 * expiry times, which are timestamps too (EraVoteLock, docs/GOVERNANCE.md).
 */
contract EraToken is ERC20, ERC20Permit, ERC20Votes, ERC20Crosschain, Ownable {
    /// @param initialOwner the bootstrap owner (the devnet deployer)
    constructor(address initialOwner)
        ERC20("Metalayer Era", "ERA")
        ERC20Permit("Metalayer Era")
        CrosschainLinked(new CrosschainLinked.Link[](0))
        Ownable(initialOwner)
    {}

    /// @notice Link this token to its counterpart (same address) on `chainId` via `gateway` (owner).
    /// @param gateway the local ERC-7786 gateway
    /// @param chainId the remote chain
    function linkChain(address gateway, uint256 chainId) external onlyOwner {
        _setLink(gateway, InteroperableAddress.formatEvmV1(chainId, address(this)), true);
    }

    /// @notice Mint bootstrap balances (owner; the devnet faucet).
    /// @param to receiver
    /// @param amount amount in wei of ERA
    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }

    /// @notice Mint `amount` to each of `to` (owner; one bootstrap transaction for all dev accounts).
    /// @param to receivers
    /// @param amount amount each
    function mintBatch(address[] calldata to, uint256 amount) external onlyOwner {
        for (uint256 i = 0; i < to.length; ++i) _mint(to[i], amount);
    }

    /// @notice ERC-6372 clock of the votes checkpoints: the block timestamp.
    function clock() public view override returns (uint48) {
        return Time.timestamp();
    }

    /// @notice ERC-6372 clock mode: timestamps.
    // solhint-disable-next-line func-name-mixedcase
    function CLOCK_MODE() public pure override returns (string memory) {
        return "mode=timestamp";
    }

    /// @inheritdoc ERC20Permit
    function nonces(address owner) public view override(ERC20Permit, Nonces) returns (uint256) {
        return super.nonces(owner);
    }

    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Votes) {
        super._update(from, to, value);
    }
}
