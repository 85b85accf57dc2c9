// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {IMetalayerStateReader} from "./IMetalayerStateReader.sol";

/**
 * @title MetalayerStateReader
 * @notice Storage slots of common layouts and one-call proven reads of another chain's storage
 * through the local gateway (`IMetalayerStateReader.verifyStorage`).
 *
 *     using MetalayerStateReader for IMetalayerStateReader;
 *     uint256 bal = gateway.readErc20Balance(901, blockNumber, token, holder, accountProof, storageProof);
 */
library MetalayerStateReader {
    /// @dev keccak256(abi.encode(uint256(keccak256("openzeppelin.storage.ERC20")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 internal constant OZ_ERC20_UPGRADEABLE_STORAGE =
        0x52c63247e1f47db19d5ce0460030c497f067ca4cebf71ba98eeadabe20bace00;

    /// @notice The slot of `m[key]` for a mapping `m` with a value-type key at slot `base`.
    function mappingSlot(bytes32 key, bytes32 base) internal pure returns (bytes32) {
        return keccak256(abi.encode(key, base));
    }

    /// @notice The slot of `holder`'s balance in an `@openzeppelin/contracts` 5 ERC20 (`_balances` at slot 0).
    function erc20BalanceSlot(address holder) internal pure returns (bytes32) {
        return mappingSlot(bytes32(uint256(uint160(holder))), bytes32(0));
    }

    /// @notice The same for `@openzeppelin/contracts-upgradeable` 5 (ERC-7201 namespaced `_balances`).
    function erc20BalanceSlotUpgradeable(address holder) internal pure returns (bytes32) {
        return mappingSlot(bytes32(uint256(uint160(holder))), OZ_ERC20_UPGRADEABLE_STORAGE);
    }

    /// @notice One proven slot of `account` on `chainId` at `blockNumber`, as a uint256.
    function readUint(
        IMetalayerStateReader gateway,
        uint256 chainId,
        uint256 blockNumber,
        address account,
        bytes32 slot,
        bytes[] calldata accountProof,
        bytes[] calldata storageProof
    ) internal view returns (uint256) {
        return uint256(gateway.verifyStorage(chainId, blockNumber, account, slot, accountProof, storageProof));
    }

    /// @notice `holder`'s proven balance of the OpenZeppelin 5 ERC20 `token` on `chainId` at `blockNumber`.
    function readErc20Balance(
        IMetalayerStateReader gateway,
        uint256 chainId,
        uint256 blockNumber,
        address token,
        address holder,
        bytes[] calldata accountProof,
        bytes[] calldata storageProof
    ) internal view returns (uint256) {
        return readUint(gateway, chainId, blockNumber, token, erc20BalanceSlot(holder), accountProof, storageProof);
    }
}
