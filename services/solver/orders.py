"""Metalayer ERC-7683 orders in Python, byte-compatible with contracts/src/intents (MetalayerOrders.sol).

data = OrderData(input_token, input_amount, output_token, output_amount, recipient, destination_chain_id)
data.encode()                                   # ERC-7683 orderData
fill = FillData.decode(origin_data)             # the fill instruction's originData
order_id(origin_data)                           # keccak256(originData)
gasless_typed_data(order, settler_chain_id)     # EIP-712 message for openFor (eth_account / a wallet)
permit_typed_data(...)                          # ERC-2612 permit of USDC to the origin settler
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from eth_abi import decode, encode
from eth_utils import keccak, to_checksum_address

ORDER_DATA_TYPE = (
    "OrderData(address inputToken,uint256 inputAmount,address outputToken,uint256 outputAmount,"
    "address recipient,uint256 destinationChainId)"
)
ORDER_DATA_TYPEHASH = keccak(text=ORDER_DATA_TYPE)
ORDER_DATA_ABI = "(address,uint256,address,uint256,address,uint256)"
FILL_DATA_ABI = "(uint256,address,address,uint256,uint32,address,uint256,address,uint256)"
GASLESS_ABI = "(address,address,uint256,uint256,uint32,uint32,bytes32,bytes)"
ONCHAIN_ABI = "(uint32,bytes32,bytes)"
ORIGIN_DOMAIN = ("MetalayerOriginSettler", "1")
USDC_NAME = "USD Coin (Metalayer devnet)"


@dataclass(frozen=True)
class OrderData:
    input_token: str
    input_amount: int
    output_token: str
    output_amount: int
    recipient: str
    destination_chain_id: int

    def as_tuple(self) -> tuple[Any, ...]:
        return (
            self.input_token,
            self.input_amount,
            self.output_token,
            self.output_amount,
            self.recipient,
            self.destination_chain_id,
        )

    def encode(self) -> bytes:
        return encode([ORDER_DATA_ABI], [self.as_tuple()])

    @classmethod
    def decode(cls, data: bytes) -> OrderData:
        t = decode([ORDER_DATA_ABI], data)[0]
        return cls(to_checksum_address(t[0]), t[1], to_checksum_address(t[2]), t[3], to_checksum_address(t[4]), t[5])

    def typed(self) -> dict[str, Any]:
        return {
            "inputToken": self.input_token,
            "inputAmount": self.input_amount,
            "outputToken": self.output_token,
            "outputAmount": self.output_amount,
            "recipient": self.recipient,
            "destinationChainId": self.destination_chain_id,
        }


@dataclass(frozen=True)
class FillData:
    origin_chain_id: int
    origin_settler: str
    user: str
    nonce: int
    fill_deadline: int
    output_token: str
    output_amount: int
    recipient: str
    destination_chain_id: int

    def encode(self) -> bytes:
        return encode([FILL_DATA_ABI], [tuple(asdict(self).values())])

    @classmethod
    def decode(cls, data: bytes) -> FillData:
        t = decode([FILL_DATA_ABI], data)[0]
        return cls(
            t[0],
            to_checksum_address(t[1]),
            to_checksum_address(t[2]),
            t[3],
            t[4],
            to_checksum_address(t[5]),
            t[6],
            to_checksum_address(t[7]),
            t[8],
        )


def order_id(origin_data: bytes) -> bytes:
    return keccak(origin_data)


@dataclass(frozen=True)
class GaslessOrder:
    origin_settler: str
    user: str
    nonce: int
    origin_chain_id: int
    open_deadline: int
    fill_deadline: int
    data: OrderData

    def as_tuple(self) -> tuple[Any, ...]:
        return (
            self.origin_settler,
            self.user,
            self.nonce,
            self.origin_chain_id,
            self.open_deadline,
            self.fill_deadline,
            ORDER_DATA_TYPEHASH,
            self.data.encode(),
        )


EIP712_DOMAIN = (
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
)


def _typed_data(
    primary: str, types: dict[str, list[dict[str, str]]], domain: tuple[str, str, int, str], message: dict[str, Any]
) -> dict[str, Any]:
    """EIP-712 typed data under a (name, version, chainId, verifyingContract) domain."""
    name, version, chain_id, contract = domain
    return {
        "types": {"EIP712Domain": [dict(f) for f in EIP712_DOMAIN], **types},
        "primaryType": primary,
        "domain": {"name": name, "version": version, "chainId": chain_id, "verifyingContract": contract},
        "message": message,
    }


def onchain_order(fill_deadline: int, data: OrderData) -> tuple[Any, ...]:
    """The OnchainCrossChainOrder tuple for OriginSettler.open."""
    return (fill_deadline, ORDER_DATA_TYPEHASH, data.encode())


def gasless_typed_data(order: GaslessOrder) -> dict[str, Any]:
    """EIP-712 typed data of a gasless order (sign with eth_account.sign_typed_data(full_message=...))."""
    return _typed_data(
        "GaslessCrossChainOrder",
        {
            "GaslessCrossChainOrder": [
                {"name": "originSettler", "type": "address"},
                {"name": "user", "type": "address"},
                {"name": "nonce", "type": "uint256"},
                {"name": "originChainId", "type": "uint256"},
                {"name": "openDeadline", "type": "uint32"},
                {"name": "fillDeadline", "type": "uint32"},
                {"name": "orderDataType", "type": "bytes32"},
                {"name": "orderData", "type": "OrderData"},
            ],
            "OrderData": [
                {"name": "inputToken", "type": "address"},
                {"name": "inputAmount", "type": "uint256"},
                {"name": "outputToken", "type": "address"},
                {"name": "outputAmount", "type": "uint256"},
                {"name": "recipient", "type": "address"},
                {"name": "destinationChainId", "type": "uint256"},
            ],
        },
        (*ORIGIN_DOMAIN, order.origin_chain_id, order.origin_settler),
        {
            "originSettler": order.origin_settler,
            "user": order.user,
            "nonce": order.nonce,
            "originChainId": order.origin_chain_id,
            "openDeadline": order.open_deadline,
            "fillDeadline": order.fill_deadline,
            "orderDataType": ORDER_DATA_TYPEHASH,
            "orderData": order.data.typed(),
        },
    )


def permit_typed_data(
    token: str,
    chain_id: int,
    owner: str,
    spender: str,
    value: int,
    nonce: int,
    deadline: int,
    token_name: str = USDC_NAME,
) -> dict[str, Any]:
    """ERC-2612 permit typed data (OZ ERC20Permit, version "1")."""
    permit = [
        {"name": "owner", "type": "address"},
        {"name": "spender", "type": "address"},
        {"name": "value", "type": "uint256"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ]
    message = {"owner": owner, "spender": spender, "value": value, "nonce": nonce, "deadline": deadline}
    return _typed_data("Permit", {"Permit": permit}, (token_name, "1", chain_id, token), message)


def permit_filler_data(deadline: int, signature: bytes) -> bytes:
    """`originFillerData` carrying a permit: abi.encode(deadline, v, r, s) from a 65-byte signature."""
    r, s, v = signature[:32], signature[32:64], signature[64]
    return encode(["uint256", "uint8", "bytes32", "bytes32"], [deadline, v if v >= 27 else v + 27, r, s])


def repay_filler_data(repay_to: str) -> bytes:
    return encode(["address"], [repay_to])
