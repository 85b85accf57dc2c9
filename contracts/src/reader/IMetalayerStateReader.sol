// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

/**
 * @title IMetalayerStateReader
 * @notice What a contract needs from the local MetalayerGateway to read another chain's storage:
 * one slot of one account at an attested block, proven by eth_getProof's account and storage proofs.
 * `devnet read --json` and `GET /v1/read` return exactly these arguments (and attest the block's
 * root on demand), so an off-chain caller passes them through unchanged.
 */
interface IMetalayerStateReader {
    /**
     * @notice The value of `slot` of `account` on `chainId` at `blockNumber`, proven against the state
     * root attested in the registry; reverts for an unknown root or an invalid proof.
     * @param chainId the chain read
     * @param blockNumber the attested block
     * @param account the contract whose storage is read
     * @param slot the storage slot
     * @param accountProof eth_getProof accountProof of `account`
     * @param storageProof eth_getProof storageProof of `slot`
     * @return value the slot's value (zero for an unset slot, proven by an exclusion proof)
     */
    function verifyStorage(
        uint256 chainId,
        uint256 blockNumber,
        address account,
        bytes32 slot,
        bytes[] calldata accountProof,
        bytes[] calldata storageProof
    ) external view returns (bytes32 value);
}
