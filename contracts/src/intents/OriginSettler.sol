// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {ERC7786Recipient} from "@openzeppelin/contracts/crosschain/ERC7786Recipient.sol";
import {InteroperableAddress} from "@openzeppelin/contracts/utils/draft-InteroperableAddress.sol";
import {
    IOriginSettler,
    GaslessCrossChainOrder,
    OnchainCrossChainOrder,
    ResolvedCrossChainOrder,
    Output,
    FillInstruction
} from "./IERC7683.sol";
import {MetalayerOrders} from "./MetalayerOrders.sol";

/**
 * @title OriginSettler (ERC-7683)
 * @notice Escrows the user's input when an order is opened (`open` by the user, `openFor` with the user's
 * EIP-712 signature by anyone) and releases it to the filler only when the DestinationSettler on the
 * order's destination chain proves the fill: its settlement message arrives through the MetalayerGateway,
 * which verified it against a guardian-attested state root of that chain. Without a proven fill the
 * user gets the escrow back after `fillDeadline + settlementGrace`.
 *
 * Nonces: a gasless order carries the user's nonce (below 2^255, each usable once); `open` takes the
 * next nonce of the caller's on-chain counter with the top bit set, so the two never collide.
 */
contract OriginSettler is IOriginSettler, ERC7786Recipient, EIP712 {
    using SafeERC20 for IERC20;

    enum Status {
        None,
        Open,
        Settled,
        Refunded
    }

    struct Escrow {
        address user;
        uint32 fillDeadline;
        Status status;
        address inputToken;
        uint256 inputAmount;
        uint256 destinationChainId;
    }

    uint256 private constant ONCHAIN_NONCE_FLAG = 1 << 255;

    /// @notice The local ERC-7786 gateway (delivers settlement messages).
    address public immutable gateway;
    /// @notice The DestinationSettler (same address on every chain): the only accepted settlement sender.
    address public immutable destinationSettler;
    /// @notice Seconds after the fill deadline during which a settlement may still arrive before a refund.
    uint256 public immutable settlementGrace;

    mapping(bytes32 orderId => Escrow) private _escrows;
    mapping(address user => mapping(uint256 nonce => bool)) public usedNonces;
    mapping(address user => uint256) public onchainOrderCount;

    /// @notice The escrow of `orderId` went to the filler (`repayTo`) after a proven fill.
    event Settled(bytes32 indexed orderId, address indexed repayTo, address token, uint256 amount);
    /// @notice The escrow of `orderId` went back to the user after the deadline.
    event Refunded(bytes32 indexed orderId, address indexed user, address token, uint256 amount);
    /// @notice A proven fill arrived for an order that is not open here (unknown, settled or refunded).
    event SettlementIgnored(bytes32 indexed orderId, address repayTo, Status status);

    error WrongOrderDataType(bytes32 orderDataType);
    error WrongSettler(address originSettler);
    error WrongOriginChain(uint256 originChainId);
    error OpenDeadlinePassed(uint32 openDeadline);
    error FillDeadlinePassed(uint32 fillDeadline);
    error InvalidNonce(uint256 nonce);
    error NonceUsed(address user, uint256 nonce);
    error InvalidSignature(address user);
    error InvalidOrder();
    error NonCanonicalOrderData();
    error OrderExists(bytes32 orderId);
    error NotOpen(bytes32 orderId, Status status);
    error RefundTooEarly(bytes32 orderId, uint256 refundableAt);
    error WrongSettlementSender(uint256 chainId, address sender);

    /// @param gateway_ the local MetalayerGateway
    /// @param destinationSettler_ the DestinationSettler address (same on every chain)
    /// @param settlementGrace_ seconds after the fill deadline before a refund is allowed
    constructor(address gateway_, address destinationSettler_, uint256 settlementGrace_)
        EIP712("MetalayerOriginSettler", "1")
    {
        gateway = gateway_;
        destinationSettler = destinationSettler_;
        settlementGrace = settlementGrace_;
    }

    // ------------------------------------------------------------------ open

    /// @inheritdoc IOriginSettler
    /// @dev `signature`: the user's EIP-712 signature of `order` (or ERC-1271). `originFillerData`: empty, or
    /// the user's ERC-2612 permit of the input token to this contract, `abi.encode(deadline, v, r, s)`, so a
    /// user without gas needs no prior approve transaction.
    function openFor(GaslessCrossChainOrder calldata order, bytes calldata signature, bytes calldata originFillerData)
        external
    {
        if (order.originSettler != address(this)) revert WrongSettler(order.originSettler);
        if (order.originChainId != block.chainid) revert WrongOriginChain(order.originChainId);
        if (block.timestamp > order.openDeadline) revert OpenDeadlinePassed(order.openDeadline);
        if (order.nonce >= ONCHAIN_NONCE_FLAG) revert InvalidNonce(order.nonce);
        if (usedNonces[order.user][order.nonce]) revert NonceUsed(order.user, order.nonce);
        MetalayerOrders.OrderData memory data = _decode(order.orderDataType, order.orderData);
        if (!SignatureChecker.isValidSignatureNow(order.user, gaslessDigest(order), signature)) {
            revert InvalidSignature(order.user);
        }
        usedNonces[order.user][order.nonce] = true;
        if (originFillerData.length != 0) _permit(order.user, data, originFillerData);
        _open(order.user, order.nonce, order.openDeadline, order.fillDeadline, data);
    }

    /// @inheritdoc IOriginSettler
    /// @dev The caller must have approved `inputAmount` of `inputToken` to this contract.
    function open(OnchainCrossChainOrder calldata order) external {
        MetalayerOrders.OrderData memory data = _decode(order.orderDataType, order.orderData);
        uint256 nonce = ONCHAIN_NONCE_FLAG | onchainOrderCount[msg.sender]++;
        usedNonces[msg.sender][nonce] = true;
        _open(msg.sender, nonce, uint32(block.timestamp), order.fillDeadline, data);
    }

    /// @inheritdoc IOriginSettler
    function resolveFor(GaslessCrossChainOrder calldata order, bytes calldata)
        external
        view
        returns (ResolvedCrossChainOrder memory)
    {
        MetalayerOrders.OrderData memory data = _decode(order.orderDataType, order.orderData);
        return _resolve(order.user, order.nonce, order.openDeadline, order.fillDeadline, data);
    }

    /// @inheritdoc IOriginSettler
    function resolve(OnchainCrossChainOrder calldata order) external view returns (ResolvedCrossChainOrder memory) {
        MetalayerOrders.OrderData memory data = _decode(order.orderDataType, order.orderData);
        uint256 nonce = ONCHAIN_NONCE_FLAG | onchainOrderCount[msg.sender];
        return _resolve(msg.sender, nonce, uint32(block.timestamp), order.fillDeadline, data);
    }

    /// @notice EIP-712 digest the user signs for `openFor` (domain: "MetalayerOriginSettler", "1", chain, this).
    /// @param order the gasless order
    function gaslessDigest(GaslessCrossChainOrder calldata order) public view returns (bytes32) {
        MetalayerOrders.OrderData memory data = abi.decode(order.orderData, (MetalayerOrders.OrderData));
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    MetalayerOrders.GASLESS_ORDER_TYPEHASH,
                    order.originSettler,
                    order.user,
                    order.nonce,
                    order.originChainId,
                    order.openDeadline,
                    order.fillDeadline,
                    order.orderDataType,
                    MetalayerOrders.hash(data)
                )
            )
        );
    }

    /// @notice The ERC-7683 `orderDataType` of Metalayer orders.
    function orderDataType() external pure returns (bytes32) {
        return MetalayerOrders.ORDER_DATA_TYPEHASH;
    }

    /// @notice The escrow of `orderId` (status None if unknown).
    /// @param orderId the order
    function escrowOf(bytes32 orderId) external view returns (Escrow memory) {
        return _escrows[orderId];
    }

    // ------------------------------------------------------------------ settle / refund

    /// @notice Give the escrow back to the user: no proven fill by `fillDeadline + settlementGrace` (anyone).
    /// @param orderId the order
    function refund(bytes32 orderId) external {
        Escrow storage e = _escrows[orderId];
        if (e.status != Status.Open) revert NotOpen(orderId, e.status);
        uint256 refundableAt = uint256(e.fillDeadline) + settlementGrace;
        if (block.timestamp <= refundableAt) revert RefundTooEarly(orderId, refundableAt);
        e.status = Status.Refunded;
        IERC20(e.inputToken).safeTransfer(e.user, e.inputAmount);
        emit Refunded(orderId, e.user, e.inputToken, e.inputAmount);
    }

    function _isAuthorizedGateway(address gw, bytes calldata) internal view override returns (bool) {
        return gw == gateway;
    }

    /// @dev A settlement from the DestinationSettler of the order's destination chain pays the filler.
    /// A settlement for an order that is not open is recorded and dropped (it must not revert: the
    /// gateway would keep it deliverable and the relayer would retry it forever).
    function _processMessage(address, bytes32, bytes calldata sender, bytes calldata payload) internal override {
        (uint256 sourceChainId, address from) = InteroperableAddress.parseEvmV1Calldata(sender);
        if (from != destinationSettler) revert WrongSettlementSender(sourceChainId, from);
        (bytes32 orderId, address repayTo) = abi.decode(payload, (bytes32, address));
        Escrow storage e = _escrows[orderId];
        if (e.status != Status.Open || e.destinationChainId != sourceChainId) {
            emit SettlementIgnored(orderId, repayTo, e.status);
            return;
        }
        e.status = Status.Settled;
        IERC20(e.inputToken).safeTransfer(repayTo, e.inputAmount);
        emit Settled(orderId, repayTo, e.inputToken, e.inputAmount);
    }

    // ------------------------------------------------------------------ internals

    function _decode(bytes32 dataType, bytes calldata orderData)
        private
        view
        returns (MetalayerOrders.OrderData memory data)
    {
        if (dataType != MetalayerOrders.ORDER_DATA_TYPEHASH) revert WrongOrderDataType(dataType);
        // one encoding per order: abi.decode would ignore trailing bytes
        if (orderData.length != MetalayerOrders.ORDER_DATA_LENGTH) revert NonCanonicalOrderData();
        data = abi.decode(orderData, (MetalayerOrders.OrderData));
        if (
            data.inputAmount == 0 || data.outputAmount == 0 || data.inputToken == address(0)
                || data.outputToken == address(0) || data.recipient == address(0)
                || data.destinationChainId == block.chainid || data.destinationChainId == 0
        ) revert InvalidOrder();
    }

    function _permit(address user, MetalayerOrders.OrderData memory data, bytes calldata permitData) private {
        (uint256 deadline, uint8 v, bytes32 r, bytes32 s) = abi.decode(permitData, (uint256, uint8, bytes32, bytes32));
        // try: a permit front-run from the mempool already set the allowance; transferFrom decides
        try IERC20Permit(data.inputToken).permit(user, address(this), data.inputAmount, deadline, v, r, s) {} catch {}
    }

    function _fillData(address user, uint256 nonce, uint32 fillDeadline, MetalayerOrders.OrderData memory data)
        private
        view
        returns (bytes memory)
    {
        return abi.encode(
            MetalayerOrders.FillData({
                originChainId: block.chainid,
                originSettler: address(this),
                user: user,
                nonce: nonce,
                fillDeadline: fillDeadline,
                outputToken: data.outputToken,
                outputAmount: data.outputAmount,
                recipient: data.recipient,
                destinationChainId: data.destinationChainId
            })
        );
    }

    function _resolve(
        address user,
        uint256 nonce,
        uint32 openDeadline,
        uint32 fillDeadline,
        MetalayerOrders.OrderData memory data
    ) private view returns (ResolvedCrossChainOrder memory r) {
        bytes memory originData = _fillData(user, nonce, fillDeadline, data);
        r.user = user;
        r.originChainId = block.chainid;
        r.openDeadline = openDeadline;
        r.fillDeadline = fillDeadline;
        r.orderId = keccak256(originData); // = MetalayerOrders.orderId: originData is the canonical encoding
        r.maxSpent = new Output[](1);
        r.maxSpent[0] = Output(
            bytes32(uint256(uint160(data.outputToken))),
            data.outputAmount,
            bytes32(uint256(uint160(data.recipient))),
            data.destinationChainId
        );
        r.minReceived = new Output[](1);
        // recipient 0: the filler (ERC-7683), paid to the `repayTo` it names in its fill
        r.minReceived[0] = Output(bytes32(uint256(uint160(data.inputToken))), data.inputAmount, bytes32(0), block.chainid);
        r.fillInstructions = new FillInstruction[](1);
        r.fillInstructions[0] =
            FillInstruction(data.destinationChainId, bytes32(uint256(uint160(destinationSettler))), originData);
    }

    function _open(address user, uint256 nonce, uint32 openDeadline, uint32 fillDeadline, MetalayerOrders.OrderData memory data)
        private
    {
        if (block.timestamp >= fillDeadline) revert FillDeadlinePassed(fillDeadline);
        ResolvedCrossChainOrder memory r = _resolve(user, nonce, openDeadline, fillDeadline, data);
        if (_escrows[r.orderId].status != Status.None) revert OrderExists(r.orderId);
        _escrows[r.orderId] = Escrow({
            user: user,
            fillDeadline: fillDeadline,
            status: Status.Open,
            inputToken: data.inputToken,
            inputAmount: data.inputAmount,
            destinationChainId: data.destinationChainId
        });
        IERC20(data.inputToken).safeTransferFrom(user, address(this), data.inputAmount);
        emit Open(r.orderId, r);
    }
}
