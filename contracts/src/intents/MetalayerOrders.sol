// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

/**
 * @title MetalayerOrders
 * @notice The Metalayer order data (ERC-7683 `orderData`) and the fill data (`originData`) shared by the
 * origin and destination settlers. The order id is `keccak256(abi.encode(fillData))` (`orderId`), the
 * hash of the one canonical encoding of the terms: it commits to every term the destination must
 * honour (token, amount, recipient, chain, deadline), so a fill with any other term has another id and
 * is refused, and the same terms have one id only (both settlers refuse any other encoding, e.g. with
 * trailing bytes, which `abi.decode` would ignore).
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

    /// @dev Length of the ABI encoding of an OrderData (6 static words): the only accepted `orderData`.
    uint256 internal constant ORDER_DATA_LENGTH = 6 * 32;
    /// @dev Length of the ABI encoding of a FillData (9 static words): the only accepted `originData`.
    uint256 internal constant FILL_DATA_LENGTH = 9 * 32;

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

    /// @notice The order id of the fill data `d`: the hash of its canonical encoding (the `originData`).
    function orderId(FillData memory d) internal pure returns (bytes32) {
        return keccak256(abi.encode(d));
    }

    /// @notice Settlement message from the destination settler: the order and who is paid on the origin.
    function encodeSettlement(bytes32 orderId, address repayTo) internal pure returns (bytes memory) {
        return abi.encode(orderId, repayTo);
    }
}
