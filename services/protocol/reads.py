"""Proven cross-chain reads: one storage slot of one chain, proven against a guardian-attested root.

    reader = StateReader(manifest, reading_chain="hub", submitter_key=manifest.accounts[7].private_key)
    got = reader.read("rollup-a", token, erc20_balance_slot(holder))    # newest signable block
    got.value, got.block, got.state_root, got.account_proof, got.storage_proof, got.attested_now

The root must be in the reading chain's StateRootRegistry, where `MetalayerGateway.verifyStorage`
(and so a contract using IMetalayerStateReader) checks the proofs. A block whose root is not
there yet is attested on demand: a quorum of signatures from the guardians' HTTP
`/v1/attestations/{chain}/{block}` goes to `StateRootRegistry.submitAttestation`, sent by
`submitter_key`. The result is checked twice: locally (py-trie, inclusion and exclusion alike)
and by an eth_call of `verifyStorage` on the reading chain.

Blocking (httpx); the API runs it in its thread pool. Failures raise ReadError with one line.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from services.common import nonces
from services.common.abi import Abi, describe_error
from services.common.manifest import Manifest
from services.common.tx import Signer
from services.protocol.attestation import Attestation, recover_signer
from services.protocol.proofs import parse_proof
from services.protocol.slots import erc20_balance_slot, mapping_slot, to_word

# Concurrent reads (the API's thread pool) mostly read one newest block: checked and attested one at
# a time per reading chain, the first submits its root and the others find it stored (12 reads at
# once took 1.3 s so, 3.6 s each attesting). The submitter's nonce is guarded by the devnet's
# account lock (services/common/nonces.py), shared with the API's and the CLI's sends.
_ATTEST_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _attest_lock(rpc_url: str) -> threading.Lock:
    with _LOCKS_GUARD:
        return _ATTEST_LOCKS.setdefault(rpc_url, threading.Lock())


class ReadError(RuntimeError):
    """The read cannot be proven; the message says why (bad input, no quorum, a revert)."""


@dataclass(frozen=True)
class ProvenRead:
    chain_id: int
    address: str
    slot: bytes
    value: int
    block: int
    block_hash: bytes
    state_root: bytes
    storage_hash: bytes
    account_proof: list[bytes]
    storage_proof: list[bytes]
    reading_chain_id: int
    attested_now: bool  # this read submitted the attestation
    verified_locally: bool
    verified_onchain: bool
    onchain_error: str | None = None  # verifyStorage's revert, when it refused
    signers: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        hexes = lambda nodes: ["0x" + n.hex() for n in nodes]  # noqa: E731
        return {
            "chain_id": self.chain_id,
            "address": self.address,
            "slot": "0x" + self.slot.hex(),
            "value": "0x" + self.value.to_bytes(32, "big").hex(),
            "value_int": str(self.value),
            "block": self.block,
            "block_hash": "0x" + self.block_hash.hex(),
            "state_root": "0x" + self.state_root.hex(),
            "storage_hash": "0x" + self.storage_hash.hex(),
            "account_proof": hexes(self.account_proof),
            "storage_proof": hexes(self.storage_proof),
            "reading_chain_id": self.reading_chain_id,
            "attested_now": self.attested_now,
            "verified_locally": self.verified_locally,
            "verified_onchain": self.verified_onchain,
            "onchain_error": self.onchain_error,
            "signers": self.signers,
        }


def resolve_slot(
    slot: str | int | None = None,
    mapping_key: str | None = None,
    erc20_holder: str | None = None,
    erc20_layout: str = "oz",
) -> bytes:
    """The storage slot named by the CLI/API arguments (`--slot`, `--mapping`, `--erc20-balance`).

    ReadError for a wrong combination or a malformed value."""
    try:
        if erc20_holder is not None:
            if slot is not None or mapping_key is not None:
                raise ReadError("--erc20-balance computes the slot: give neither --slot nor --mapping")
            return erc20_balance_slot(erc20_holder, erc20_layout)
        if slot is None:
            raise ReadError("give --slot (with --mapping KEY for a mapping at that slot) or --erc20-balance HOLDER")
        return mapping_slot(mapping_key, slot) if mapping_key is not None else to_word(slot)
    except ValueError as exc:
        raise ReadError(str(exc)) from None


class StateReader:
    def __init__(
        self,
        manifest: Manifest,
        reading_chain: str | int | None = None,
        submitter_key: str | None = None,
        timeout: float = 10.0,
    ):
        self.m = manifest
        self.timeout = timeout
        self.registry_abi = Abi(manifest.abi("StateRootRegistry"))
        self.gateway_abi = Abi(manifest.abi("MetalayerGateway"))
        self.reading = manifest.chain(reading_chain) if reading_chain is not None else None
        self.submitter = Signer(submitter_key or manifest.accounts[min(7, len(manifest.accounts) - 1)].private_key)

    # ------------------------------------------------------------ the read

    def read(self, chain: str | int, address: str, slot: bytes, block: int | None = None) -> ProvenRead:
        src = self._chain(chain)
        dst = self.reading or next(c for c in self.m.chains if c.chain_id != src.chain_id)
        if dst.chain_id == src.chain_id:
            raise ReadError(f"the reading chain must differ from {src.name} (a chain does not attest itself)")
        number = self.newest_signable(src) if block is None else block
        att, bundle = self._proof(src, address, slot, number)
        if not bundle.verify(att.state_root) and block is None:
            # A chain started from a state dump (cached deployment, snapshot) reports its loaded head
            # with the dumped header's root, which its rebuilt trie does not reproduce; any block
            # mined after it is consistent. Newest-state reads move past it (a devnet may mine).
            for _ in range(self.m.guardians.confirmations + 1):
                self._rpc(src.rpc_url, "evm_mine", [])
            number = self.newest_signable(src)
            att, bundle = self._proof(src, address, slot, number)
        verified = bundle.verify(att.state_root)
        if not verified:
            raise ReadError(
                f"the proof of {src.name} block {number} does not match its state root "
                "(a block loaded from a state dump: read a later block)"
            )
        attested_now, signers = self.ensure_root(att, dst)
        value = bundle.storage_values[slot]
        onchain, error = self._verify_onchain(
            dst, att, bundle.address, slot, bundle.account_proof, bundle.storage_proof(slot), value
        )
        return ProvenRead(
            src.chain_id,
            bundle.address,
            slot,
            value,
            number,
            att.block_hash,
            att.state_root,
            bundle.storage_hash,
            bundle.account_proof,
            bundle.storage_proof(slot),
            dst.chain_id,
            attested_now,
            verified,
            onchain,
            error,
            signers,
        )

    def _proof(self, src: Any, address: str, slot: bytes, number: int) -> tuple[Attestation, Any]:
        header = self._rpc(src.rpc_url, "eth_getBlockByNumber", [hex(number), False])
        if header is None:
            raise ReadError(f"{src.name} has no block {number}")
        raw = self._rpc(src.rpc_url, "eth_getProof", [address, ["0x" + slot.hex()], hex(number)])
        return Attestation(src.chain_id, number, header["hash"], header["stateRoot"]), parse_proof(raw, number)

    def newest_signable(self, src: Any) -> int:
        head = int(self._rpc(src.rpc_url, "eth_blockNumber", []), 16)
        return max(0, head - self.m.guardians.confirmations)

    # ------------------------------------------------------------ attestation on demand

    def ensure_root(self, att: Attestation, dst: Any) -> tuple[bool, list[str]]:
        """Make sure the reading chain's registry holds `att`'s root; True if this call submitted it."""
        registry = self.m.address("StateRootRegistry")
        with _attest_lock(dst.rpc_url):  # reads of other processes may submit it too: a no-op on chain
            stored = self._call(dst.rpc_url, registry, self.registry_abi, "rootAt", att.chain_id, att.block_number)[0]
            if bytes(stored) == att.state_root:
                return False, []
            if bytes(stored) != b"\0" * 32:
                raise ReadError(f"chain {dst.name} holds another root for {att.chain_id}/{att.block_number}")
            signatures, signers = self.quorum(att)
            data = self.registry_abi.encode("submitAttestation", att.as_tuple(), signatures)
            self._send(dst, registry, data)
            return True, signers

    def quorum(self, att: Attestation) -> tuple[list[bytes], list[str]]:
        """`threshold` signatures of `att` from the guardians' HTTP API (each checked)."""
        members = {g.address.lower() for g in self.m.guardians.members}
        sigs: dict[str, bytes] = {}
        errors: list[str] = []
        for g in self.m.guardians.members:
            url = f"{g.url}/v1/attestations/{att.chain_id}/{att.block_number}?wait=5"
            try:
                doc = httpx.get(url, timeout=self.timeout).json()
                got = Attestation(att.chain_id, att.block_number, doc["block_hash"], doc["state_root"])
                if got != att:
                    errors.append(f"guardian {g.index} signed another block")
                    continue
                sig = bytes.fromhex(doc["signature"].removeprefix("0x"))
                signer = recover_signer(att, sig, self.m.instance_id or "").lower()
                if signer in members:
                    sigs[signer] = sig
            except (httpx.HTTPError, KeyError, ValueError) as exc:
                errors.append(f"guardian {g.index}: {type(exc).__name__}")
            if len(sigs) >= self.m.guardians.threshold:
                return list(sigs.values()), list(sigs)
        raise ReadError(
            f"no quorum for chain {att.chain_id} block {att.block_number}: {len(sigs)} of "
            f"{self.m.guardians.threshold} signatures ({'; '.join(errors) or 'no answer'})"
        )

    # ------------------------------------------------------------ plumbing

    def _verify_onchain(
        self,
        dst: Any,
        att: Attestation,
        address: str,
        slot: bytes,
        account_proof: list[bytes],
        storage_proof: list[bytes],
        value: int,
    ) -> tuple[bool, str | None]:
        gateway = self.m.address("MetalayerGateway")
        data = self.gateway_abi.encode(
            "verifyStorage", att.chain_id, att.block_number, address, slot, account_proof, storage_proof
        )
        try:
            out = self._rpc(dst.rpc_url, "eth_call", [{"to": gateway, "data": "0x" + data.hex()}, "latest"])
        except ReadError as exc:
            return False, str(exc)
        got = int.from_bytes(bytes(self.gateway_abi.decode_output("verifyStorage", out)[0]), "big")
        return got == value, None if got == value else f"verifyStorage returned {got}, eth_getProof {value}"

    def _chain(self, chain: str | int) -> Any:
        try:
            return self.m.chain(chain)
        except KeyError as exc:
            raise ReadError(str(exc.args[0])) from None

    def _call(self, url: str, to: str, abi: Abi, fn: str, *args: Any) -> tuple[Any, ...]:
        out = self._rpc(url, "eth_call", [{"to": to, "data": "0x" + abi.encode(fn, *args).hex()}, "latest"])
        return abi.decode_output(fn, out)

    def _send(self, chain: Any, to: str, data: bytes) -> None:
        call = {"from": self.submitter.address, "to": to, "data": "0x" + data.hex()}
        gas = int(self._rpc(chain.rpc_url, "eth_estimateGas", [call]), 16)
        tx_hash = nonces.broadcast(  # under the devnet's lock of the submitter, shared with every sender
            lambda method, params: self._rpc(chain.rpc_url, method, params),
            nonces.lock_dir(self.m),
            chain.chain_id,
            self.submitter.address,
            lambda nonce: self.submitter.sign_1559(chain.chain_id, nonce, to, data, gas * 3 // 2, 100 * 10**9, 10**9),
        )
        deadline = time.monotonic() + self.timeout * 3
        while (receipt := self._rpc(chain.rpc_url, "eth_getTransactionReceipt", [tx_hash])) is None:
            if time.monotonic() > deadline:
                raise ReadError(f"submitAttestation {tx_hash} not mined on {chain.name}")
            time.sleep(0.02)
        if int(receipt["status"], 16) != 1:
            raise ReadError(f"submitAttestation {tx_hash} reverted on {chain.name}")

    def _rpc(self, url: str, method: str, params: list[Any]) -> Any:
        try:
            resp = httpx.post(
                url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, timeout=self.timeout
            ).json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ReadError(f"{method} on {url}: {type(exc).__name__}: {exc}") from None
        if "error" in resp:
            err = resp["error"]
            data = err.get("data") if isinstance(err, dict) else None
            abis = (self.gateway_abi, self.registry_abi)
            reason = (
                describe_error(data, abis) if isinstance(data, str) and data.startswith("0x") else err.get("message")
            )
            raise ReadError(f"{method}: {reason}")
        return resp["result"]
