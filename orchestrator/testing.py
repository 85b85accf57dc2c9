"""What the `devnet` pytest fixture hands to a test: clients, accounts, addresses, helpers.

    sent = devnet.send("rollup-a", "rollup-b", b"hi")   # from dev account 0, to the example counter
    devnet.wait_delivered(sent)                        # polls the destination gateway
    devnet.relay(sent)                                 # manual-relay mode: attest + prove + deliver now

Everything goes through real transactions on the real chains; `relay` does by
hand exactly what the relayer does (guardian signatures, eth_getProof,
attestAndDeliverBatch), which is what step-by-step tests want.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Sequence

from web3 import Web3
from web3.contract import Contract

from orchestrator import messaging
from orchestrator.config import DevnetConfig
from orchestrator.devnet import Devnet
from services.common import manifest as manifest_models
from services.protocol import Attestation, Message, fetch_message_proofs, load_abi, sign_attestation


@dataclass(frozen=True)
class SentMessage:
    message: Message
    block_number: int
    tx_hash: str

    @property
    def id(self) -> str:
        return "0x" + self.message.id.hex()


@dataclass
class DevnetHandle:
    devnet: Devnet
    manifest: dict[str, Any]
    w3: dict[str, Web3] = field(default_factory=dict)  # by chain name
    model: Any = None  # the manifest as services.common.manifest models

    # ------------------------------------------------------------ lifecycle

    @classmethod
    def start(cls, config: DevnetConfig, relayer: bool = True) -> "DevnetHandle":
        devnet = Devnet(config)
        skip = () if relayer else ("relayer",)
        manifest = devnet.start(skip_services=skip)
        handle = cls(devnet, manifest, model=manifest_models.load(devnet.manifest_path))
        for chain in manifest["chains"]:
            handle.w3[chain["name"]] = Web3(Web3.HTTPProvider(chain["rpc_url"], request_kwargs={"timeout": 30}))
        return handle

    def stop(self) -> None:
        self.devnet.stop()

    # ------------------------------------------------------------ lookups

    @property
    def accounts(self) -> list[dict[str, str]]:
        return self.manifest["accounts"]

    @property
    def addresses(self) -> dict[str, str]:
        return {name: c["address"] for name, c in self.manifest["contracts"].items()}

    def chain(self, name_or_id: str | int) -> dict[str, Any]:
        for chain in self.manifest["chains"]:
            if chain["name"] == name_or_id or chain["chain_id"] == name_or_id:
                return chain
        raise KeyError(f"unknown chain {name_or_id!r}")

    def contract(self, chain: str | int, name: str, address: str | None = None) -> Contract:
        w3 = self.w3[self.chain(chain)["name"]]
        return w3.eth.contract(address=Web3.to_checksum_address(address or self.addresses[name]), abi=load_abi(name))

    # ------------------------------------------------------------ messages

    def send(
        self,
        source: str | int,
        destination: str | int,
        payload: bytes = b"",
        recipient: str | None = None,
        account: int = 0,
    ) -> SentMessage:
        """sendMessage from a dev account (fee from its prepaid balance); returns once mined."""
        sent = messaging.send_message(self.model, source, destination, payload, recipient=recipient, account=account)
        message = Message(sent.source, sent.destination, sent.nonce, sent.sender, sent.recipient, payload)
        if "0x" + message.id.hex() != sent.id:
            raise AssertionError(f"message id {sent.id} differs from the one computed here (0x{message.id.hex()})")
        return SentMessage(message, sent.block, sent.tx)

    def is_delivered(self, sent: SentMessage) -> bool:
        gateway = self.contract(sent.message.destination_chain_id, "MetalayerGateway")
        return bool(gateway.functions.isDelivered(sent.message.source_chain_id, sent.message.nonce).call())

    def wait_delivered(self, sent: SentMessage | Sequence[SentMessage], timeout: float = 30.0) -> None:
        pending = [sent] if isinstance(sent, SentMessage) else list(sent)
        deadline = time.monotonic() + timeout
        while pending:
            pending = [s for s in pending if not self.is_delivered(s)]
            if pending and time.monotonic() > deadline:
                ids = ", ".join(s.id for s in pending[:5])
                raise TimeoutError(f"{len(pending)} message(s) not delivered after {timeout:.0f}s: {ids}")
            if pending:
                time.sleep(0.02)

    # ------------------------------------------------------------ manual relay

    def attest(self, chain: str | int, block_number: int, signers: Sequence[int] | None = None) -> tuple[Attestation, list[bytes]]:
        """Sign `block_number` of `chain` with guardian keys from the manifest (default: a bare quorum)."""
        info = self.chain(chain)
        block = self.w3[info["name"]].eth.get_block(block_number)
        att = Attestation.from_block(info["chain_id"], block)
        members = self.manifest["guardians"]["members"]
        chosen = signers if signers is not None else range(self.manifest["guardians"]["threshold"])
        return att, [sign_attestation(att, members[i]["private_key"]) for i in chosen]

    def relay(self, sent: SentMessage | Sequence[SentMessage], from_account: int = 9) -> dict[str, Any]:
        """Deliver messages of one source block by hand: attest, prove, attestAndDeliverBatch."""
        batch = [sent] if isinstance(sent, SentMessage) else list(sent)
        src = self.chain(batch[0].message.source_chain_id)
        dst = self.chain(batch[0].message.destination_chain_id)
        block_number = max(s.block_number for s in batch)
        att, signatures = self.attest(src["name"], block_number)
        account_proof, storage_proofs = fetch_message_proofs(
            self.w3[src["name"]], self.addresses["MetalayerGateway"], [s.message for s in batch], block_number
        )
        gateway = self.contract(dst["name"], "MetalayerGateway")
        tx = gateway.functions.attestAndDeliverBatch(
            att.as_tuple(), signatures, account_proof, [s.message.as_tuple() for s in batch], storage_proofs
        ).transact({"from": self.accounts[from_account]["address"]})
        return dict(self.w3[dst["name"]].eth.wait_for_transaction_receipt(tx, timeout=30))
