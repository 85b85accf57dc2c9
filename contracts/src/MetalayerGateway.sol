// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IERC7786GatewaySource, IERC7786Recipient} from "@openzeppelin/contracts/interfaces/draft-IERC7786.sol";
import {InteroperableAddress} from "@openzeppelin/contracts/utils/draft-InteroperableAddress.sol";
import {TrieProof} from "@openzeppelin/contracts/utils/cryptography/TrieProof.sol";
import {Memory} from "@openzeppelin/contracts/utils/Memory.sol";
import {SlotDerivation} from "@openzeppelin/contracts/utils/SlotDerivation.sol";
import {StorageSlot} from "@openzeppelin/contracts/utils/StorageSlot.sol";
import {BitMaps} from "@openzeppelin/contracts/utils/structs/BitMaps.sol";
import {LowLevelCall} from "@openzeppelin/contracts/utils/LowLevelCall.sol";
import {Attestation, Message, IStateRootRegistry} from "./MetalayerTypes.sol";
import {CalldataTrie} from "./CalldataTrie.sol";

/// @notice The slice of ERA the gateway needs to forward the guardians' fee share to the hub.
interface IEraCrosschain {
    /// @notice Burn `amount` here and mint it to `to` (ERC-7930) on its chain.
    function crosschainTransfer(bytes memory to, uint256 amount) external returns (bytes32);
}

/**
 * @title MetalayerGateway
 * @notice ERC-7786 gateway (source and destination) whose messages are proven with Merkle-Patricia
 * storage proofs against state roots attested in the StateRootRegistry.
 *
 * Source side: `sendMessage` assigns the next nonce (starting at 1), derives the message id
 * `keccak256(abi.encode(src, dst, nonce, sender, recipient, keccak256(payload)))`, writes
 * `bytes32(uint256(1))` at `SlotDerivation.deriveMapping(COMMITMENTS_SLOT, id)` and charges the fee in ERA.
 *
 * Destination side: a delivery proves the gateway account (same address on the source chain) against
 * the attested state root and the commitment slot against the account's storage root; the message is
 * marked delivered in a bitmap keyed by (sourceChainId, nonce) and the recipient's `receiveMessage`
 * is called. A reverting recipient emits MessageFailed and the message stays deliverable.
 * Proof errors, unknown roots and replays revert the whole call.
 */
