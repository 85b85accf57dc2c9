"""`devnet send`, `devnet trace`, `devnet logs`: plain functions over parsed arguments.

    send(args) -> int      args: source, destination, payload, recipient, account, wait, timeout [, config, manifest]
    trace(args) -> int     args: message_id [, config, manifest]
    logs(args) -> int      args: service, follow, lines [, config]

Also usable from tests and scripts:

    sent = send_message(manifest, "rollup-a", "rollup-b", b"hi")     # -> SentMessage (id, nonce, block, tx)
    wait_delivered(manifest, sent, timeout=10)                         # -> True once isDelivered on the destination
    get_trace(manifest, message_id)                                    # API, else the relayer queue directly
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from orchestrator.chains import rpc

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


def _manifest(args: argparse.Namespace) -> Any:
    from services.common import manifest as manifest_mod

    path = getattr(args, "manifest", None)
    if path is None:
        from orchestrator.cli import resolve_config, state_dir

        path = state_dir(resolve_config(args)) / "manifest.json"
    return manifest_mod.load(path)


_ABIS: dict[str, Any] = {}


def _gateway(manifest: Any) -> tuple[str, Any]:
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


def send_message(manifest: Any, source: str | int, destination: str | int, payload: bytes,
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
    if int(receipt["status"], 16) != 1:  # type: ignore[index]
        raise MessagingError(f"send transaction {tx_hash} reverted on {src.name}")
    for lg in receipt["logs"]:  # type: ignore[index]
        decoded = abi.decode_log(lg)
        if decoded and decoded[0] == "MessageCommitted":
            args = decoded[1]
            return SentMessage("0x" + bytes(args["sendId"]).hex(), src.chain_id, dst.chain_id, int(args["nonce"]),
                               int(lg["blockNumber"], 16), tx_hash, args["sender"], args["recipient"], sent_at, payload)
    raise MessagingError(f"send transaction {tx_hash} emitted no MessageCommitted")


def is_delivered(manifest: Any, message: SentMessage) -> bool:
    gateway, abi = _gateway(manifest)
    dst = manifest.chain(message.destination)
    out = rpc(dst.rpc_url, "eth_call", [{"to": gateway, "data": "0x" + abi.encode("isDelivered", message.source,
                                                                                   message.nonce).hex()}, "latest"])
    return bool(abi.decode_output("isDelivered", str(out))[0])


def wait_delivered(manifest: Any, message: SentMessage, timeout: float = 30.0, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if is_delivered(manifest, message):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)


def get_trace(manifest: Any, message_id: str) -> dict[str, Any] | None:
    """The message's trace from the API; if the API does not answer, from the relayer's queue file."""
    url = f"{manifest.services.get('api') or f'http://127.0.0.1:{manifest.api.port}'}/v1/messages/{message_id}"
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


# ---------------------------------------------------------------- CLI commands


def send(args: argparse.Namespace) -> int:
    from services.api.traces import format_trace

    m = _manifest(args)
    msg = send_message(m, args.source, args.destination, parse_payload(args.payload),
                       recipient=getattr(args, "recipient", None), account=getattr(args, "account", 0))
    print(f"sent {msg.id}")
    print(f"  {m.chain(msg.source).name} -> {m.chain(msg.destination).name}, nonce {msg.nonce}, "
          f"block {msg.block}, tx {msg.tx}")
    if not getattr(args, "wait", False):
        return 0
    timeout = getattr(args, "timeout", 30.0)
    if not wait_delivered(m, msg, timeout=timeout):
        t = get_trace(m, msg.id)
        detail = f": {t.get('last_error')}" if t and t.get("last_error") else ""
        print(f"not delivered after {timeout:.0f}s{detail}", file=sys.stderr)
        return 1
    t = None
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:  # the relayer records the receipt right after the chain does
        t = get_trace(m, msg.id)
        if t and t["status"] == "delivered":
            break
        time.sleep(0.02)
    print(format_trace(t) if t else "delivered")
    return 0


def trace(args: argparse.Namespace) -> int:
    from services.api.traces import format_trace

    mid = args.message_id.strip()
    if not MESSAGE_ID.fullmatch(mid):
        raise MessagingError(f"malformed message id {mid!r}: expected 0x followed by 64 hex digits")
    t = get_trace(_manifest(args), mid)
    if t is None:
        raise MessagingError(f"unknown message id {mid}")
    print(format_trace(t))
    return 0


def logs(args: argparse.Namespace) -> int:
    from orchestrator.supervisor import follow_logs

    if getattr(args, "manifest", None):
        log_dir = _manifest(args).run_dir.parent / "logs"
    else:
        from orchestrator.cli import resolve_config, state_dir

        log_dir = state_dir(resolve_config(args)) / "logs"
    files = {p.stem: p for p in sorted(log_dir.glob("*.log"))} if log_dir.is_dir() else {}
    if not files:
        raise MessagingError(f"no logs in {log_dir}: is the devnet up?")
    service = getattr(args, "service", None)
    if service:
        if service not in files:
            raise MessagingError(f"no service {service!r} (logs: {', '.join(files)})")
        files = {service: files[service]}
    width = max(len(n) for n in files)
    lines = getattr(args, "lines", 50)
    try:
        for name, path in files.items():
            for line in path.read_text(errors="replace").splitlines()[-lines:] if lines > 0 else []:
                print(f"{name.ljust(width)} | {line}")
        sys.stdout.flush()
        if getattr(args, "follow", False):
            follow_logs(files, threading.Event(), sys.stdout)
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:  # `devnet logs | head`
        try:
            sys.stdout = open("/dev/null", "w")  # noqa: SIM115 - silence the flush at exit
        except OSError:
            pass
    return 0
