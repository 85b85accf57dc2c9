// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {ERC7786Recipient} from "@openzeppelin/contracts/crosschain/ERC7786Recipient.sol";
import {IERC7786GatewaySource} from "@openzeppelin/contracts/interfaces/draft-IERC7786.sol";
import {InteroperableAddress} from "@openzeppelin/contracts/utils/draft-InteroperableAddress.sol";

/**
 * @title PingPong
 * @notice Example dapp: a ball bounces between the PingPong twins (same address on every chain)
 * until its counter reaches zero. Messages are paid from this contract's prepaid gateway fee balance
 * (`MetalayerGateway.depositFee(pingPong, amount)`).
 */
contract PingPong is ERC7786Recipient {
    /// @notice The local gateway.
    address public immutable gateway;
    /// @notice Balls received so far.
    uint256 public received;

    event Ping(uint256 indexed destinationChainId, uint256 remaining, bytes32 sendId);
    event Pong(uint256 indexed sourceChainId, uint256 remaining, bytes32 receiveId);

    error NoRounds();

    /// @param gateway_ the local MetalayerGateway
    constructor(address gateway_) {
        gateway = gateway_;
    }

    /// @notice Serve a ball to the twin on `destinationChainId`; it bounces `rounds` times in total.
    /// @param destinationChainId the other chain
    /// @param rounds number of deliveries (>= 1)
    function start(uint256 destinationChainId, uint256 rounds) external returns (bytes32 sendId) {
        if (rounds == 0) revert NoRounds();
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
        if (remaining > 0) _send(sourceChainId, remaining - 1);
    }
}
