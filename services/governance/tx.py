"""Signed transactions from a known key on one chain, with readable reverts (governance tooling).

    sender = TxSender(w3, private_key, lock_dir(manifest))   # nonce lock shared with every devnet sender
    receipt = sender.send(contract.functions.grantRole(1, account, 0), "grant")
    address = sender.create2(init_code, salt)        # through anvil's predeployed CREATE2 deployer

Keys sign locally (no node-side accounts), so the same code drives the deployer key, dev
accounts, or any key a user passes to the CLI. Gas is estimated (and padded: anvil drops a
transaction under the EIP-7623 calldata floor silently), so a call that would revert fails
here with the contract's custom error named, before anything is sent.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_typing import HexStr
from eth_utils import to_checksum_address
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError

from services.common import nonces
from services.common.abi import Abi, describe_error
from services.common.manifest import load_abi
from services.protocol.create2 import CREATE2_FACTORY, create2_address

GAS_PAD = 1.3
RECEIPT_TIMEOUT = 30.0
ERROR_SOURCES = (
    "CrosschainAccessManager",
    "MetalayerGovernor",
    "EraVoteLock",
    "MetalayerRemoteExecutor",
    "RestrictedCounter",
    "MetalayerGateway",
    "StateRootRegistry",
    "GuardianStaking",
    "EraToken",
)


class ChainTxError(RuntimeError):
    """A transaction would revert or reverted; the message names the step and the contract error."""


def _error_abis() -> list[Abi]:
    abis = []
    for name in ERROR_SOURCES:
        try:
            abis.append(Abi(load_abi(name)))
        except FileNotFoundError:
            continue
    return abis


def revert_reason(exc: Exception, abis: Iterable[Abi] | None = None) -> str:
    """The custom error (with arguments) or message carried by a web3 revert exception."""
    data = getattr(exc, "data", None)
    if isinstance(data, str) and data.startswith("0x"):
        return describe_error(data, abis if abis is not None else _error_abis())
    return str(getattr(exc, "message", None) or exc)


class TxSender:
    """Sends transactions signed by `private_key` on the chain behind `w3`, one at a time.

    With `lock_dir` (services.common.nonces.lock_dir of the manifest) the nonce is read and the
    transaction broadcast under the devnet's lock of the account, like every other devnet sender."""

    def __init__(self, w3: Web3, private_key: str, lock_dir: Path | None = None) -> None:
        self.w3 = w3
        self.account = Account.from_key(private_key)
        self.address = self.account.address
        self.chain_id = w3.eth.chain_id
        self.lock_dir = lock_dir

    def send(self, fn: Any, label: str = "") -> Any:
        """Estimate, sign, send and wait for `fn` (a web3 contract function call); returns the receipt."""
        try:
            tx = fn.build_transaction({"from": self.address, "chainId": self.chain_id, "nonce": self._nonce()})
        except (ContractCustomError, ContractLogicError) as exc:
            raise ChainTxError(f"{label or fn.fn_name}: would revert: {revert_reason(exc)}") from None
        tx["gas"] = int(tx["gas"] * GAS_PAD)
        return self._submit(tx, label or fn.fn_name)

    def send_raw(self, to: str, data: bytes, label: str) -> Any:
        """A transaction with hand-built calldata (e.g. to the CREATE2 deployer)."""
        base = {"from": self.address, "to": to_checksum_address(to), "data": "0x" + data.hex()}
        try:
            gas = self.w3.eth.estimate_gas(base)  # type: ignore[arg-type]
        except (ContractCustomError, ContractLogicError, ValueError) as exc:
            raise ChainTxError(f"{label}: would revert: {revert_reason(exc)}") from None
        latest = self.w3.eth.get_block("latest")
        fee = int(latest.get("baseFeePerGas", 10**9)) * 2 + 10**9
        tx = {
            **base,
            "chainId": self.chain_id,
            "nonce": self._nonce(),
            "gas": int(gas * GAS_PAD),
            "maxFeePerGas": fee,
            "maxPriorityFeePerGas": 10**9,
            "type": 2,
        }
        return self._submit(tx, label)

    def create2(self, init_code: bytes, salt: bytes, label: str) -> str:
        """Deploy `init_code` at its CREATE2 address unless code is already there; returns the address."""
        address = create2_address(init_code, salt)
        if not self.w3.eth.get_code(address):
            self.send_raw(CREATE2_FACTORY, salt + init_code, f"deploy {label}")
            if not self.w3.eth.get_code(address):
                raise ChainTxError(f"deploy {label}: no code at {address} after the CREATE2 transaction")
        return address

    def _nonce(self) -> int:
        return self.w3.eth.get_transaction_count(self.address, "pending")

    def _submit(self, tx: dict[str, Any], label: str) -> Any:
        tx_hash = self._broadcast(tx) if self.lock_dir is not None else self._send_signed(tx)
        receipt = self.w3.eth.wait_for_transaction_receipt(HexStr(tx_hash), timeout=RECEIPT_TIMEOUT)
        if receipt["status"] != 1:
            raise ChainTxError(f"{label}: transaction {tx_hash} reverted")
        return receipt

    def _send_signed(self, tx: dict[str, Any]) -> str:
        return "0x" + bytes(self.w3.eth.send_raw_transaction(self.account.sign_transaction(tx).raw_transaction)).hex()

    def _broadcast(self, tx: dict[str, Any]) -> str:
        """`tx` with the account's pending nonce under the devnet's lock (retried if taken meanwhile)."""
        assert self.lock_dir is not None

        def call(method: str, params: list[Any]) -> Any:
            return self.w3.provider.make_request(method, params)  # type: ignore[arg-type]

        def rpc(method: str, params: list[Any]) -> Any:
            answer = call(method, params)
            if "error" in answer:
                raise ChainTxError(f"{method}: {answer['error'].get('message')}")
            return answer["result"]

        def sign(nonce: int) -> tuple[bytes, str]:
            signed = self.account.sign_transaction({**tx, "nonce": nonce})
            return bytes(signed.raw_transaction), "0x" + bytes(signed.hash).hex()

        return nonces.broadcast(rpc, self.lock_dir, self.chain_id, self.address, sign)
