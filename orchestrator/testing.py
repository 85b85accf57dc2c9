"""What the `devnet` pytest fixture hands to a test: clients, accounts, addresses, helpers.

    sent = devnet.send("rollup-a", "rollup-b", "hi")   # from dev account 0, to the example counter
    devnet.wait_delivered(sent)                        # polls the destination gateway (NotDelivered)
    devnet.relay(sent)                                 # manual-relay mode: attest + prove + deliver now
    devnet.reset()                                     # back to the clean point (evm_revert + databases)

Every helper, with examples: docs/TESTING.md.

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
from web3.exceptions import ContractLogicError

from orchestrator import client
from orchestrator.chains.rpc import rpc
from orchestrator.client import SentMessage
from orchestrator.config import DevnetConfig
from orchestrator.devnet import Devnet
from orchestrator.settling import settle_timeout
from services.common import manifest as manifest_models
from services.common import nonces
from services.protocol import Attestation, Message, fetch_message_proofs, load_abi, sign_attestation

__all__ = ["DeliveryFailed", "DevnetError", "DevnetHandle", "NotDelivered", "SentMessage"]


class DevnetError(RuntimeError):
    """Base of the handle's failures."""


class DeliveryFailed(DevnetError):
    """A manual delivery reverted; `reason` is decoded with the devnet's ABIs, e.g. "AlreadyDelivered(901, 4)"."""

    def __init__(self, reason: str, tx: str | None = None, message_id: str | None = None, status: str | None = None):
        self.reason, self.tx, self.message_id, self.status = reason, tx, message_id, status
        text = reason if tx is None else f"{reason} (tx {tx})"
        super().__init__(text if message_id is None else f"message {message_id} {status}: {text}")


class NotDelivered(DevnetError, TimeoutError):
    """`wait_delivered` gave up; the message names the first pending id and its trace."""


def _error_abis() -> list[Any]:
    from services.common.abi import Abi

    return [Abi(load_abi(name)) for name in ("MetalayerGateway", "StateRootRegistry")]


def decode_revert(exc: BaseException) -> str:
    """A web3 revert as the contract's error, e.g. AlreadyDelivered(901, 4)."""
    from services.common.abi import describe_error

    data = getattr(exc, "data", None)
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x"):
        return describe_error(data, _error_abis())
    return str(exc)


