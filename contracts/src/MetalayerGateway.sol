// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC7786GatewaySource, IERC7786Recipient} from "@openzeppelin/contracts/interfaces/draft-IERC7786.sol";
import {InteroperableAddress} from "@openzeppelin/contracts/utils/draft-InteroperableAddress.sol";
import {TrieProof} from "@openzeppelin/contracts/utils/cryptography/TrieProof.sol";
import {Memory} from "@openzeppelin/contracts/utils/Memory.sol";
import {SlotDerivation} from "@openzeppelin/contracts/utils/SlotDerivation.sol";
import {StorageSlot} from "@openzeppelin/contracts/utils/StorageSlot.sol";
import {Attestation, Message, IStateRootRegistry} from "./MetalayerTypes.sol";
import {CalldataTrie} from "./CalldataTrie.sol";
import {GatewayFees} from "./GatewayFees.sol";
import {DeliveryLedger} from "./DeliveryLedger.sol";

/**
 * @title MetalayerGateway
 * @notice ERC-7786 gateway (source and destination) whose messages are proven with Merkle-Patricia
 * storage proofs against state roots attested in the StateRootRegistry. Fees: GatewayFees;
 * at-most-once bookkeeping: DeliveryLedger.
 *
 * Source side: `sendMessage` assigns the next nonce (starting at 1), derives the message id
 * `keccak256(abi.encode(src, dst, nonce, sender, recipient, keccak256(payload)))`, writes the
 * commitment `bytes32(gasLimit * 2 + 1)` at `SlotDerivation.deriveMapping(COMMITMENTS_SLOT, id)`
 * (gasLimit: the `requestRelay` attribute, 0 if none; bit 255 set for a `finality(1)` message)
 * and charges the fee in ERA.
 *
 * Destination side: a delivery proves the gateway account (same address on the source chain) against
 * the attested state root and the commitment slot against the account's storage root, then runs the
 * recipient in an isolated frame (an external self-call): if the recipient reverts, runs out of gas
 * or returns anything but `receiveMessage.selector`, the frame reverts, the only trace is a
 * MessageFailed event and the message stays deliverable. Proof errors, unknown roots, replays and a
 * delivery forwarding less gas than the message requested revert the whole call.
 */
