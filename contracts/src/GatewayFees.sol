// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {InteroperableAddress} from "@openzeppelin/contracts/utils/draft-InteroperableAddress.sol";

/// @notice The slice of ERA the gateway needs to forward the guardians' fee share to the hub.
interface IEraCrosschain {
    /// @notice Burn `amount` here and mint it to `to` (ERC-7930) on its chain.
    function crosschainTransfer(bytes memory to, uint256 amount) external returns (bytes32);
}

/**
 * @title GatewayFees
 * @notice The fee half of the MetalayerGateway: configuration, prepaid balances, charging and sharing.
 *
 * Payer resolution (docs/PROTOCOL.md, "Fees"): a message's fee is charged, in this order, to
 * 1. the sender's prepaid fee balance,
 * 2. the sender's ERA allowance to the gateway (pulled with transferFrom),
 * 3. the prepaid fee balance of `tx.origin` (the sponsor: the account whose transaction made an
 *    unmodified ERC-7786 client contract send, e.g. an ERC20Crosschain transfer).
 * Else the send reverts with InsufficientFee. Fee-exempt senders (system contracts) pay nothing, and
 * neither do the gateway's own sends (the guardians' fee share bridged to the hub).
 */
abstract contract GatewayFees is Ownable {
    using SafeERC20 for IERC20;

    uint256 private constant BPS = 10_000;
    /// @dev transient flag: the gateway itself is sending (distributeFees)
    bytes32 private constant SELF_SEND_SLOT = keccak256("metalayer.gateway.selfSend");

    /// @notice Fee parameters (quote = baseFee + feePerByte * payloadLength) and how fees are shared.
    struct FeeConfig {
        uint128 baseFee;
        uint128 feePerByte;
        uint16 relayerBps;
        uint16 guardianBps;
        uint16 operatorBps;
        address relayer;
        address operator;
    }

    /// @notice Where a fee was taken from.
    enum FeeSource {
        SenderBalance,
        SenderAllowance,
        OriginBalance
    }

    IERC20 public feeToken;
    /// @notice Chain id of the hub, where GuardianStaking receives the guardians' fee share.
    uint256 public hubChainId;
    /// @notice GuardianStaking on the hub (same address on every chain).
    address public guardianRewards;
    FeeConfig private _fees;
    /// @notice Fees collected and not yet distributed.
    uint256 public pendingFees;

    mapping(address account => uint256) private _feeBalance;
    mapping(address account => bool) public feeExempt;

    event FeeDeposited(address indexed payer, address indexed account, uint256 amount);
    event FeeWithdrawn(address indexed account, address indexed to, uint256 amount);
    event FeeCharged(address indexed sender, bytes32 indexed sendId, uint256 amount, bool fromBalance);
    /// @notice The fee of `sendId` was paid by `payer` (`source`: see FeeSource).
    event FeePaidBy(bytes32 indexed sendId, address indexed payer, FeeSource source);
    event FeesDistributed(uint256 relayerAmount, uint256 guardianAmount, uint256 operatorAmount);
    event FeeConfigSet(FeeConfig config);
    event FeeExemptSet(address indexed account, bool exempt);

    error InsufficientFee(uint256 required, uint256 balance, uint256 allowance);
    error LengthMismatch();
    error InvalidShares();
    error NotConfigured();

    /// @notice Set fees and their shares (owner). Shares are in basis points and sum to 10000.
    /// @param config the fee configuration
    function setFeeConfig(FeeConfig calldata config) external onlyOwner {
        if (uint256(config.relayerBps) + config.guardianBps + config.operatorBps != BPS) revert InvalidShares();
        _fees = config;
        emit FeeConfigSet(config);
    }

    /// @notice Exempt a system contract (staking hub messages) from fees (owner).
    /// @param account the sender
    /// @param exempt whether it pays no fee
    function setFeeExempt(address account, bool exempt) external onlyOwner {
        feeExempt[account] = exempt;
        emit FeeExemptSet(account, exempt);
    }

    /// @notice The fee configuration.
    function feeConfig() external view returns (FeeConfig memory) {
        return _fees;
    }

    function _quote(uint256 payloadLength) internal view returns (uint256) {
        FeeConfig storage f = _fees;
        return uint256(f.baseFee) + uint256(f.feePerByte) * payloadLength;
    }

    /// @dev Charge the fee of `sendId` sent by `sender` (payer resolution in the contract doc).
    function _chargeFee(address sender, bytes32 sendId, uint256 payloadLength) internal {
        if (feeExempt[sender] || _selfSending()) return;
        uint256 fee = _quote(payloadLength);
        if (fee == 0) return;
        uint256 balance = _feeBalance[sender];
        if (balance >= fee) {
            unchecked {
                _feeBalance[sender] = balance - fee;
            }
            emit FeeCharged(sender, sendId, fee, true);
            emit FeePaidBy(sendId, sender, FeeSource.SenderBalance);
        } else {
            IERC20 token = feeToken;
            uint256 allowance = address(token) == address(0) ? 0 : token.allowance(sender, address(this));
            if (allowance >= fee && token.balanceOf(sender) >= fee) {
                token.safeTransferFrom(sender, address(this), fee);
                emit FeeCharged(sender, sendId, fee, false);
                emit FeePaidBy(sendId, sender, FeeSource.SenderAllowance);
            } else {
                // solhint-disable-next-line avoid-tx-origin
                address origin = tx.origin;
                uint256 sponsor = _feeBalance[origin];
                if (origin == sender || sponsor < fee) revert InsufficientFee(fee, balance, allowance);
                unchecked {
                    _feeBalance[origin] = sponsor - fee;
                }
                emit FeeCharged(sender, sendId, fee, true);
                emit FeePaidBy(sendId, origin, FeeSource.OriginBalance);
            }
        }
        pendingFees += fee;
    }

    /// @notice Pull `amount` ERA from the caller and credit it to `account`'s prepaid fee balance.
    /// @param account whose sends it pays for (anyone may top up anyone)
    /// @param amount ERA amount
    function depositFee(address account, uint256 amount) external {
        feeToken.safeTransferFrom(msg.sender, address(this), amount);
        _feeBalance[account] += amount;
        emit FeeDeposited(msg.sender, account, amount);
    }

    /// @notice Batched depositFee: pull the sum from the caller, credit `amounts[i]` to `accounts[i]`.
    /// @param accounts whose sends it pays for
    /// @param amounts ERA amount for each
    function depositFees(address[] calldata accounts, uint256[] calldata amounts) external {
        if (accounts.length != amounts.length) revert LengthMismatch();
        uint256 total;
        for (uint256 i = 0; i < accounts.length; ++i) {
            _feeBalance[accounts[i]] += amounts[i];
            total += amounts[i];
            emit FeeDeposited(msg.sender, accounts[i], amounts[i]);
        }
        feeToken.safeTransferFrom(msg.sender, address(this), total);
    }

    /// @notice Withdraw unused prepaid fee balance of the caller.
    /// @param to receiver of the ERA
    /// @param amount ERA amount
    function withdrawFee(address to, uint256 amount) external {
        uint256 balance = _feeBalance[msg.sender];
        if (balance < amount) revert InsufficientFee(amount, balance, 0);
        unchecked {
            _feeBalance[msg.sender] = balance - amount;
        }
        feeToken.safeTransfer(to, amount);
        emit FeeWithdrawn(msg.sender, to, amount);
    }

    /// @notice Prepaid fee balance of `account`.
    /// @param account the sender (or sponsor)
    function feeBalance(address account) external view returns (uint256) {
        return _feeBalance[account];
    }

    /**
     * @notice Share the collected fees (anyone may call): relayer and operator shares are
     * transferred; the guardians' share goes to GuardianStaking on the hub (a transfer on the hub,
     * an ERA cross-chain transfer from other chains, sent fee-free), where it becomes staking rewards.
     */
    function distributeFees() external {
        uint256 amount = pendingFees;
        if (amount == 0) return;
        FeeConfig memory f = _fees;
        address rewards = guardianRewards;
        if (rewards == address(0) || f.relayer == address(0) || f.operator == address(0)) revert NotConfigured();
        pendingFees = 0;
        uint256 relayerAmount = (amount * f.relayerBps) / BPS;
        uint256 guardianAmount = (amount * f.guardianBps) / BPS;
        uint256 operatorAmount = amount - relayerAmount - guardianAmount;
        IERC20 token = feeToken;
        if (relayerAmount != 0) token.safeTransfer(f.relayer, relayerAmount);
        if (operatorAmount != 0) token.safeTransfer(f.operator, operatorAmount);
        if (guardianAmount != 0) {
            if (block.chainid == hubChainId) {
                token.safeTransfer(rewards, guardianAmount);
            } else {
                _setSelfSending(true);
                IEraCrosschain(address(token)).crosschainTransfer(
                    InteroperableAddress.formatEvmV1(hubChainId, rewards), guardianAmount
                );
                _setSelfSending(false);
            }
        }
        emit FeesDistributed(relayerAmount, guardianAmount, operatorAmount);
    }

    function _selfSending() private view returns (bool on) {
        bytes32 slot = SELF_SEND_SLOT;
        assembly ("memory-safe") {
            on := tload(slot)
        }
    }

    function _setSelfSending(bool on) private {
        bytes32 slot = SELF_SEND_SLOT;
        assembly ("memory-safe") {
            tstore(slot, on)
        }
    }
}
