"""Gateway messages: id, commitment slot, and the `Message` tuple the gateway takes.

    COMMITMENTS_SLOT                      # keccak256("metalayer.gateway.commitments")
    message_id(src, dst, nonce, sender, recipient, payload) -> bytes32
    commitment_slot(message_id) -> bytes32  # storage slot of the commitment in the source gateway
    Message(source_chain_id, destination_chain_id, nonce, sender, recipient, payload)
        .id -> bytes32, .slot -> bytes32, .as_tuple() -> ABI tuple for deliverMessage/deliverBatch
    Message.from_events(sent_args, committed_args) -> Message
        built from the MessageSent + MessageCommitted event args of one send (web3 event `args`)

All 32-byte values are `bytes`; addresses are checksummed strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from eth_abi import encode
from eth_utils import keccak, to_checksum_address

from services.protocol.erc7930 import decode_evm

COMMITMENTS_SLOT: bytes = keccak(text="metalayer.gateway.commitments")
COMMITMENT_VALUE: bytes = (1).to_bytes(32, "big")


def message_id(
    source_chain_id: int,
    destination_chain_id: int,
    nonce: int,
    sender: str,
    recipient: str,
    payload: bytes,
) -> bytes:
    """keccak256(abi.encode(src, dst, nonce, sender, recipient, keccak256(payload)))."""
    return keccak(
        encode(
            ["uint256", "uint256", "uint256", "address", "address", "bytes32"],
            [source_chain_id, destination_chain_id, nonce, sender, recipient, keccak(payload)],
        )
    )


def commitment_slot(msg_id: bytes) -> bytes:
    """keccak256(abi.encode(messageId, COMMITMENTS_SLOT)) (OZ SlotDerivation.deriveMapping)."""
    return keccak(bytes(msg_id) + COMMITMENTS_SLOT)


@dataclass(frozen=True)
class Message:
    source_chain_id: int
    destination_chain_id: int
    nonce: int
    sender: str
    recipient: str
    payload: bytes

    @property
    def id(self) -> bytes:
        return message_id(
            self.source_chain_id, self.destination_chain_id, self.nonce, self.sender, self.recipient, self.payload
        )

    @property
    def slot(self) -> bytes:
        return commitment_slot(self.id)

    def as_tuple(self) -> tuple[int, int, int, str, str, bytes]:
        return (
            self.source_chain_id,
            self.destination_chain_id,
            self.nonce,
            to_checksum_address(self.sender),
            to_checksum_address(self.recipient),
            bytes(self.payload),
        )

    @classmethod
    def from_events(cls, sent: Mapping[str, Any], committed: Mapping[str, Any]) -> "Message":
        """From the args of MessageSent (sender/recipient ERC-7930, payload) and MessageCommitted (nonce)."""
        src, sender = decode_evm(sent["sender"])
        dst, recipient = decode_evm(sent["recipient"])
        msg = cls(src, dst, int(committed["nonce"]), sender or "", recipient or "", bytes(sent["payload"]))
        if bytes(sent["sendId"]) != msg.id:
            raise ValueError(f"message id mismatch: event 0x{bytes(sent['sendId']).hex()} != computed 0x{msg.id.hex()}")
        return msg
