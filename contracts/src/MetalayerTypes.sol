// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";

/// @notice A guardian statement that block `blockNumber` of chain `chainId` has this hash and state root.
struct Attestation {
    uint256 chainId;
    uint256 blockNumber;
    bytes32 blockHash;
    bytes32 stateRoot;
}

/// @notice A cross-chain message as committed by the source gateway (see docs/PROTOCOL.md).
struct Message {
    uint256 sourceChainId;
    uint256 destinationChainId;
    uint256 nonce;
    address sender;
    address recipient;
    bytes payload;
}

/// @notice EIP-712 digest of an attestation. The domain is a name, a version and a salt: the devnet
/// instance id (fresh on every `devnet up`, identical on every chain of one devnet). No chainId and no
/// verifyingContract, so one signature set verifies on every chain of the devnet and is slashing
/// evidence there; the salt makes nothing signed in one run verify in another.
library AttestationLib {
    bytes32 internal constant DOMAIN_TYPEHASH = keccak256("EIP712Domain(string name,string version,bytes32 salt)");
    bytes32 internal constant ATTESTATION_TYPEHASH =
        keccak256("Attestation(uint256 chainId,uint256 blockNumber,bytes32 blockHash,bytes32 stateRoot)");

    function domainSeparator(bytes32 instanceId) internal pure returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, keccak256("Metalayer"), keccak256("1"), instanceId));
    }

    function digest(bytes32 separator, Attestation calldata att) internal pure returns (bytes32) {
        return MessageHashUtils.toTypedDataHash(
            separator,
            keccak256(abi.encode(ATTESTATION_TYPEHASH, att.chainId, att.blockNumber, att.blockHash, att.stateRoot))
        );
    }
}

/// @notice What the gateway and the staking contract need from the registry.
interface IStateRootRegistry {
    /// @notice Store `att` if signed by a quorum of guardians (no-op if already stored).
    function submitAttestation(Attestation calldata att, bytes[] calldata signatures) external;
    /// @notice Attested state root of (chainId, blockNumber), 0 if none.
    function rootAt(uint256 chainId, uint256 blockNumber) external view returns (bytes32 stateRoot);
    /// @notice The highest attested block of `chainId` with its hash and state root (all zero if none).
    function latestRoot(uint256 chainId) external view returns (uint256 blockNumber, bytes32 blockHash, bytes32 stateRoot);
    /// @notice Remove a guardian (hub staking contract only).
    function removeGuardian(address guardian) external;
    /// @notice Whether `account` is a current guardian.
    function isGuardian(address account) external view returns (bool);
    /// @notice Whether attestations for `chainId` are accepted (i.e. it is a chain of this network).
    function isTracked(uint256 chainId) external view returns (bool);
    /// @notice The EIP-712 digest of `att` under this devnet instance's domain.
    function attestationDigest(Attestation calldata att) external view returns (bytes32);
    /// @notice The current guardians.
    function getGuardians() external view returns (address[] memory);
}
