// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IERC7786GatewaySource} from "@openzeppelin/contracts/interfaces/draft-IERC7786.sol";
import {InteroperableAddress} from "@openzeppelin/contracts/utils/draft-InteroperableAddress.sol";
import {IDestinationSettler} from "./IERC7683.sol";
import {MetalayerOrders} from "./MetalayerOrders.sol";

/**
 * @title DestinationSettler (ERC-7683)
 * @notice `fill` pays the order's recipient from the filler's own tokens, records the fill (one per order,
 * ever) and sends the settlement message `(orderId, repayTo)` through the MetalayerGateway to the origin
 * settler named in the fill data. The gateway fee (ERA) comes from this contract's prepaid fee balance
 * (`MetalayerGateway.depositFee(destinationSettler, amount)`).
 */
contract DestinationSettler is IDestinationSettler {
    using SafeERC20 for IERC20;

    struct FillRecord {
        address filler;
        address repayTo;
        uint64 filledAt;
        bytes32 settlementId;
    }

    /// @notice The local ERC-7786 gateway.
    address public immutable gateway;

    mapping(bytes32 orderId => FillRecord) private _fills;

    /// @notice `filler` paid `amount` of `token` to `recipient` for `orderId`; `settlementId` carries the proof home.
    event Filled(
        bytes32 indexed orderId,
        address indexed filler,
        address repayTo,
        address recipient,
        address token,
        uint256 amount,
        uint256 originChainId,
        bytes32 settlementId
    );

    error OrderIdMismatch(bytes32 orderId, bytes32 expected);
    error WrongChain(uint256 destinationChainId);
    error FillDeadlinePassed(uint32 fillDeadline);
    error AlreadyFilled(bytes32 orderId, address filler);
    error InvalidFillData();
    error NonCanonicalOriginData();

    /// @param gateway_ the local MetalayerGateway
    constructor(address gateway_) {
        gateway = gateway_;
    }

    /// @inheritdoc IDestinationSettler
    /// @dev `originData`: the ABI-encoded MetalayerOrders.FillData of the Open event, exactly (no other
    /// encoding of the same terms, e.g. with trailing bytes: `NonCanonicalOriginData`); `orderId` must be
    /// the id the origin derives from those terms (`MetalayerOrders.orderId`), so a changed token, amount,
    /// recipient or chain is refused and an order is filled once, ever. `fillerData`: empty (repay the
    /// caller on the origin) or exactly `abi.encode(address repayTo)`. The caller must have approved the amount.
    function fill(bytes32 orderId, bytes calldata originData, bytes calldata fillerData) external {
        MetalayerOrders.FillData memory d = _decodeFillData(originData);
        bytes32 expected = MetalayerOrders.orderId(d);
        if (orderId != expected) revert OrderIdMismatch(orderId, expected);
        if (d.destinationChainId != block.chainid) revert WrongChain(d.destinationChainId);
        if (block.timestamp > d.fillDeadline) revert FillDeadlinePassed(d.fillDeadline);
        if (d.outputAmount == 0 || d.recipient == address(0) || d.outputToken == address(0)) revert InvalidFillData();
        FillRecord storage rec = _fills[orderId];
        if (rec.filler != address(0)) revert AlreadyFilled(orderId, rec.filler);
        address repayTo = _repayTo(fillerData);

        rec.filler = msg.sender;
        rec.repayTo = repayTo;
        rec.filledAt = uint64(block.timestamp);
        IERC20(d.outputToken).safeTransferFrom(msg.sender, d.recipient, d.outputAmount);
        bytes32 sendId = IERC7786GatewaySource(gateway).sendMessage(
            InteroperableAddress.formatEvmV1(d.originChainId, d.originSettler),
            MetalayerOrders.encodeSettlement(orderId, repayTo),
            new bytes[](0)
        );
        rec.settlementId = sendId;
        emit Filled(orderId, msg.sender, repayTo, d.recipient, d.outputToken, d.outputAmount, d.originChainId, sendId);
    }

    /// @notice The fill record of `orderId` (filler 0 if not filled).
    /// @param orderId the order
    function fillOf(bytes32 orderId) external view returns (FillRecord memory) {
        return _fills[orderId];
    }

    /// @dev The fill data, only from its canonical encoding: a padded or otherwise re-encoded `originData`
    /// has another keccak256 and must not become a second identity of one order.
    function _decodeFillData(bytes calldata originData) private pure returns (MetalayerOrders.FillData memory d) {
        if (originData.length != MetalayerOrders.FILL_DATA_LENGTH) revert NonCanonicalOriginData();
        d = abi.decode(originData, (MetalayerOrders.FillData));
        if (keccak256(originData) != MetalayerOrders.orderId(d)) revert NonCanonicalOriginData();
    }

    /// @dev The origin-chain repayment address: the caller, or the one `abi.encode(address)` word.
    function _repayTo(bytes calldata fillerData) private view returns (address repayTo) {
        if (fillerData.length == 0) return msg.sender;
        if (fillerData.length != 32) revert InvalidFillData();
        repayTo = abi.decode(fillerData, (address));
        if (repayTo == address(0)) revert InvalidFillData();
    }
}