contract MetalayerGateway is IERC7786GatewaySource, Ownable {
    using BitMaps for BitMaps.BitMap;
    using SafeERC20 for IERC20;

    /// @notice Base slot of the commitments mapping (messageId => bytes32(1)).
    bytes32 public constant COMMITMENTS_SLOT = keccak256("metalayer.gateway.commitments");
    uint256 private constant BPS = 10_000;
    uint256 private constant MAX_REASON = 1024;

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

    IStateRootRegistry public registry;
    IERC20 public feeToken;
    /// @notice Chain id of the hub, where GuardianStaking receives the guardians' fee share.
    uint256 public hubChainId;
    /// @notice GuardianStaking on the hub (same address on every chain).
    address public guardianRewards;
    FeeConfig private _fees;

    /// @notice Last outbound nonce (the first message gets nonce 1).
    uint256 public outboundNonce;
    /// @notice Fees collected and not yet distributed.
    uint256 public pendingFees;

    mapping(address account => uint256) private _feeBalance;
    mapping(address account => bool) public feeExempt;
    mapping(uint256 sourceChainId => BitMaps.BitMap) private _delivered;

    event MessageCommitted(bytes32 indexed sendId, uint256 indexed destinationChainId, uint256 nonce, address sender, address recipient);
    event MessageDelivered(bytes32 indexed messageId, uint256 indexed sourceChainId, uint256 nonce);
    event MessageFailed(bytes32 indexed messageId, uint256 indexed sourceChainId, uint256 nonce, bytes reason);
    event FeeDeposited(address indexed payer, address indexed account, uint256 amount);
    event FeeWithdrawn(address indexed account, address indexed to, uint256 amount);
    event FeeCharged(address indexed sender, bytes32 indexed sendId, uint256 amount, bool fromBalance);
    event FeesDistributed(uint256 relayerAmount, uint256 guardianAmount, uint256 operatorAmount);
    event FeeConfigSet(FeeConfig config);
    event FeeExemptSet(address indexed account, bool exempt);
    event Configured(address registry, address feeToken, uint256 hubChainId, address guardianRewards);

    error ValueNotSupported();
    error InvalidRecipient(bytes recipient);
    error InvalidDestination(uint256 chainId);
    error InsufficientFee(uint256 required, uint256 balance, uint256 allowance);
    error UnknownRoot(uint256 chainId, uint256 blockNumber);
    error InvalidAccountProof(TrieProof.ProofError err);
    error InvalidStorageProof(bytes32 messageId, TrieProof.ProofError err);
    error WrongDestination(uint256 destinationChainId);
    error WrongSource(uint256 sourceChainId, uint256 expected);
    error AlreadyDelivered(uint256 sourceChainId, uint256 nonce);
    error LengthMismatch();
    error InvalidShares();
    error NotConfigured();

    /// @param initialOwner the bootstrap owner (the devnet deployer)
    constructor(address initialOwner) Ownable(initialOwner) {}

    // ------------------------------------------------------------------ configuration

    /// @notice Wire the registry, fee token and hub (owner).
    /// @param registry_ the local StateRootRegistry
    /// @param feeToken_ ERA
    /// @param hubChainId_ the hub's chain id
    /// @param guardianRewards_ GuardianStaking on the hub
    function configure(address registry_, address feeToken_, uint256 hubChainId_, address guardianRewards_) external onlyOwner {
        registry = IStateRootRegistry(registry_);
        feeToken = IERC20(feeToken_);
        hubChainId = hubChainId_;
        guardianRewards = guardianRewards_;
        emit Configured(registry_, feeToken_, hubChainId_, guardianRewards_);
    }

    /// @notice Set fees and their shares (owner). Shares are in basis points and sum to 10000.
    /// @param config the fee configuration
    function setFeeConfig(FeeConfig calldata config) external onlyOwner {
        if (uint256(config.relayerBps) + config.guardianBps + config.operatorBps != BPS) revert InvalidShares();
        _fees = config;
        emit FeeConfigSet(config);
    }

    /// @notice Exempt a system contract (ERA bridging, staking hub messages) from fees (owner).
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

    // ------------------------------------------------------------------ source side

    /// @inheritdoc IERC7786GatewaySource
    /// @dev No attribute is supported.
    function supportsAttribute(bytes4) external pure returns (bool) {
        return false;
    }

    /**
     * @notice Send `payload` to `recipient` (ERC-7930 address on another EVM chain). Charges the fee
     * in ERA from the sender's prepaid fee balance, else from its ERA allowance to this gateway.
     * @param recipient ERC-7930 interoperable address (chain reference + 20-byte address)
     * @param payload the message body
     * @param attributes must be empty (no attribute is supported)
     * @return sendId the message id (see docs/PROTOCOL.md)
     */
    function sendMessage(bytes calldata recipient, bytes calldata payload, bytes[] calldata attributes)
        external
        payable
        returns (bytes32 sendId)
    {
        if (msg.value != 0) revert ValueNotSupported();
        if (attributes.length != 0) revert UnsupportedAttribute(bytes4(attributes[0]));
        (bool ok, uint256 destination, address to) = InteroperableAddress.tryParseEvmV1Calldata(recipient);
        if (!ok || destination == 0 || to == address(0)) revert InvalidRecipient(recipient);
        // A chain whose roots are not attested here can never prove delivery back: refuse
        // rather than charge a fee for a message that could not arrive.
        if (destination == block.chainid || !registry.isTracked(destination)) revert InvalidDestination(destination);

        uint256 nonce = ++outboundNonce;
        sendId = _messageId(block.chainid, destination, nonce, msg.sender, to, keccak256(payload));
        StorageSlot.getBytes32Slot(SlotDerivation.deriveMapping(COMMITMENTS_SLOT, sendId)).value = bytes32(uint256(1));

        if (!feeExempt[msg.sender]) _chargeFee(msg.sender, sendId, _quote(payload.length));

        emit MessageSent(sendId, InteroperableAddress.formatEvmV1(block.chainid, msg.sender), recipient, payload, 0, attributes);
        emit MessageCommitted(sendId, destination, nonce, msg.sender, to);
    }

    /// @notice The ERA fee for a message of `payloadLength` bytes to `destinationChainId`.
    /// @param destinationChainId the destination (another chain of this network)
    /// @param payloadLength payload size in bytes
    function quoteFee(uint256 destinationChainId, uint256 payloadLength) external view returns (uint256) {
        if (destinationChainId == block.chainid || !registry.isTracked(destinationChainId)) {
            revert InvalidDestination(destinationChainId);
        }
        return _quote(payloadLength);
    }

    function _quote(uint256 payloadLength) private view returns (uint256) {
        FeeConfig storage f = _fees;
        return uint256(f.baseFee) + uint256(f.feePerByte) * payloadLength;
    }

    function _chargeFee(address sender, bytes32 sendId, uint256 fee) private {
        if (fee == 0) return;
        uint256 balance = _feeBalance[sender];
        if (balance >= fee) {
            unchecked {
                _feeBalance[sender] = balance - fee;
            }
            emit FeeCharged(sender, sendId, fee, true);
        } else {
            IERC20 token = feeToken;
            uint256 allowance = address(token) == address(0) ? 0 : token.allowance(sender, address(this));
            if (allowance < fee || token.balanceOf(sender) < fee) revert InsufficientFee(fee, balance, allowance);
            token.safeTransferFrom(sender, address(this), fee);
            emit FeeCharged(sender, sendId, fee, false);
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
    /// @param account the sender
    function feeBalance(address account) external view returns (uint256) {
        return _feeBalance[account];
    }

    /**
     * @notice Share the collected fees (anyone may call): relayer and operator shares are
     * transferred; the guardians' share goes to GuardianStaking on the hub (a transfer on the hub,
     * an ERA cross-chain transfer from other chains), where it becomes staking rewards.
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
                IEraCrosschain(address(token)).crosschainTransfer(
                    InteroperableAddress.formatEvmV1(hubChainId, rewards), guardianAmount
                );
            }
        }
        emit FeesDistributed(relayerAmount, guardianAmount, operatorAmount);
    }

    // ------------------------------------------------------------------ destination side

    /**
     * @notice Deliver one message proven against the attested root of (message.sourceChainId, blockNumber).
     * @param message the message as committed on the source chain
     * @param blockNumber source block whose attested state root the proofs are against
     * @param accountProof eth_getProof accountProof of this gateway's address on the source chain
     * @param storageProof eth_getProof storageProof of the message's commitment slot
     * @return delivered false if the recipient reverted (MessageFailed; retryable)
     */
    function deliverMessage(
        Message calldata message,
        uint256 blockNumber,
        bytes[] calldata accountProof,
        bytes[] calldata storageProof
    ) external returns (bool delivered) {
        bytes32 storageRoot = _storageRoot(message.sourceChainId, blockNumber, address(this), accountProof);
        return _deliver(message, storageRoot, storageProof, 0);
    }

    /**
     * @notice Deliver several messages from one source block with a single account proof.
     * @param sourceChainId the source chain of every message
     * @param blockNumber source block whose attested state root the proofs are against
     * @param accountProof eth_getProof accountProof of this gateway's address on the source chain
     * @param messages the messages
     * @param storageProofs one commitment storage proof per message; a node may be empty bytes when it
     * equals the node at the same position of the previous message's proof (sent once, reused)
     * @return deliveredCount messages whose recipient succeeded
     */
    function deliverBatch(
        uint256 sourceChainId,
        uint256 blockNumber,
        bytes[] calldata accountProof,
        Message[] calldata messages,
        bytes[][] calldata storageProofs
    ) external returns (uint256 deliveredCount) {
        return _deliverBatch(sourceChainId, blockNumber, accountProof, messages, storageProofs);
    }

    /**
     * @notice Store `att` in the registry (if not stored yet) and deliver a batch against it.
     * @param att the attestation of the source block
     * @param signatures guardian signatures of `att`
     * @param accountProof eth_getProof accountProof of this gateway's address on the source chain
     * @param messages the messages
     * @param storageProofs one commitment storage proof per message
     * @return deliveredCount messages whose recipient succeeded
     */
    function attestAndDeliverBatch(
        Attestation calldata att,
        bytes[] calldata signatures,
        bytes[] calldata accountProof,
        Message[] calldata messages,
        bytes[][] calldata storageProofs
    ) external returns (uint256 deliveredCount) {
        registry.submitAttestation(att, signatures);
        return _deliverBatch(att.chainId, att.blockNumber, accountProof, messages, storageProofs);
    }

    function _deliverBatch(
        uint256 sourceChainId,
        uint256 blockNumber,
        bytes[] calldata accountProof,
        Message[] calldata messages,
        bytes[][] calldata storageProofs
    ) private returns (uint256 deliveredCount) {
        uint256 n = messages.length;
        if (n != storageProofs.length) revert LengthMismatch();
        bytes32 storageRoot = _storageRoot(sourceChainId, blockNumber, address(this), accountProof);
        uint256 reuse = CalldataTrie.newReuseBuffer();
        Memory.Pointer fmp = Memory.getFreeMemoryPointer();
        for (uint256 i = 0; i < n; ++i) {
            Message calldata m = messages[i];
            if (m.sourceChainId != sourceChainId) revert WrongSource(m.sourceChainId, sourceChainId);
            if (_deliver(m, storageRoot, storageProofs[i], reuse)) ++deliveredCount;
            Memory.unsafeSetFreeMemoryPointer(fmp); // nothing allocated by a delivery outlives it
        }
    }

    /// @dev `reuse`: CalldataTrie reuse buffer of a batch (0 outside batches).
    function _deliver(Message calldata m, bytes32 storageRoot, bytes[] calldata storageProof, uint256 reuse)
        private
        returns (bool)
    {
        if (m.destinationChainId != block.chainid) revert WrongDestination(m.destinationChainId);
        uint256 source = m.sourceChainId;
        uint256 nonce = m.nonce;
        BitMaps.BitMap storage done = _delivered[source];
        if (done.get(nonce)) revert AlreadyDelivered(source, nonce);

        bytes32 id = _messageId(source, m.destinationChainId, nonce, m.sender, m.recipient, keccak256(m.payload));
        {
            bytes32 slotKey = keccak256(abi.encode(SlotDerivation.deriveMapping(COMMITMENTS_SLOT, id)));
            (TrieProof.ProofError err, uint256 vOff, uint256 vLen) = CalldataTrie.get(storageRoot, slotKey, storageProof, reuse);
            if (err != TrieProof.ProofError.NO_ERROR) revert InvalidStorageProof(id, err);
            // the committed value bytes32(uint256(1)) is stored as RLP 0x01
            if (vLen != 1 || uint8(bytes1(msg.data[vOff])) != 1) revert InvalidStorageProof(id, TrieProof.ProofError.INVALID_PROOF);
        }

        done.set(nonce); // before the call: a re-entrant delivery of the same message is a replay
        bytes memory call = abi.encodeCall(
            IERC7786Recipient.receiveMessage, (id, InteroperableAddress.formatEvmV1(source, m.sender), m.payload)
        );
        (bool ok, bytes32 ret, ) = LowLevelCall.callReturn64Bytes(m.recipient, call);
        if (ok && bytes4(ret) == IERC7786Recipient.receiveMessage.selector && LowLevelCall.returnDataSize() >= 32) {
            emit MessageDelivered(id, source, nonce);
            return true;
        }
        done.unset(nonce);
        emit MessageFailed(id, source, nonce, _reason(ok));
        return false;
    }

    function _reason(bool callSucceeded) private pure returns (bytes memory reason) {
        if (callSucceeded) return abi.encodeWithSignature("InvalidRecipientReturn()");
        uint256 size = LowLevelCall.returnDataSize();
        if (size > MAX_REASON) size = MAX_REASON;
        reason = new bytes(size);
        assembly ("memory-safe") {
            returndatacopy(add(reason, 0x20), 0, size)
        }
    }

    /// @notice Whether message `nonce` from `sourceChainId` was delivered.
    /// @param sourceChainId the source chain
    /// @param nonce the message nonce
    function isDelivered(uint256 sourceChainId, uint256 nonce) external view returns (bool) {
        return _delivered[sourceChainId].get(nonce);
    }

    /// @notice Whether this gateway committed (sent) message `messageId`.
    /// @param messageId the id
    function isCommitted(bytes32 messageId) external view returns (bool) {
        return StorageSlot.getBytes32Slot(SlotDerivation.deriveMapping(COMMITMENTS_SLOT, messageId)).value != 0;
    }

    /// @notice The message id of (src, dst, nonce, sender, recipient, payload), as computed on send.
    /// @param message the message
    function messageId(Message calldata message) external pure returns (bytes32) {
        return _messageId(
            message.sourceChainId, message.destinationChainId, message.nonce, message.sender, message.recipient,
            keccak256(message.payload)
        );
    }

    /// @notice The storage slot of a message's commitment in the source gateway.
    /// @param messageId_ the id
    function commitmentSlot(bytes32 messageId_) external pure returns (bytes32) {
        return SlotDerivation.deriveMapping(COMMITMENTS_SLOT, messageId_);
    }

    function _messageId(uint256 src, uint256 dst, uint256 nonce, address sender, address recipient, bytes32 payloadHash)
        private
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(src, dst, nonce, sender, recipient, payloadHash));
    }

    // ------------------------------------------------------------------ cross-chain state reads

    /**
     * @notice Read storage slot `slot` of `account` on chain `chainId` at `blockNumber`, proven against
     * the attested state root. Reverts for an unknown root or an invalid proof; a slot that is not set
     * (zero) cannot be proven (only inclusion proofs are supported) and reverts too.
     * @param chainId the source chain
     * @param blockNumber the attested block
     * @param account the contract whose storage is read
     * @param slot the storage slot
     * @param accountProof eth_getProof accountProof of `account`
     * @param storageProof eth_getProof storageProof of `slot`
     * @return value the slot's value
     */
    function verifyStorage(
        uint256 chainId,
        uint256 blockNumber,
        address account,
        bytes32 slot,
        bytes[] calldata accountProof,
        bytes[] calldata storageProof
    ) external view returns (bytes32 value) {
        bytes32 storageRoot = _storageRoot(chainId, blockNumber, account, accountProof);
        (TrieProof.ProofError err, uint256 vOff, uint256 vLen) =
            CalldataTrie.get(storageRoot, keccak256(abi.encode(slot)), storageProof);
        if (err != TrieProof.ProofError.NO_ERROR) revert InvalidStorageProof(slot, err);
        bool ok;
        (ok, value) = CalldataTrie.storageValue(vOff, vLen);
        if (!ok) revert InvalidStorageProof(slot, TrieProof.ProofError.UNPARSEABLE_NODE);
    }

    function _storageRoot(uint256 chainId, uint256 blockNumber, address account, bytes[] calldata accountProof)
        private
        view
        returns (bytes32)
    {
        bytes32 stateRoot = registry.rootAt(chainId, blockNumber);
        if (stateRoot == bytes32(0)) revert UnknownRoot(chainId, blockNumber);
        (TrieProof.ProofError err, uint256 vOff, uint256 vLen) =
            CalldataTrie.get(stateRoot, keccak256(abi.encodePacked(account)), accountProof);
        if (err != TrieProof.ProofError.NO_ERROR) revert InvalidAccountProof(err);
        (bool ok, bytes32 root) = CalldataTrie.storageRoot(vOff, vLen);
        if (!ok) revert InvalidAccountProof(TrieProof.ProofError.UNPARSEABLE_NODE);
        return root;
    }
}
