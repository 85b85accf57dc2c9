"""What the `devnet` pytest fixture hands to a test: clients, accounts, addresses, helpers.

    sent = devnet.send("rollup-a", "rollup-b", b"hi")   # from dev account 0, to the example counter
    devnet.wait_delivered(sent)                        # polls the destination gateway; raises
                                                       # DeliveryFailed once the relayer gave it up
    devnet.relay(sent)                                 # manual-relay mode: attest + prove + deliver now

Everything goes through real transactions on the real chains; `relay` does by
hand exactly what the relayer does (guardian signatures, eth_getProof,
attestAndDeliverBatch), which is what step-by-step tests want. The project's
own end-to-end tests build on the same class (tests/e2e/conftest.py).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from web3 import Web3
from web3.contract import Contract

from orchestrator import client
from orchestrator.client import SentMessage
from orchestrator.config import DevnetConfig
from orchestrator.devnet import Devnet
from services.common import manifest as manifest_models
from services.protocol import Attestation, Message, fetch_message_proofs, load_abi, sign_attestation

__all__ = ["DeliveryFailed", "DevnetHandle", "SentMessage"]

_FINALLY_FAILED = ("failed", "invalid")


class DeliveryFailed(RuntimeError):
    """`wait_delivered` gave up early: the relayer finally failed this message (no more attempts)."""

    def __init__(self, message_id: str, status: str, reason: str | None, trace: dict[str, Any] | None) -> None:
        super().__init__(f"message {message_id} {status}: {reason or 'no reason recorded'}")
        self.message_id, self.status, self.reason, self.trace = message_id, status, reason, trace


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
    ) -> DevnetHandle:
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

    def __enter__(self) -> DevnetHandle:
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
        """Returns once every message is delivered; raises `DeliveryFailed` as soon as one is finally
        failed (with the decoded reason), `TimeoutError` when `timeout` passes first."""
        pending = [sent] if isinstance(sent, SentMessage) else list(sent)
        deadline = time.monotonic() + timeout
        next_check = 0.0
        while pending:
            pending = [s for s in pending if not self.is_delivered(s)]
            if not pending:
                return
            if time.monotonic() >= next_check and self.supervisor is not None:
                self._raise_if_finally_failed(pending)
                next_check = time.monotonic() + 0.25
            if time.monotonic() > deadline:
                first = pending[0]
                trace = self.trace(first.id) if self.supervisor is not None else None
                raise TimeoutError(
                    f"{len(pending)} message(s) not delivered after {timeout:.0f}s, e.g. {first.id}: {trace}"
                )
            time.sleep(0.02)

    def _raise_if_finally_failed(self, pending: Sequence[SentMessage]) -> None:
        ids = {s.id for s in pending}
        for status in _FINALLY_FAILED:
            try:
                r = httpx.get(f"{self.api}/v1/messages", params={"status": status, "limit": 1000}, timeout=5)
                listed = r.json().get("messages", []) if r.status_code == 200 else []
            except (httpx.HTTPError, ValueError):  # the API is restarting: check again next round
                return
            for row in listed:
                if row.get("id") in ids:
                    trace = self.trace(row["id"]) or row
                    reason = trace.get("revert_reason") or trace.get("last_error")
                    raise DeliveryFailed(row["id"], status, reason, trace)

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
