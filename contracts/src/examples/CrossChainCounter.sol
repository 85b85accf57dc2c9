// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {ERC7786Recipient} from "@openzeppelin/contracts/crosschain/ERC7786Recipient.sol";
import {IERC7786GatewaySource} from "@openzeppelin/contracts/interfaces/draft-IERC7786.sol";
import {InteroperableAddress} from "@openzeppelin/contracts/utils/draft-InteroperableAddress.sol";

/**
 * @title CrossChainCounter
 * @notice Example dapp: anyone on any chain can bump the counter on another chain by sending it a message
 * (directly through the gateway, or with `increment` on its twin; the caller pays the fee).
 */
contract CrossChainCounter is ERC7786Recipient {
    /// @notice The local gateway.
    address public immutable gateway;
    /// @notice Selector of the call `increment(uint256)` a payload may carry instead of abi.encode(amount).
    bytes4 public constant INCREMENT_CALL = bytes4(keccak256("increment(uint256)"));
    /// @notice Total increments received.
    uint256 public count;

    event Incremented(bytes sender, uint256 amount, uint256 count, bytes32 receiveId);
    event IncrementSent(uint256 indexed destinationChainId, uint256 amount, bytes32 sendId);

    /// @param gateway_ the local MetalayerGateway
    constructor(address gateway_) {
        gateway = gateway_;
    }

    /// @notice Ask the twin counter on `destinationChainId` to add `amount`. The fee is charged to the
    /// caller: this contract holds no prepaid fee balance, so the gateway charges `tx.origin`'s
    /// prepaid balance (the sponsor rule, docs/PROTOCOL.md); a balance someone deposits for this
    /// contract is a gift that every caller may spend.
    /// @param destinationChainId the other chain
    /// @param amount the increment
    function increment(uint256 destinationChainId, uint256 amount) external returns (bytes32 sendId) {
        sendId = IERC7786GatewaySource(gateway).sendMessage(
            InteroperableAddress.formatEvmV1(destinationChainId, address(this)), abi.encode(amount), new bytes[](0)
        );
        emit IncrementSent(destinationChainId, amount, sendId);
    }

    function _isAuthorizedGateway(address gw, bytes calldata) internal view override returns (bool) {
        return gw == gateway;
    }

    /// @dev Payload: abi.encode(uint256 amount), or the call `increment(uint256 amount)` (what
    /// `devnet send --sig "increment(uint256)" 7` sends); an empty payload counts as 1.
    function _processMessage(address, bytes32 receiveId, bytes calldata sender, bytes calldata payload) internal override {
        uint256 amount = _amount(payload);
        uint256 c = count + amount;
        count = c;
        emit Incremented(sender, amount, c, receiveId);
    }

    function _amount(bytes calldata payload) private pure returns (uint256) {
        if (payload.length == 36 && bytes4(payload[:4]) == INCREMENT_CALL) return abi.decode(payload[4:], (uint256));
        return payload.length >= 32 ? abi.decode(payload, (uint256)) : 1;
    }
}
