"""The devnet as a library: send, wait, trace, read logs. The CLI and the pytest plugin both use it.

    sent = send_message(manifest, "rollup-a", "rollup-b", b"hi")     # -> SentMessage (id, nonce, block, tx)
    wait_delivered(manifest, sent, timeout=10)                         # -> True once isDelivered on the destination
    get_trace(manifest, message_id)                                    # API, else the relayer queue directly
    log_files(log_dir, service=None)                                   # {"relayer": Path, ...}
    tail(path, lines)                                                  # the last lines of one log

Arguments are typed values, never an argparse namespace: orchestrator/cli/messages.py adapts.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.chains.rpc import rpc
from services.common.manifest import Manifest

MESSAGE_ID = re.compile(r"^0x[0-9a-fA-F]{64}$")


class MessagingError(RuntimeError):
    """A user-facing failure of send/trace/logs (printed as one line by the CLI)."""


@dataclass(frozen=True)
class SentMessage:
    id: str
    source: int
    destination: int
    nonce: int
    block: int
    tx: str
    sender: str
    recipient: str
    sent_at: float  # local time the send's receipt was seen (mined)
    payload: bytes = b""


_ABIS: dict[str, Any] = {}


def _gateway(manifest: Manifest) -> tuple[str, Any]:
    from services.common.abi import Abi

    if "gw" not in _ABIS:
        _ABIS["gw"] = Abi(manifest.abi("MetalayerGateway"))
    return manifest.address("MetalayerGateway"), _ABIS["gw"]


def parse_payload(text: str) -> bytes:
    if text.startswith("0x"):
        try:
            return bytes.fromhex(text[2:])
        except ValueError:
            raise MessagingError(f"payload {text!r} starts with 0x but is not hex") from None
    return text.encode()


def send_message(manifest: Manifest, source: str | int, destination: str | int, payload: bytes,
                 recipient: str | None = None, account: int = 0, timeout: float = 30.0) -> SentMessage:
    """Send one message through the source gateway from dev account `account` and wait for it to be mined."""
    from services.common.tx import Signer
    from services.protocol.erc7930 import encode_evm

    try:
        src, dst = manifest.chain(source), manifest.chain(destination)
    except KeyError as exc:
        raise MessagingError(str(exc.args[0])) from None
    if src.chain_id == dst.chain_id:
        raise MessagingError("source and destination are the same chain")
    if recipient is None:
        if "CrossChainCounter" not in manifest.contracts:
            raise MessagingError("no --recipient given and no example CrossChainCounter in the manifest")
        recipient = manifest.address("CrossChainCounter")
    if not re.fullmatch(r"0x[0-9a-fA-F]{40}", recipient):
        raise MessagingError(f"recipient {recipient!r} is not a 0x address")
    if not 0 <= account < len(manifest.accounts):
        raise MessagingError(f"account {account}: the devnet has {len(manifest.accounts)} dev accounts")
    gateway, abi = _gateway(manifest)
    signer = Signer(manifest.accounts[account].private_key)
    data = abi.encode("sendMessage", encode_evm(dst.chain_id, recipient), payload, [])
    nonce = int(str(rpc(src.rpc_url, "eth_getTransactionCount", [signer.address, "pending"])), 16)
    try:
        gas = int(str(rpc(src.rpc_url, "eth_estimateGas", [{"from": signer.address, "to": gateway,
                                                            "data": "0x" + data.hex()}])), 16)
    except RuntimeError as exc:
        raise MessagingError(f"sendMessage would revert on {src.name}: {exc}") from None
    raw, tx_hash = signer.sign_1559(src.chain_id, nonce, gateway, data, gas * 2, 100 * 10**9, 10**9)
    rpc(src.rpc_url, "eth_sendRawTransaction", ["0x" + raw.hex()])
    deadline = time.monotonic() + timeout
    while True:
        receipt = rpc(src.rpc_url, "eth_getTransactionReceipt", [tx_hash])
        if receipt is not None:
            break
        if time.monotonic() > deadline:
            raise MessagingError(f"send transaction {tx_hash} not mined after {timeout:.0f}s")
        time.sleep(0.01)
    sent_at = time.time()
    if int(receipt["status"], 16) != 1:
        raise MessagingError(f"send transaction {tx_hash} reverted on {src.name}")
    for lg in receipt["logs"]:
        decoded = abi.decode_log(lg)
        if decoded and decoded[0] == "MessageCommitted":
            args = decoded[1]
            return SentMessage("0x" + bytes(args["sendId"]).hex(), src.chain_id, dst.chain_id, int(args["nonce"]),
                               int(lg["blockNumber"], 16), tx_hash, args["sender"], args["recipient"], sent_at, payload)
    raise MessagingError(f"send transaction {tx_hash} emitted no MessageCommitted")


def is_delivered(manifest: Manifest, message: SentMessage) -> bool:
    gateway, abi = _gateway(manifest)
    dst = manifest.chain(message.destination)
    out = rpc(dst.rpc_url, "eth_call", [{"to": gateway, "data": "0x" + abi.encode("isDelivered", message.source,
                                                                                   message.nonce).hex()}, "latest"])
    return bool(abi.decode_output("isDelivered", str(out))[0])


def wait_delivered(manifest: Manifest, message: SentMessage, timeout: float = 30.0, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if is_delivered(manifest, message):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)


def get_trace(manifest: Manifest, message_id: str) -> dict[str, Any] | None:
    """The message's trace from the API; if the API does not answer, from the relayer's queue file."""
    url = f"{manifest.services.api or f'http://127.0.0.1:{manifest.api.port}'}/v1/messages/{message_id}"
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise MessagingError(f"API error {exc.code}: {exc.read().decode(errors='replace')}") from None
    except (urllib.error.URLError, OSError):
        pass
    from services.api.traces import trace_from_row
    from services.relayer.queue import QueueReader

    row = QueueReader(manifest.run_dir / "relayer.sqlite").get(message_id)
    return trace_from_row(row, {c.chain_id: c.name for c in manifest.chains}) if row else None


def wait_trace(manifest: Manifest, message_id: str, status: str, timeout: float = 3.0) -> dict[str, Any] | None:
    """The trace once it shows `status` (the relayer records a receipt just after the chain has it);
    the last trace seen when the timeout passes."""
    deadline = time.monotonic() + timeout
    while True:
        found = get_trace(manifest, message_id)
        if (found and found["status"] == status) or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def check_message_id(text: str) -> str:
    mid = text.strip()
    if not MESSAGE_ID.fullmatch(mid):
        raise MessagingError(f"malformed message id {mid!r}: expected 0x followed by 64 hex digits")
    return mid


def log_files(log_dir: Path, service: str | None = None) -> dict[str, Path]:
    """Every service's log in log_dir by name (or only `service`'s)."""
    files = {p.stem: p for p in sorted(log_dir.glob("*.log"))} if log_dir.is_dir() else {}
    if not files:
        raise MessagingError(f"no logs in {log_dir}: is the devnet up?")
    if service:
        if service not in files:
            raise MessagingError(f"no service {service!r} (logs: {', '.join(files)})")
        files = {service: files[service]}
    return files


def tail(path: Path, lines: int) -> list[str]:
    return path.read_text(errors="replace").splitlines()[-lines:] if lines > 0 else []
