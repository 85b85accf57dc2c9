// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {IMetalayerStateReader} from "../reader/IMetalayerStateReader.sol";
import {MetalayerStateReader} from "../reader/MetalayerStateReader.sol";

/**
 * @title RemoteBalanceGate
 * @notice Example dapp acting on another rollup's state: an account joins here only if it holds at
 * least `minBalance` of an ERC20 on `sourceChainId`, proven in one call against an attested root (no
 * message, no bridge). Get the block and proofs from `devnet read --erc20-balance HOLDER --json` or
 * `GET /v1/read?erc20_balance=HOLDER`, which attest a fresh root on demand.
 */
contract RemoteBalanceGate {
    using MetalayerStateReader for IMetalayerStateReader;

    /// @notice The local gateway that verifies the proofs.
    IMetalayerStateReader public immutable gateway;
    /// @notice The chain whose token balance counts.
    uint256 public immutable sourceChainId;
    /// @notice The OpenZeppelin 5 ERC20 on `sourceChainId`.
    address public immutable token;
    /// @notice The balance needed to join.
    uint256 public immutable minBalance;
    /// @notice Accounts that proved their balance, and the balance they proved.
    mapping(address account => uint256 balance) public members;

    event Joined(address indexed account, uint256 balance, uint256 blockNumber);

    error InsufficientRemoteBalance(address account, uint256 balance, uint256 required);

    /// @param gateway_ the local MetalayerGateway
    /// @param sourceChainId_ the chain whose balances count
    /// @param token_ the ERC20 on that chain
    /// @param minBalance_ the balance needed to join
    constructor(IMetalayerStateReader gateway_, uint256 sourceChainId_, address token_, uint256 minBalance_) {
        gateway = gateway_;
        sourceChainId = sourceChainId_;
        token = token_;
        minBalance = minBalance_;
    }

    /// @notice `account`'s token balance on the source chain at `blockNumber`, proven.
    /// @param account the holder
    /// @param blockNumber an attested block of the source chain
    /// @param accountProof eth_getProof accountProof of `token`
    /// @param storageProof eth_getProof storageProof of the balance slot
    function remoteBalance(address account, uint256 blockNumber, bytes[] calldata accountProof, bytes[] calldata storageProof)
        public
        view
        returns (uint256)
    {
        return gateway.readErc20Balance(sourceChainId, blockNumber, token, account, accountProof, storageProof);
    }

    /// @notice Join with the caller's proven balance; reverts with the balance when it is too low.
    /// @param blockNumber an attested block of the source chain
    /// @param accountProof eth_getProof accountProof of `token`
    /// @param storageProof eth_getProof storageProof of the caller's balance slot
    function join(uint256 blockNumber, bytes[] calldata accountProof, bytes[] calldata storageProof) external {
        uint256 balance = remoteBalance(msg.sender, blockNumber, accountProof, storageProof);
        if (balance < minBalance) revert InsufficientRemoteBalance(msg.sender, balance, minBalance);
        members[msg.sender] = balance;
        emit Joined(msg.sender, balance, blockNumber);
    }
}
