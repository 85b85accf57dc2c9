// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ERC7786Recipient} from "@openzeppelin/contracts/crosschain/ERC7786Recipient.sol";
import {IERC7786GatewaySource} from "@openzeppelin/contracts/interfaces/draft-IERC7786.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {InteroperableAddress} from "@openzeppelin/contracts/utils/draft-InteroperableAddress.sol";

/// @notice The slice of MetalayerGateway's fee API PingPong uses.
interface IGatewayFees {
    function feeToken() external view returns (IERC20);
    function feeBalance(address account) external view returns (uint256);
    function withdrawFee(address to, uint256 amount) external;
    function quoteFee(uint256 destinationChainId, uint256 payloadLength) external view returns (uint256);
}

/**
 * @title PingPong
 * @notice Example dapp: a ball bounces between the PingPong twins (same address on every chain)
 * until its counter reaches zero; a rally has at most MAX_ROUNDS deliveries.
 *
 * Fees: the serve (`start`) is paid by the caller: this contract keeps no prepaid fee balance (it
 * turns any into ERA it holds), so the gateway charges `tx.origin`'s prepaid balance (docs/PROTOCOL.md,
 * sponsor rule). Returns are sent while a relayer delivers, so they are paid from the ERA this
 * contract holds (the float), approved to the gateway for exactly one fee at a time. So that nobody
 * can spend the float by paying only serves, a rally with returns (`rounds > 1`) may only be started
 * by the owner (the deployer, the same on every chain); anyone else may serve a single ball
 * (`rounds == 1`), which costs its caller one fee and the float nothing.
 */
contract PingPong is ERC7786Recipient, Ownable {
    /// @notice Most deliveries of one rally.
    uint256 public constant MAX_ROUNDS = 4;
    /// @notice The local gateway.
    address public immutable gateway;
    /// @notice Balls received so far.
    uint256 public received;

    event Ping(uint256 indexed destinationChainId, uint256 remaining, bytes32 sendId);
    event Pong(uint256 indexed sourceChainId, uint256 remaining, bytes32 receiveId);

    error NoRounds();
    error TooManyRounds(uint256 rounds, uint256 max);
    /// @notice Only the owner may start a rally with returns (they are paid from the float).
    error RallyNeedsOwner(address caller);

    /// @param gateway_ the local MetalayerGateway
    /// @param owner_ who may start rallies of more than one delivery (the deployer)
    constructor(address gateway_, address owner_) Ownable(owner_) {
        gateway = gateway_;
    }

    /// @notice Serve a ball to the twin on `destinationChainId`; it bounces `rounds` times in total.
    /// The caller (tx.origin) pays this first message's fee from its prepaid gateway balance; the
    /// returns are paid from the float, so only the owner may ask for more than one delivery.
    /// @param destinationChainId the other chain
    /// @param rounds number of deliveries (1..MAX_ROUNDS; above 1 only for the owner)
    function start(uint256 destinationChainId, uint256 rounds) external returns (bytes32 sendId) {
        if (rounds == 0) revert NoRounds();
        if (rounds > MAX_ROUNDS) revert TooManyRounds(rounds, MAX_ROUNDS);
        if (rounds > 1 && msg.sender != owner()) revert RallyNeedsOwner(msg.sender);
        IGatewayFees gw = IGatewayFees(gateway);
        uint256 prepaid = gw.feeBalance(address(this));
        if (prepaid != 0) gw.withdrawFee(address(this), prepaid); // the float is held as ERA, not prepaid
        return _send(destinationChainId, rounds - 1);
    }

    function _send(uint256 destinationChainId, uint256 remaining) private returns (bytes32 sendId) {
        sendId = IERC7786GatewaySource(gateway).sendMessage(
            InteroperableAddress.formatEvmV1(destinationChainId, address(this)), abi.encode(remaining), new bytes[](0)
        );
        emit Ping(destinationChainId, remaining, sendId);
    }

    function _isAuthorizedGateway(address gw, bytes calldata sender) internal view override returns (bool) {
        (bool ok, , address addr) = InteroperableAddress.tryParseEvmV1Calldata(sender);
        return gw == gateway && ok && addr == address(this);
    }

    function _processMessage(address, bytes32 receiveId, bytes calldata sender, bytes calldata payload) internal override {
        (uint256 sourceChainId, ) = InteroperableAddress.parseEvmV1Calldata(sender);
        uint256 remaining = abi.decode(payload, (uint256));
        ++received;
        emit Pong(sourceChainId, remaining, receiveId);
        if (remaining > 0) {
            if (remaining >= MAX_ROUNDS) remaining = MAX_ROUNDS - 1; // a twin never extends a rally
            IGatewayFees gw = IGatewayFees(gateway);
            uint256 prepaid = gw.feeBalance(address(this));
            if (prepaid != 0) gw.withdrawFee(address(this), prepaid);
            // the reply's fee, from the float: exactly one fee approved, pulled by the gateway
            gw.feeToken().approve(gateway, gw.quoteFee(sourceChainId, 32));
            _send(sourceChainId, remaining - 1);
        }
    }
}
