"""Gateway messages: id, commitment slot, and the `Message` tuple the gateway takes.

    COMMITMENTS_SLOT                      # keccak256("metalayer.gateway.commitments")
    message_id(src, dst, nonce, sender, recipient, payload) -> bytes32
    commitment_slot(message_id) -> bytes32  # storage slot of the commitment in the source gateway
    commitment_value(gas_limit, finalized=False) -> int  # gas_limit * 2 + 1, bit 255 if finalized
    gas_limit_of(value) -> int              # inverse (raises on a value without the low bit)
    finalized_of(value) -> bool             # whether the commitment is of a finalized message
    request_relay(gas_limit) -> bytes       # the ERC-7786 attribute requestRelay(0, gas_limit, 0)
    finality(level) -> bytes                # the ERC-7786 attribute finality(uint8): SOFT 0, FINALIZED 1
    MAX_PAYLOAD, MAX_GAS_LIMIT              # the gateway's limits
    Message(source_chain_id, destination_chain_id, nonce, sender, recipient, payload, gas_limit=0, finality=0)
        .id -> bytes32, .slot -> bytes32, .as_tuple() -> ABI tuple for deliverMessage/deliverBatch
        (gas_limit and finality are not part of the id nor of the tuple: the gateway reads them from
        the proven commitment)
    Message.from_events(sent_args, committed_args) -> Message
        built from the MessageSent + MessageCommitted event args of one send (web3 event `args`)

All 32-byte values are `bytes`; addresses are checksummed strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eth_abi import encode
from eth_utils import keccak, to_checksum_address

from services.protocol.erc7930 import decode_evm

COMMITMENTS_SLOT: bytes = keccak(text="metalayer.gateway.commitments")
COMMITMENT_VALUE: bytes = (1).to_bytes(32, "big")  # the commitment of a message without requested gas
MAX_PAYLOAD = 256 * 1024
MAX_GAS_LIMIT = 15_000_000
REQUEST_RELAY = keccak(text="requestRelay(uint256,uint256,address)")[:4]
FINALITY = keccak(text="finality(uint8)")[:4]
SOFT, FINALIZED = 0, 1
FINALITY_NAMES = {SOFT: "soft", FINALIZED: "finalized"}
_FINALIZED_BIT = 1 << 255


def commitment_value(gas_limit: int = 0, finalized: bool = False) -> int:
    """The commitment slot's value: the low bit marks a commitment, bit 255 a finalized message,
    the bits between are the requested gas."""
    return (gas_limit << 1) | 1 | (_FINALIZED_BIT if finalized else 0)


def gas_limit_of(value: int) -> int:
    if not value & 1:
        raise ValueError(f"not a commitment value: {value:#x}")
    return (value & ~_FINALIZED_BIT) >> 1


def finalized_of(value: int) -> bool:
    gas_limit_of(value)  # validates
    return bool(value & _FINALIZED_BIT)


def finality(level: int | str) -> bytes:
    """ERC-7786 attribute `finality(uint8)`: 0/"soft" (newest attested block) or 1/"finalized"
    (only against a block at least the gateway's `confirmations` below its newest attested root)."""
    if isinstance(level, str):
        level = {v: k for k, v in FINALITY_NAMES.items()}[level]
    return FINALITY + encode(["uint8"], [level])


def request_relay(gas_limit: int, refund_recipient: str = "0x" + "00" * 20) -> bytes:
    """ERC-7786 attribute asking the destination gateway to call the recipient with `gas_limit` gas."""
    return REQUEST_RELAY + encode(["uint256", "uint256", "address"], [0, gas_limit, refund_recipient])


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
    gas_limit: int = 0
    finality: int = 0  # SOFT or FINALIZED

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
    def from_events(cls, sent: Mapping[str, Any], committed: Mapping[str, Any]) -> Message:
        """From the args of MessageSent (sender/recipient ERC-7930, payload) and MessageCommitted (nonce)."""
        src, sender = decode_evm(sent["sender"])
        dst, recipient = decode_evm(sent["recipient"])
        gas_limit = int(committed.get("gasLimit", 0) or 0)
        level = int(committed.get("finality", 0) or 0)
        msg = cls(
            src, dst, int(committed["nonce"]), sender or "", recipient or "", bytes(sent["payload"]), gas_limit, level
        )
        if bytes(sent["sendId"]) != msg.id:
            raise ValueError(f"message id mismatch: event 0x{bytes(sent['sendId']).hex()} != computed 0x{msg.id.hex()}")
        return msg