contract MetalayerGateway is IERC7786GatewaySource, GatewayFees, DeliveryLedger {
    /// @notice Base slot of the commitments mapping (messageId => bytes32(gasLimit * 2 + 1 | finalized << 255)).
    bytes32 public constant COMMITMENTS_SLOT = keccak256("metalayer.gateway.commitments");
    /// @notice Largest payload accepted by sendMessage: one delivery of it (EIP-7623 calldata floor
    /// 40 gas per non-zero byte, ~10.5M gas, plus proofs) always fits a 30M-gas block.
    uint256 public constant MAX_PAYLOAD = 256 * 1024;
    /// @notice Largest gas a message may request: with MAX_PAYLOAD it still fits a 30M-gas block.
    uint256 public constant MAX_GAS_LIMIT = 15_000_000;
    /// @dev OZ community ERC7786Attributes: requestRelay(uint256 value, uint256 gasLimit, address refundRecipient)
    bytes4 private constant REQUEST_RELAY = bytes4(keccak256("requestRelay(uint256,uint256,address)"));
    /// @dev finality(uint8 level): 0 = soft (newest attested block), 1 = finalized (see NotFinal)
    bytes4 private constant FINALITY = bytes4(keccak256("finality(uint8)"));
    /// @dev commitment bit of a finalized message (far above any gas limit, so `value >> 1` stays the gas)
    uint256 private constant FINALIZED_BIT = 1 << 255;
    uint256 private constant MAX_REASON = 1024;
    /// @dev gas the CALL itself may cost before forwarding (cold account, memory): margin of the 63/64 check
    uint256 private constant CALL_MARGIN = 5000;

    IStateRootRegistry public registry;

    /// @notice Last outbound nonce (the first message gets nonce 1).
    uint256 public outboundNonce;

    /// @notice Depth a finalized message's proven block must have: the registry must hold a root of
    /// the source chain at least this many blocks newer (owner-set; the devnet's guardians.confirmations).
    uint256 public confirmations;

    event MessageCommitted(
        bytes32 indexed sendId, uint256 indexed destinationChainId, uint256 nonce, address sender, address recipient, uint256 gasLimit,
        uint8 finality
    );
    event MessageDelivered(bytes32 indexed messageId, uint256 indexed sourceChainId, uint256 nonce);
    event MessageFailed(bytes32 indexed messageId, uint256 indexed sourceChainId, uint256 nonce, bytes reason);
    event Configured(address registry, address feeToken, uint256 hubChainId, address guardianRewards);
    event ConfirmationsSet(uint256 confirmations);

    error ValueNotSupported();
    error InvalidRecipient(bytes recipient);
    error InvalidDestination(uint256 chainId);
    error InvalidAttribute(bytes attribute);
    error PayloadTooLarge(uint256 size, uint256 max);
    error GasLimitTooHigh(uint256 gasLimit, uint256 max);
    /// @notice A finalized message proven at `blockNumber`, but the newest root the registry holds for
    /// its source is `latest`, fewer than `confirmations` blocks later.
    error NotFinal(bytes32 messageId, uint256 blockNumber, uint256 latest, uint256 confirmations);
    error UnknownRoot(uint256 chainId, uint256 blockNumber);
    error InvalidAccountProof(TrieProof.ProofError err);
    error InvalidStorageProof(bytes32 messageId, TrieProof.ProofError err);
    error WrongDestination(uint256 destinationChainId);
    error WrongSource(uint256 sourceChainId, uint256 expected);
    /// @notice The delivery forwards less gas than message `messageId` requested (the relayer's fault).
    error InsufficientGas(bytes32 messageId, uint256 gasLimit, uint256 available);
    /// @notice The recipient returned something other than `receiveMessage.selector` (ERC-7786).
    error InvalidRecipientReturn();
    error OnlySelf();
    /// @dev revert data of the isolated frame when the recipient failed (wraps its reason so a
    /// recipient cannot forge InsufficientGas)
    error RecipientFailed(bytes reason);

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

    /// @notice Set the depth finalized messages need (owner).
    /// @param confirmations_ blocks between the proven block and the newest attested root of its source
    function setConfirmations(uint256 confirmations_) external onlyOwner {
        confirmations = confirmations_;
        emit ConfirmationsSet(confirmations_);
    }

    // ------------------------------------------------------------------ source side

    /// @inheritdoc IERC7786GatewaySource
    /// @dev `requestRelay(uint256 value, uint256 gasLimit, address refundRecipient)` (value 0) and
    /// `finality(uint8 level)` (0 soft, 1 finalized).
    function supportsAttribute(bytes4 selector) external pure returns (bool) {
        return selector == REQUEST_RELAY || selector == FINALITY;
    }

    /**
     * @notice Send `payload` to `recipient` (canonical ERC-7930 address on another chain of this
     * network). Charges the fee in ERA (payer resolution: see GatewayFees).
     * @param recipient ERC-7930 interoperable address (minimal chain reference + 20-byte address)
     * @param payload the message body (at most MAX_PAYLOAD bytes)
     * @param attributes at most one `requestRelay(0, gasLimit, refundRecipient)`: the recipient is
     * called with exactly `gasLimit` gas (0: whatever the relayer forwards); at most one
     * `finality(level)`: 0 soft (default), 1 finalized (delivered only against a block at least
     * `confirmations` below the newest root attested here for the source)
     * @return sendId the message id (see docs/PROTOCOL.md)
     */
    function sendMessage(bytes calldata recipient, bytes calldata payload, bytes[] calldata attributes)
        external
        payable
        returns (bytes32 sendId)
    {
        if (msg.value != 0) revert ValueNotSupported();
        if (payload.length > MAX_PAYLOAD) revert PayloadTooLarge(payload.length, MAX_PAYLOAD);
        (uint256 gasLimit, uint8 finality) = _attributes(attributes);
        (uint256 destination, address to) = _parseRecipient(recipient);
        // A chain whose roots are not attested here can never prove delivery back: refuse
        // rather than charge a fee for a message that could not arrive.
        if (destination == block.chainid || !registry.isTracked(destination)) revert InvalidDestination(destination);

        uint256 nonce = ++outboundNonce;
        sendId = _messageId(block.chainid, destination, nonce, msg.sender, to, keccak256(payload));
        StorageSlot.getBytes32Slot(SlotDerivation.deriveMapping(COMMITMENTS_SLOT, sendId)).value = bytes32(
            (gasLimit << 1) | 1 | (finality == 0 ? 0 : FINALIZED_BIT)
        );

        _chargeFee(msg.sender, sendId, payload.length);

        emit MessageSent(sendId, InteroperableAddress.formatEvmV1(block.chainid, msg.sender), recipient, payload, 0, attributes);
        emit MessageCommitted(sendId, destination, nonce, msg.sender, to, gasLimit, finality);
    }

    /// @dev The requested gas (0 if none) and finality (0 if none) of the attributes; reverts on
    /// anything unsupported and on a repeated attribute.
    function _attributes(bytes[] calldata attributes) private pure returns (uint256 gasLimit, uint8 finality) {
        bool gasSeen;
        bool finalitySeen;
        for (uint256 i = 0; i < attributes.length; ++i) {
            bytes calldata a = attributes[i];
            bytes4 selector = a.length < 4 ? bytes4(0) : bytes4(a);
            if (selector == REQUEST_RELAY) {
                if (a.length != 100 || gasSeen) revert InvalidAttribute(a);
                gasSeen = true;
                // read word by word: abi.decode reverts without data on a dirty address word
                uint256 value = uint256(bytes32(a[4:36]));
                uint256 gas = uint256(bytes32(a[36:68]));
                if (uint256(bytes32(a[68:100])) >> 160 != 0) revert InvalidAttribute(a);
                if (value != 0) revert ValueNotSupported();
                if (gas > MAX_GAS_LIMIT) revert GasLimitTooHigh(gas, MAX_GAS_LIMIT);
                gasLimit = gas;
            } else if (selector == FINALITY) {
                if (a.length != 36 || finalitySeen) revert InvalidAttribute(a);
                finalitySeen = true;
                uint256 level = uint256(bytes32(a[4:36]));
                if (level > 1) revert InvalidAttribute(a);
                finality = uint8(level);
            } else {
                revert UnsupportedAttribute(selector);
            }
        }
    }

    /// @dev Destination chain and account of a canonical ERC-7930 EVM address (else InvalidRecipient):
    /// exactly what `formatEvmV1` produces (minimal chain reference, 20-byte address, nothing after).
    function _parseRecipient(bytes calldata recipient) private pure returns (uint256 destination, address to) {
        bool ok;
        (ok, destination, to) = InteroperableAddress.tryParseEvmV1Calldata(recipient);
        if (
            !ok || destination == 0 || to == address(0)
                || keccak256(recipient) != keccak256(InteroperableAddress.formatEvmV1(destination, to))
        ) revert InvalidRecipient(recipient);
    }

    /// @notice The ERA fee for a message of `payloadLength` bytes to `destinationChainId`.
    /// @param destinationChainId the destination (another chain of this network)
    /// @param payloadLength payload size in bytes (at most MAX_PAYLOAD)
    function quoteFee(uint256 destinationChainId, uint256 payloadLength) external view returns (uint256) {
        if (destinationChainId == block.chainid || !registry.isTracked(destinationChainId)) {
            revert InvalidDestination(destinationChainId);
        }
        if (payloadLength > MAX_PAYLOAD) revert PayloadTooLarge(payloadLength, MAX_PAYLOAD);
        return _quote(payloadLength);
    }

    // ------------------------------------------------------------------ destination side

    /**
     * @notice Deliver one message proven against the attested root of (message.sourceChainId, blockNumber).
     * @param message the message as committed on the source chain
     * @param blockNumber source block whose attested state root the proofs are against
     * @param accountProof eth_getProof accountProof of this gateway's address on the source chain
     * @param storageProof eth_getProof storageProof of the message's commitment slot
     * @return delivered false if the recipient failed (MessageFailed; retryable)
     */
    function deliverMessage(
        Message calldata message,
        uint256 blockNumber,
        bytes[] calldata accountProof,
        bytes[] calldata storageProof
    ) external returns (bool delivered) {
        bytes32 storageRoot = _storageRoot(message.sourceChainId, blockNumber, address(this), accountProof);
        return _deliver(message, blockNumber, storageRoot, storageProof, 0);
    }

    /**
     * @notice Deliver several messages from one source block with a single account proof. Each
     * message is isolated: a failing recipient (revert, out of gas, wrong return) only emits
     * MessageFailed for that message.
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
            if (_deliver(m, blockNumber, storageRoot, storageProofs[i], reuse)) ++deliveredCount;
            Memory.unsafeSetFreeMemoryPointer(fmp); // nothing allocated by a delivery outlives it
        }
    }

    /// @dev `reuse`: CalldataTrie reuse buffer of a batch (0 outside batches); `blockNumber`: the
    /// source block the proofs are against.
    function _deliver(
        Message calldata m,
        uint256 blockNumber,
        bytes32 storageRoot,
        bytes[] calldata storageProof,
        uint256 reuse
    ) private returns (bool) {
        if (m.destinationChainId != block.chainid) revert WrongDestination(m.destinationChainId);
        uint256 source = m.sourceChainId;
        uint256 nonce = m.nonce;
        bytes32 id = _messageId(source, m.destinationChainId, nonce, m.sender, m.recipient, keccak256(m.payload));
        _checkNotDelivered(source, nonce, id);
        (uint256 gasLimit, bool finalized) = _provenCommitment(id, storageRoot, storageProof, reuse);
        if (finalized) _checkFinal(id, source, blockNumber);
        try this.executeDelivery(m, id, gasLimit) {
            emit MessageDelivered(id, source, nonce);
            return true;
        } catch (bytes memory reason) {
            // empty: the frame itself ran out of gas (its own failures always carry data)
            if (reason.length == 0) revert InsufficientGas(id, gasLimit, gasleft());
            if (bytes4(reason) == InsufficientGas.selector) {
                assembly ("memory-safe") {
                    revert(add(reason, 0x20), mload(reason))
                }
            }
            emit MessageFailed(id, source, nonce, _unwrap(reason));
            return false;
        }
    }

    /**
     * @notice The isolated frame of one delivery (callable only by the gateway itself): records the
     * delivery and calls the recipient; reverts, undoing both, unless the recipient returns
     * `receiveMessage.selector`.
     * @param m the proven message
     * @param id its id
     * @param gasLimit gas for the recipient (0: all but what the frame needs to finish)
     */
    function executeDelivery(Message calldata m, bytes32 id, uint256 gasLimit) external {
        if (msg.sender != address(this)) revert OnlySelf();
        _markDelivered(m.sourceChainId, m.nonce, id); // before the call: a re-entrant delivery is a replay
        bytes memory data = abi.encodeCall(
            IERC7786Recipient.receiveMessage, (id, InteroperableAddress.formatEvmV1(m.sourceChainId, m.sender), m.payload)
        );
        address recipient = m.recipient;
        // 63/64 rule, checked right before the call: the recipient gets all the gas it asked for,
        // else the relayer could make it run out of gas and the message look like its fault.
        // InsufficientGas propagates out of the batch (the whole delivery reverts).
        if (gasLimit != 0 && gasleft() - gasleft() / 64 < gasLimit + CALL_MARGIN) revert InsufficientGas(id, gasLimit, gasleft());
        bool ok;
        bytes4 ret;
        uint256 before = gasleft();
        assembly ("memory-safe") {
            let g := gasLimit
            if iszero(g) { g := gas() }
            ok := call(g, recipient, 0, add(data, 0x20), mload(data), 0, 0x20)
            if and(ok, gt(returndatasize(), 31)) { ret := and(mload(0), shl(224, 0xffffffff)) }
        }
        if (!ok) {
            // Without a requested gas limit the recipient got all the gas there was: if it used it
            // up with less than MAX_GAS_LIMIT, the delivery was underfunded; revert the whole delivery
            // so that gas estimation finds the gas it needs and no relayer can starve it. With
            // MAX_GAS_LIMIT or more it is the recipient's own failure (isolated, like any other).
            // "Used it up" is under 1/16 left, not 1/64: a recipient whose own sub-call ran out of gas
            // keeps its 1/64 reserve to revert with, and so do each of its callers (seen: PingPong's
            // reply send starved inside an estimated delivery, ~2/64 left).
            if (gasLimit == 0 && gasleft() < before / 16 && before < MAX_GAS_LIMIT) revert InsufficientGas(id, 0, before);
            revert RecipientFailed(_returnData());
        }
        if (ret != IERC7786Recipient.receiveMessage.selector) revert InvalidRecipientReturn();
    }

    function _returnData() private pure returns (bytes memory reason) {
        uint256 size;
        assembly ("memory-safe") {
            size := returndatasize()
        }
        if (size > MAX_REASON) size = MAX_REASON;
        reason = new bytes(size);
        assembly ("memory-safe") {
            returndatacopy(add(reason, 0x20), 0, size)
        }
    }

    /// @dev The recipient's own revert reason from the frame's revert data (RecipientFailed(bytes)).
    function _unwrap(bytes memory reason) private pure returns (bytes memory) {
        if (reason.length >= 68 && bytes4(reason) == RecipientFailed.selector) {
            assembly ("memory-safe") {
                // abi.encodeWithSelector(RecipientFailed.selector, bytes): the bytes start at offset 4 + 32
                reason := add(reason, 0x44)
            }
        }
        return reason;
    }

    /// @dev Reverts NotFinal unless the registry holds a root of `source` at least `confirmations`
    /// blocks newer than `blockNumber` (the commitment was then that deep on its source).
    function _checkFinal(bytes32 id, uint256 source, uint256 blockNumber) private view {
        (uint256 latest, , ) = registry.latestRoot(source);
        uint256 conf = confirmations;
        if (latest < blockNumber + conf) revert NotFinal(id, blockNumber, latest, conf);
    }

    /// @dev Prove the commitment of `id`; return the gas it requested and whether it is finalized.
    function _provenCommitment(bytes32 id, bytes32 storageRoot, bytes[] calldata storageProof, uint256 reuse)
        private
        pure
        returns (uint256 gasLimit, bool finalized)
    {
        bytes32 slotKey = keccak256(abi.encode(SlotDerivation.deriveMapping(COMMITMENTS_SLOT, id)));
        (TrieProof.ProofError err, uint256 vOff, uint256 vLen) = CalldataTrie.get(storageRoot, slotKey, storageProof, reuse);
        if (err != TrieProof.ProofError.NO_ERROR) revert InvalidStorageProof(id, err);
        (bool ok, bytes32 value) = CalldataTrie.storageValue(vOff, vLen);
        if (!ok || uint256(value) & 1 == 0) revert InvalidStorageProof(id, TrieProof.ProofError.INVALID_PROOF);
        finalized = uint256(value) & FINALIZED_BIT != 0;
        gasLimit = (uint256(value) & ~FINALIZED_BIT) >> 1;
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
     * is proven by an exclusion proof and reads as 0, and so does every slot of an account that does not
     * exist (proven absent by `accountProof`) or has no storage (`storageProof` is then not needed).
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
        if (storageRoot == CalldataTrie.EMPTY_TRIE_ROOT) return bytes32(0); // no storage: every slot is 0
        (TrieProof.ProofError err, uint256 vOff, uint256 vLen) =
            CalldataTrie.get(storageRoot, keccak256(abi.encode(slot)), storageProof);
        if (err != TrieProof.ProofError.NO_ERROR) revert InvalidStorageProof(slot, err);
        if (vLen == 0) return bytes32(0); // exclusion proof: the slot is not set
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
        if (vLen == 0) return CalldataTrie.EMPTY_TRIE_ROOT; // exclusion proof: the account does not exist
        (bool ok, bytes32 root) = CalldataTrie.storageRoot(vOff, vLen);
        if (!ok) revert InvalidAccountProof(TrieProof.ProofError.UNPARSEABLE_NODE);
        return root;
    }
}
