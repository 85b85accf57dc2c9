// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC20Crosschain} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Crosschain.sol";
import {CrosschainLinked} from "@openzeppelin/contracts/crosschain/CrosschainLinked.sol";
import {InteroperableAddress} from "@openzeppelin/contracts/utils/draft-InteroperableAddress.sol";

/**
 * @title USDC (devnet test stablecoin)
 * @notice 6 decimals, ERC-2612 permit, natively cross-chain over the MetalayerGateway (ERC20Crosschain:
 * burn here, mint on the destination) at the same address on every chain, so the sum of the supplies on
 * all chains only changes by mint. `crosschainTransfer` is the canonical (slow in real life) route of
 * intents; its gateway fee is paid from this contract's prepaid fee balance.
 */
contract USDC is ERC20, ERC20Permit, ERC20Crosschain, Ownable {
    /// @param initialOwner the bootstrap owner (the devnet deployer), the only minter
    constructor(address initialOwner)
        ERC20("USD Coin (Metalayer devnet)", "USDC")
        ERC20Permit("USD Coin (Metalayer devnet)")
        CrosschainLinked(new CrosschainLinked.Link[](0))
        Ownable(initialOwner)
    {}

    /// @inheritdoc ERC20
    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @notice Link this token to its twin (same address) on `chainId` via `gateway` (owner).
    /// @param gateway the local ERC-7786 gateway
    /// @param chainId the remote chain
    function linkChain(address gateway, uint256 chainId) external onlyOwner {
        _setLink(gateway, InteroperableAddress.formatEvmV1(chainId, address(this)), true);
    }

    /// @notice Mint `amount` to each of `to` (owner; the devnet faucet).
    /// @param to receivers
    /// @param amount amount each, in 6-decimal units
    function mintBatch(address[] calldata to, uint256 amount) external onlyOwner {
        for (uint256 i = 0; i < to.length; ++i) _mint(to[i], amount);
    }
}
