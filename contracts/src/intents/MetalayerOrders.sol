// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

/**
 * @title MetalayerOrders
 * @notice The Metalayer order data (ERC-7683 `orderData`) and the fill data (`originData`) shared by the
 * origin and destination settlers. The order id is `keccak256(originData)`: it commits to every term
 * the destination must honour (token, amount, recipient, chain, deadline), so a fill with any other
 * term has another id and is refused.
 */
library MetalayerOrders {
    /// @notice ERC-7683 `orderData`: what the user gives on the origin and wants on the destination.
    struct OrderData {
        address inputToken;
        uint256 inputAmount;
        address outputToken;
        uint256 outputAmount;
        address recipient;
        uint256 destinationChainId;
    }

    /// @notice ERC-7683 `originData` of the fill instruction.
    struct FillData {
        uint256 originChainId;
        address originSettler;
        address user;
        uint256 nonce;
        uint32 fillDeadline;
        address outputToken;
        uint256 outputAmount;
        address recipient;
        uint256 destinationChainId;
    }

    bytes internal constant ORDER_DATA_TYPE =
        "OrderData(address inputToken,uint256 inputAmount,address outputToken,uint256 outputAmount,"
        "address recipient,uint256 destinationChainId)";
    /// @dev The ERC-7683 `orderDataType` of Metalayer orders (the EIP-712 type hash of OrderData).
    bytes32 internal constant ORDER_DATA_TYPEHASH = keccak256(ORDER_DATA_TYPE);
    bytes32 internal constant GASLESS_ORDER_TYPEHASH = keccak256(
        abi.encodePacked(
            "GaslessCrossChainOrder(address originSettler,address user,uint256 nonce,uint256 originChainId,"
            "uint32 openDeadline,uint32 fillDeadline,bytes32 orderDataType,OrderData orderData)",
            ORDER_DATA_TYPE
        )
    );

    /// @notice EIP-712 struct hash of an OrderData.
    function hash(OrderData memory d) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                ORDER_DATA_TYPEHASH, d.inputToken, d.inputAmount, d.outputToken, d.outputAmount, d.recipient, d.destinationChainId
            )
        );
    }

    /// @notice Settlement message from the destination settler: the order and who is paid on the origin.
    function encodeSettlement(bytes32 orderId, address repayTo) internal pure returns (bytes memory) {
        return abi.encode(orderId, repayTo);
    }
}