@dataclass
class DevnetHandle:
    devnet: Devnet
    manifest: manifest_models.Manifest
    w3: dict[str, Web3] = field(default_factory=dict)  # by chain name
    checkpoint: Any = None  # orchestrator.snapshots.checkpoint.Checkpoint once `mark_clean` ran
    dirty: bool = False  # a test ran since the last reset (set by the pytest plugin)

    # ------------------------------------------------------------ lifecycle

    @classmethod
    def start(
        cls,
        config: DevnetConfig,
        relayer: bool = True,
        guardian_args: tuple[str, ...] = (),
        relayer_args: tuple[str, ...] = (),
        snapshot: Any = None,
    ) -> DevnetHandle:
        """A devnet on `config`; `snapshot` (orchestrator.snapshots.store.Snapshot) starts from a saved cut."""
        devnet = Devnet(config)
        devnet.start(
            skip_services=() if relayer else ("relayer",),
            guardian_args=guardian_args,
            relayer_args=relayer_args,
            snapshot=snapshot,
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

    # ------------------------------------------------------------ isolation

    def mark_clean(self) -> None:
        """Remember the current state as the clean point `reset` returns to."""
        from orchestrator.snapshots.checkpoint import Checkpoint

        directory = self.devnet.state_dir / "checkpoint"
        self.checkpoint = Checkpoint.take(self.devnet.config, self.supervisor, directory, self.devnet.chain_supervisor)

    def reset(self, relayer: bool = True) -> None:
        """Every chain and service back to the clean point (taken at start unless `mark_clean` moved it).

        `relayer=False` leaves the relayer stopped afterwards (manual relaying)."""
        if self.checkpoint is None:
            self.mark_clean()
        restart = None if relayer else tuple(n for n in self.checkpoint.stateful_services() if n != "relayer")
        self.checkpoint.reset(restart)
        self.dirty = False

    def save_snapshot(self, name: str) -> Any:
        """A whole-devnet snapshot under the state directory (what `devnet snapshot save` writes)."""
        from orchestrator.snapshots import store

        directory = store.snapshots_root(self.devnet.state_dir) / store.check_name(name)
        return store.save(self.manifest, directory)

    def pause_relayer(self) -> None:
        """Stop the relayer (if the devnet has one): nothing moves unless the test calls `relay`."""
        if self.supervisor is not None and "relayer" in self.supervisor.names():
            self.supervisor.stop_service("relayer")

    def resume_relayer(self) -> None:
        if self.supervisor is not None and "relayer" in self.supervisor.names():
            self.supervisor.start_service("relayer")

    def set_block_time(self, seconds: float | None) -> None:
        """A block every `seconds` (whole seconds, at least 1) on every chain; 0: a block per
        transaction; None: back to the config's."""
        from orchestrator.snapshots import chainstate

        if seconds is None:
            chainstate.thaw(self.devnet.config.chains)
        else:
            chainstate.mine(self.manifest.chains, seconds)

    # ------------------------------------------------------------ logs

    def log_marks(self) -> dict[str, int]:
        """Each service log's current size: pass to `logs_since` for the lines written after now."""
        return {p.stem: p.stat().st_size for p in self.devnet.log_dir.glob("*.log")}

    def logs_since(self, marks: dict[str, int], services: Sequence[str] | None = None) -> dict[str, str]:
        """New lines of each log (relayer and guardians by default) since `marks`."""
        out = {}
        for path in sorted(self.devnet.log_dir.glob("*.log")):
            name = path.stem
            if services is None and not (name == "relayer" or name.startswith("guardian-")):
                continue
            if services is not None and name not in services:
                continue
            with open(path, "rb") as f:
                f.seek(marks.get(name, 0))
                text = f.read().decode(errors="replace")
            if text:
                out[name] = text
        return out

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
        payload: bytes | str = b"",
        recipient: str | None = None,
        account: int = 0,
    ) -> SentMessage:
        """sendMessage from a dev account (fee from its prepaid balance); returns once mined.

        A str payload is sent as UTF-8, or as bytes when it is 0x-hex (like `devnet send --payload`)."""
        data = client.parse_payload(payload) if isinstance(payload, str) else bytes(payload)
        return client.send_message(self.manifest, source, destination, data, recipient=recipient, account=account)

    def sent_message(
        self, source: str | int, tx: str | bytes, payload: str | bytes = b"", timeout: float = 30.0
    ) -> SentMessage:
        """The `SentMessage` of a sendMessage transaction made some other way (a contract, a raw
        transaction, several in one block), once mined: pass it to `wait_delivered`, `relay`, ...
        `payload` is only recorded on it."""
        url = self.chain(source).rpc_url
        tx_hash = tx if isinstance(tx, str) else "0x" + bytes(tx).hex()
        deadline = time.monotonic() + timeout
        while (receipt := rpc(url, "eth_getTransactionReceipt", [tx_hash])) is None:
            if time.monotonic() > deadline:
                raise client.MessagingError(f"send transaction {tx_hash} not mined after {timeout:.0f}s")
            time.sleep(0.01)
        data = client.parse_payload(payload) if isinstance(payload, str) else bytes(payload)
        return client.sent_from_receipt(self.manifest, source, receipt, data, time.time())

    def is_delivered(self, sent: SentMessage) -> bool:
        return client.is_delivered(self.manifest, sent)

    def trace(self, message_id: str) -> dict[str, Any] | None:
        """The API's trace of a message (None while the relayer has not seen it)."""
        response = httpx.get(f"{self.api}/v1/messages/{message_id}", timeout=5)
        return response.json() if response.status_code == 200 else None

    def wait_delivered(self, sent: SentMessage | Sequence[SentMessage], timeout: float | None = None) -> None:
        """Returns once every message is delivered; raises `DeliveryFailed` as soon as the relayer
        finally failed one (decoded reason), `NotDelivered` when `timeout` (default: long enough for
        the relayer's retries to end, orchestrator/settling.py) passes first."""
        pending = [sent] if isinstance(sent, SentMessage) else list(sent)
        timeout = settle_timeout(self.manifest) if timeout is None else timeout
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
                brief = (
                    {k: trace.get(k) for k in ("status", "attempts", "last_error", "revert_reason")} if trace else None
                )
                raise NotDelivered(
                    f"{len(pending)} message(s) not delivered after {timeout:.0f}s, e.g. {first.id}: {brief}"
                )
            time.sleep(0.02)

    def _raise_if_finally_failed(self, pending: Sequence[SentMessage]) -> None:
        ids = {s.id for s in pending}
        for status in ("failed", "invalid"):
            try:
                r = httpx.get(f"{self.api}/v1/messages", params={"status": status, "limit": 1000}, timeout=5)
                listed = r.json().get("messages", []) if r.status_code == 200 else []
            except (httpx.HTTPError, ValueError):  # the API is restarting: check again next round
                return
            for row in listed:
                if row.get("id") in ids:
                    trace = self.trace(row["id"]) or row
                    reason = trace.get("revert_reason") or trace.get("last_error") or "no reason recorded"
                    raise DeliveryFailed(reason, message_id=row["id"], status=status)

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

    # ------------------------------------------------------------ proven reads

    def read(
        self,
        chain: str | int,
        address: str,
        slot: str | int | None = None,
        *,
        mapping: str | None = None,
        erc20_balance: str | None = None,
        block: int | None = None,
        on: str | int | None = None,
    ) -> Any:
        """A storage slot of `chain`, proven on `on` (attested on demand): a ProvenRead with `value`,
        `block`, `state_root`, `account_proof`, `storage_proof` (orchestrator/reads.py)."""
        from orchestrator import reads

        key = reads.resolve_slot(slot, mapping, erc20_balance)
        return reads.read(self.manifest, chain, address, key, block=block, on=on)

    # ------------------------------------------------------------ manual relay

    def attest(
        self, chain: str | int, block_number: int, signers: Sequence[int] | None = None
    ) -> tuple[Attestation, list[bytes]]:
        """Sign `block_number` of `chain` with guardian keys from the manifest (default: a bare quorum)."""
        info = self.chain(chain)
        block = self.w3[info.name].eth.get_block(block_number)
        att = Attestation.from_block(info.chain_id, block)
        members = self.manifest.guardians.members
        chosen = signers if signers is not None else range(self.manifest.guardians.threshold)
        return att, [sign_attestation(att, members[i].private_key, self.manifest.instance_id or "") for i in chosen]

    def relay(self, sent: SentMessage | Sequence[SentMessage], from_account: int = 9) -> dict[str, Any]:
        """Deliver messages by hand: attest, prove, attestAndDeliverBatch, one transaction per
        (source, destination) pair. Returns the receipt (the last one for several pairs); a revert
        raises DeliveryFailed with the decoded reason."""
        batch = [sent] if isinstance(sent, SentMessage) else list(sent)
        if not batch:
            raise DevnetError("relay: no messages given")
        groups: dict[tuple[int, int], list[SentMessage]] = {}
        for s in batch:
            groups.setdefault((s.source, s.destination), []).append(s)
        receipt: dict[str, Any] = {}
        for group in groups.values():
            receipt = self._relay_pair(group, from_account)
        return receipt

    def _relay_pair(self, batch: list[SentMessage], from_account: int) -> dict[str, Any]:
        messages = [Message(s.source, s.destination, s.nonce, s.sender, s.recipient, s.payload) for s in batch]
        src, dst = self.chain(batch[0].source), self.chain(batch[0].destination)
        block_number = max(s.block for s in batch)
        att, signatures = self.attest(src.name, block_number)
        account_proof, storage_proofs = fetch_message_proofs(
            self.w3[src.name], self.addresses["MetalayerGateway"], messages, block_number
        )
        gateway = self.contract(dst.name, "MetalayerGateway")
        call = gateway.functions.attestAndDeliverBatch(
            att.as_tuple(), signatures, account_proof, [m.as_tuple() for m in messages], storage_proofs
        )
        sender = self.accounts[from_account].address
        try:  # the node picks the nonce: under the devnet's lock of the account, like every other sender
            with nonces.account_lock(nonces.lock_dir(self.manifest), dst.chain_id, sender):
                tx = call.transact({"from": sender})
        except (ContractLogicError, ValueError) as exc:
            raise DeliveryFailed(decode_revert(exc)) from None
        receipt = dict(self.w3[dst.name].eth.wait_for_transaction_receipt(tx, timeout=30))
        if receipt["status"] != 1:
            raise DeliveryFailed("delivery transaction reverted", tx.hex())
        return receipt
