// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

// ERC-7683 (Cross Chain Intents) order types and settler interfaces, written from the ERC text
// (OpenZeppelin 5.7.0 has none). `FillInstruction.destinationChainId` is uint256 as in the current text.

/// @notice Order signed by the user, disseminated to fillers and submitted to the origin settler by anyone.
struct GaslessCrossChainOrder {
    address originSettler;
    address user;
    uint256 nonce;
    uint256 originChainId;
    uint32 openDeadline;
    uint32 fillDeadline;
    bytes32 orderDataType;
    bytes orderData;
}

/// @notice Order opened on chain by the user itself.
struct OnchainCrossChainOrder {
    uint32 fillDeadline;
    bytes32 orderDataType;
    bytes orderData;
}

/// @notice Tokens sent or received: `token`, `recipient` are bytes32 so non-EVM chains fit.
struct Output {
    bytes32 token;
    uint256 amount;
    bytes32 recipient;
    uint256 chainId;
}

/// @notice What a filler needs to fill one leg on one destination chain.
struct FillInstruction {
    uint256 destinationChainId;
    bytes32 destinationSettler;
    bytes originData;
}

/// @notice The settler-independent view of an order, emitted in `Open`.
struct ResolvedCrossChainOrder {
    address user;
    uint256 originChainId;
    uint32 openDeadline;
    uint32 fillDeadline;
    bytes32 orderId;
    Output[] maxSpent;
    Output[] minReceived;
    FillInstruction[] fillInstructions;
}

/// @title IOriginSettler (ERC-7683)
interface IOriginSettler {
    /// @notice An order was opened; fillers read everything they need from `resolvedOrder`.
    event Open(bytes32 indexed orderId, ResolvedCrossChainOrder resolvedOrder);

    /// @notice Open a gasless order signed by `order.user` (anyone may submit it).
    function openFor(GaslessCrossChainOrder calldata order, bytes calldata signature, bytes calldata originFillerData)
        external;

    /// @notice Open an order for the caller.
    function open(OnchainCrossChainOrder calldata order) external;

    /// @notice The resolved form of a gasless order.
    function resolveFor(GaslessCrossChainOrder calldata order, bytes calldata originFillerData)
        external
        view
        returns (ResolvedCrossChainOrder memory);

    /// @notice The resolved form of an on-chain order (for the caller).
    function resolve(OnchainCrossChainOrder calldata order) external view returns (ResolvedCrossChainOrder memory);
}

/// @title IDestinationSettler (ERC-7683)
interface IDestinationSettler {
    /// @notice Fill one leg of `orderId` with the filler's own tokens.
    function fill(bytes32 orderId, bytes calldata originData, bytes calldata fillerData) external;
}
