// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

/**
 * @title DeliveryLedger
 * @notice At-most-once delivery keyed by message id, at nearly the cost of a nonce bitmap.
 *
 * Per (sourceChainId, nonce) a 32-bit fingerprint of the delivered id (8 per storage word, so
 * consecutive nonces share words). A different id for a used nonce (the source chain was rewound
 * with evm_revert / anvil_reorg and reused the nonce) falls back to `_rewound[id]`; the first
 * fingerprint stays, so neither message can be replayed. A rewound message whose id has the same
 * 32-bit fingerprint as the first one (odds 2^-32) is refused as AlreadyDelivered (docs/PROTOCOL.md).
 */
abstract contract DeliveryLedger {
    mapping(uint256 sourceChainId => mapping(uint256 word => uint256)) private _fingerprints;
    mapping(bytes32 messageId => bool) private _rewound;

    error AlreadyDelivered(uint256 sourceChainId, uint256 nonce);

    function _fingerprint(bytes32 id) private pure returns (uint256 fp) {
        fp = uint32(uint256(id));
        if (fp == 0) fp = 1; // 0 means "no delivery"
    }

    function _stored(uint256 source, uint256 nonce) private view returns (uint256) {
        return (_fingerprints[source][nonce >> 3] >> ((nonce & 7) << 5)) & 0xffffffff;
    }

    /// @dev Revert AlreadyDelivered if `id` (nonce `nonce` of `source`) was delivered.
    function _checkNotDelivered(uint256 source, uint256 nonce, bytes32 id) internal view {
        uint256 fp = _stored(source, nonce);
        if (fp != 0 && (fp == _fingerprint(id) || _rewound[id])) revert AlreadyDelivered(source, nonce);
    }

    /// @dev Record the delivery of `id` (checked with _checkNotDelivered first).
    function _markDelivered(uint256 source, uint256 nonce, bytes32 id) internal {
        mapping(uint256 => uint256) storage words = _fingerprints[source];
        uint256 shift = (nonce & 7) << 5;
        uint256 word = words[nonce >> 3];
        if ((word >> shift) & 0xffffffff == 0) {
            words[nonce >> 3] = word | (_fingerprint(id) << shift);
        } else {
            _rewound[id] = true;
        }
    }

    /// @notice Whether a message with nonce `nonce` from `sourceChainId` was delivered.
    /// @param sourceChainId the source chain
    /// @param nonce the message nonce
    function isDelivered(uint256 sourceChainId, uint256 nonce) external view returns (bool) {
        return _stored(sourceChainId, nonce) != 0;
    }

    /// @notice Whether message `messageId` (nonce `nonce` from `sourceChainId`) was delivered.
    /// @param sourceChainId the source chain
    /// @param nonce the message nonce
    /// @param messageId the message id
    function isMessageDelivered(uint256 sourceChainId, uint256 nonce, bytes32 messageId) external view returns (bool) {
        uint256 fp = _stored(sourceChainId, nonce);
        return fp != 0 && (fp == _fingerprint(messageId) || _rewound[messageId]);
    }
}
