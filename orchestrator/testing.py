"""What the `devnet` pytest fixture hands to a test: clients, accounts, addresses, helpers.

    sent = devnet.send("rollup-a", "rollup-b", b"hi")   # from dev account 0, to the example counter
    devnet.wait_delivered(sent)                        # polls the destination gateway
    devnet.relay(sent)                                 # manual-relay mode: attest + prove + deliver now

Everything goes through real transactions on the real chains; `relay` does by
hand exactly what the relayer does (guardian signatures, eth_getProof,
attestAndDeliverBatch), which is what step-by-step tests want. The project's
own end-to-end tests build on the same class (tests/e2e/conftest.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import httpx
from web3 import Web3
from web3.contract import Contract

from orchestrator import client
from orchestrator.client import SentMessage
from orchestrator.config import DevnetConfig
from orchestrator.devnet import Devnet
from services.common import manifest as manifest_models
from services.protocol import Attestation, Message, fetch_message_proofs, load_abi, sign_attestation

__all__ = ["DevnetHandle", "SentMessage"]


@dataclass
class DevnetHandle:
    devnet: Devnet
    manifest: manifest_models.Manifest
    w3: dict[str, Web3] = field(default_factory=dict)  # by chain name

    # ------------------------------------------------------------ lifecycle

    @classmethod
    def start(
        cls,
        config: DevnetConfig,
        relayer: bool = True,
        guardian_args: tuple[str, ...] = (),
        relayer_args: tuple[str, ...] = (),
    ) -> "DevnetHandle":
        devnet = Devnet(config)
        devnet.start(
            skip_services=() if relayer else ("relayer",), guardian_args=guardian_args, relayer_args=relayer_args
        )
        try:
            handle = cls(devnet, manifest_models.load(devnet.manifest_path))
            for chain in handle.manifest.chains:
                handle.w3[chain.name] = Web3(Web3.HTTPProvider(chain.rpc_url, request_kwargs={"timeout": 30}))
            return handle
        except BaseException:
            devnet.stop()
            raise

    def stop(self) -> None:
        self.devnet.stop()

    def __enter__(self) -> "DevnetHandle":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def supervisor(self) -> Any:
        return self.devnet.supervisor

    # ------------------------------------------------------------ lookups

    @property
    def accounts(self) -> list[manifest_models.Key]:
        return self.manifest.accounts

    @property
    def addresses(self) -> dict[str, str]:
        return {name: c.address for name, c in self.manifest.contracts.items()}

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.manifest.api.port}"

    def chain(self, name_or_id: str | int) -> manifest_models.Chain:
        return self.manifest.chain(name_or_id)

    def contract(self, chain: str | int, name: str, address: str | None = None) -> Contract:
        w3 = self.w3[self.chain(chain).name]
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
        return client.send_message(self.manifest, source, destination, payload, recipient=recipient, account=account)

    def is_delivered(self, sent: SentMessage) -> bool:
        return client.is_delivered(self.manifest, sent)

    def trace(self, message_id: str) -> dict[str, Any] | None:
        """The API's trace of a message (None while the relayer has not seen it)."""
        response = httpx.get(f"{self.api}/v1/messages/{message_id}", timeout=5)
        return response.json() if response.status_code == 200 else None

    def wait_delivered(self, sent: SentMessage | Sequence[SentMessage], timeout: float = 30.0) -> None:
        pending = [sent] if isinstance(sent, SentMessage) else list(sent)
        deadline = time.monotonic() + timeout
        while pending:
            pending = [s for s in pending if not self.is_delivered(s)]
            if pending and time.monotonic() > deadline:
                first = pending[0]
                trace = self.trace(first.id) if self.supervisor is not None else None
                raise TimeoutError(
                    f"{len(pending)} message(s) not delivered after {timeout:.0f}s, e.g. {first.id}: {trace}"
                )
            if pending:
                time.sleep(0.02)

    # ------------------------------------------------------------ chaos

    def chaos(self, kind: str, target: str, duration: float | None = None, **args: Any) -> Any:
        """Apply a fault (`devnet chaos KIND TARGET`): kill, pause, resume, partition, reorg (depth=),
        delay (seconds=), drop, duplicate, equivocate (chain=, block=); returns the recorded Fault."""
        from orchestrator.chaos.actions import Chaos

        return Chaos.for_state(self.devnet.config.state).apply(kind, target, duration, **args)

    def heal(self, target: str | None = None) -> list[Any]:
        """End every fault in force (or those on one target)."""
        from orchestrator.chaos.actions import Chaos

        return Chaos.for_state(self.devnet.config.state).heal(target)

    def faults(self) -> list[Any]:
        from services.common.faults import FaultBook

        return FaultBook(self.devnet.config.state.run).all()

    def receive_counts(self, destination: str | int) -> dict[str, int]:
        """MessageDelivered events per message id on a destination gateway (the exactly-once check)."""
        from services.common.abi import Abi

        name = self.chain(destination).name
        topic = Abi(load_abi("MetalayerGateway")).topic("MessageDelivered")
        gateway = Web3.to_checksum_address(self.addresses["MetalayerGateway"])
        logs = self.w3[name].eth.get_logs({"address": gateway, "topics": [topic], "fromBlock": 0, "toBlock": "latest"})
        counts: dict[str, int] = {}
        for lg in logs:
            key = "0x" + bytes(lg["topics"][1]).hex()
            counts[key] = counts.get(key, 0) + 1
        return counts

    # ------------------------------------------------------------ manual relay

    def attest(self, chain: str | int, block_number: int, signers: Sequence[int] | None = None) -> tuple[Attestation, list[bytes]]:
        """Sign `block_number` of `chain` with guardian keys from the manifest (default: a bare quorum)."""
        info = self.chain(chain)
        block = self.w3[info.name].eth.get_block(block_number)
        att = Attestation.from_block(info.chain_id, block)
        members = self.manifest.guardians.members
        chosen = signers if signers is not None else range(self.manifest.guardians.threshold)
        return att, [sign_attestation(att, members[i].private_key, self.manifest.instance_id or "") for i in chosen]

    def relay(self, sent: SentMessage | Sequence[SentMessage], from_account: int = 9) -> dict[str, Any]:
        """Deliver messages of one source block by hand: attest, prove, attestAndDeliverBatch."""
        batch = [sent] if isinstance(sent, SentMessage) else list(sent)
        messages = [Message(s.source, s.destination, s.nonce, s.sender, s.recipient, s.payload) for s in batch]
        src, dst = self.chain(batch[0].source), self.chain(batch[0].destination)
        block_number = max(s.block for s in batch)
        att, signatures = self.attest(src.name, block_number)
        account_proof, storage_proofs = fetch_message_proofs(
            self.w3[src.name], self.addresses["MetalayerGateway"], messages, block_number
        )
        gateway = self.contract(dst.name, "MetalayerGateway")
        tx = gateway.functions.attestAndDeliverBatch(
            att.as_tuple(), signatures, account_proof, [m.as_tuple() for m in messages], storage_proofs
        ).transact({"from": self.accounts[from_account].address})
        return dict(self.w3[dst.name].eth.wait_for_transaction_receipt(tx, timeout=30))
