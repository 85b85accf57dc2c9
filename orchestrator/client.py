"""The devnet as a library: send, wait, trace, read logs. The CLI and the pytest plugin both use it.

    sent = send_message(manifest, "rollup-a", "rollup-b", b"hi")     # -> SentMessage (id, nonce, block, tx)
    wait_delivered(manifest, sent, timeout=10)                         # -> True once isDelivered on the destination
    get_trace(manifest, message_id)                                    # API, else the relayer queue directly
    wait_settled(manifest, sent)                                       # trace once delivered or finally failed
    list_messages(manifest, status="failed", source="rollup-a")        # {"total", "messages": [trace, ...]}
    retry_message(manifest, message_id)                                # API, else the relayer: {"id", "status"}
    log_files(log_dir, service=None)                                   # {"relayer": Path, ...}
    tail(path, lines)                                                  # the last lines of one log

Arguments are typed values, never an argparse namespace: orchestrator/cli/messages.py adapts.
"""

from __future__ import annotations

import contextlib
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from orchestrator.chains.rpc import RpcError, rpc
from orchestrator.settling import settle_timeout
from services.common import nonces
from services.common.manifest import Manifest

MESSAGE_ID = re.compile(r"^0[xX][0-9a-fA-F]{64}$")  # either case, like the API


FINAL_STATES = ("delivered", "failed", "invalid")


class MessagingError(RuntimeError):
    """A user-facing failure of send/trace/logs (printed as one line by the CLI)."""


class ServiceDown(MessagingError):
    """Neither the API nor the relayer answered."""


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
    from orchestrator.payloads import PayloadError, payload_from_arg

    try:
        return payload_from_arg(text)
    except PayloadError as exc:
        raise MessagingError(str(exc)) from None


def _call(url: str, method: str, params: list[Any], chain: str) -> Any:
    """One JSON-RPC call; a chain that does not answer is one clear line, not a socket error."""
    try:
        return rpc(url, method, params)
    except RpcError:
        raise
    except OSError:
        raise MessagingError(f"chain {chain} does not answer on {url}: is the devnet running?") from None


def max_payload(manifest: Manifest) -> int | None:
    """The gateway's payload limit in bytes, when it has one (a MAX_PAYLOAD-like view)."""
    gateway, abi = _gateway(manifest)
    names = [
        f["name"]
        for f in manifest.abi("MetalayerGateway")
        if f.get("type") == "function"
        and not f.get("inputs")
        and "payload" in f.get("name", "").lower()
        and "max" in f["name"].lower()
    ]
    if not names:
        return None
    src = manifest.chains[0]
    out = _call(
        src.rpc_url, "eth_call", [{"to": gateway, "data": "0x" + abi.encode(names[0]).hex()}, "latest"], src.name
    )
    return int(abi.decode_output(names[0], str(out))[0])


def send_message(
    manifest: Manifest,
    source: str | int,
    destination: str | int,
    payload: bytes,
    recipient: str | None = None,
    account: int = 0,
    timeout: float = 30.0,
) -> SentMessage:
    """Send one message through the source gateway from dev account `account` and wait for it to be mined."""
    from services.common.attest import checksum_ok
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
    if not checksum_ok(recipient):  # `devnet intent` refuses it too: a mistyped address
        raise MessagingError(f"recipient {recipient!r} has a bad EIP-55 checksum")
    if not 0 <= account < len(manifest.accounts):
        raise MessagingError(f"account {account}: the devnet has {len(manifest.accounts)} dev accounts")
    gateway, abi = _gateway(manifest)
    limit = max_payload(manifest)
    if limit is not None and len(payload) > limit:
        raise MessagingError(f"payload is {len(payload)} bytes; the gateway accepts at most {limit}")
    signer = Signer(manifest.accounts[account].private_key)
    data = abi.encode("sendMessage", encode_evm(dst.chain_id, recipient), payload, [])
    try:
        gas = int(
            str(
                _call(
                    src.rpc_url,
                    "eth_estimateGas",
                    [{"from": signer.address, "to": gateway, "data": "0x" + data.hex()}],
                    src.name,
                )
            ),
            16,
        )
    except RpcError as exc:
        raise MessagingError(f"sendMessage would revert on {src.name}: {_revert_text(exc)}") from None
    tx_hash = nonces.broadcast(  # the nonce under a lock per account: parallel sends all land
        lambda method, params: _call(src.rpc_url, method, params, src.name),
        nonces.lock_dir(manifest),
        src.chain_id,
        signer.address,
        lambda nonce: signer.sign_1559(src.chain_id, nonce, gateway, data, gas * 2, 100 * 10**9, 10**9),
    )
    deadline = time.monotonic() + timeout
    while True:
        receipt = _call(src.rpc_url, "eth_getTransactionReceipt", [tx_hash], src.name)
        if receipt is not None:
            break
        if time.monotonic() > deadline:
            raise MessagingError(f"send transaction {tx_hash} not mined after {timeout:.0f}s")
        time.sleep(0.01)
    return sent_from_receipt(manifest, src.chain_id, receipt, payload, time.time())


def sent_from_receipt(
    manifest: Manifest, source: str | int, receipt: dict[str, Any], payload: bytes, sent_at: float
) -> SentMessage:
    """The message a mined sendMessage transaction committed (its MessageCommitted log)."""
    src = manifest.chain(source)
    tx_hash = receipt["transactionHash"]
    if int(receipt["status"], 16) != 1:
        raise MessagingError(f"send transaction {tx_hash} reverted on {src.name}")
    _, abi = _gateway(manifest)
    for lg in receipt["logs"]:
        decoded = abi.decode_log(lg)
        if decoded and decoded[0] == "MessageCommitted":
            args = decoded[1]
            return SentMessage(
                "0x" + bytes(args["sendId"]).hex(),
                src.chain_id,
                int(args["destinationChainId"]),
                int(args["nonce"]),
                int(lg["blockNumber"], 16),
                tx_hash,
                args["sender"],
                args["recipient"],
                sent_at,
                payload,
            )
    raise MessagingError(f"send transaction {tx_hash} emitted no MessageCommitted")


def is_delivered(manifest: Manifest, message: SentMessage) -> bool:
    gateway, abi = _gateway(manifest)
    dst = manifest.chain(message.destination)
    # by id, not by nonce: after a rewind of the source a new message reuses a delivered one's nonce
    args = (message.source, message.nonce, bytes.fromhex(message.id[2:]))
    data = "0x" + abi.encode("isMessageDelivered", *args).hex()
    out = _call(dst.rpc_url, "eth_call", [{"to": gateway, "data": data}, "latest"], dst.name)
    return bool(abi.decode_output("isMessageDelivered", str(out))[0])


def wait_delivered(manifest: Manifest, message: SentMessage, timeout: float = 30.0, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if is_delivered(manifest, message):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)


def _revert_text(exc: RpcError) -> str:
    """The node's message, with revert data decoded by every compiled artifact's errors."""
    data = exc.data if isinstance(exc.data, str) else None
    if data and data.startswith("0x"):
        from services.api.reasons import decode_reason

        return decode_reason(data) or str(exc)
    return str(exc)


def api_url(manifest: Manifest) -> str:
    return manifest.services.api or f"http://127.0.0.1:{manifest.api.port}"


def _api(manifest: Manifest, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
    """The API's answer, or None when it does not answer at all."""
    try:
        return httpx.request(method, f"{api_url(manifest)}{path}", timeout=5.0, **kwargs)
    except httpx.HTTPError:
        return None


def _error_text(resp: httpx.Response) -> str:
    try:
        doc = resp.json()
    except ValueError:
        return resp.text[:200]
    err = doc.get("error") if isinstance(doc, dict) else None
    if isinstance(err, dict):
        return str(err.get("message", err))
    return str(err or (doc.get("detail") if isinstance(doc, dict) else doc))


def _queue(manifest: Manifest) -> Any:
    from services.relayer.queue import QueueReader

    return QueueReader(manifest.run_dir / "relayer.sqlite")


def _names(manifest: Manifest) -> dict[int, str]:
    return {c.chain_id: c.name for c in manifest.chains}


def get_trace(manifest: Manifest, message_id: str) -> dict[str, Any] | None:
    """The message's trace (with `attempt_log`) from the API; if the API does not answer, from the
    relayer's queue file. None only when the message is really unknown."""
    resp = _api(manifest, "GET", f"/v1/messages/{message_id}")
    if resp is not None:
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise MessagingError(f"API error {resp.status_code}: {_error_text(resp)}")
        return dict(resp.json())
    from services.api.traces import trace_faults, trace_from_row

    row = _queue(manifest).get(message_id)
    if row is None:
        raise ServiceDown(
            f"the API does not answer on {api_url(manifest)} and the relayer's queue has no "
            f"message {message_id} (yet): is the devnet running?"
        )
    found = {**trace_from_row(row, _names(manifest)), "attempt_log": _queue(manifest).attempts(message_id)}
    return trace_faults(found, manifest.run_dir)


def wait_trace(manifest: Manifest, message_id: str, status: str, timeout: float = 3.0) -> dict[str, Any] | None:
    """The trace once it shows `status` (the relayer records a receipt just after the chain has it);
    the last trace seen when the timeout passes."""
    deadline = time.monotonic() + timeout
    while True:
        found = get_trace(manifest, message_id)
        if (found and found["status"] == status) or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def wait_settled(
    manifest: Manifest, message: SentMessage, timeout: float | None = None, interval: float = 0.05
) -> dict[str, Any] | None:
    """The trace as soon as the message is delivered or finally failed/invalid; the last one seen
    (or None) when `timeout` (default: the relayer's retries and a margin, settling.py) passes first."""
    deadline = time.monotonic() + (settle_timeout(manifest) if timeout is None else timeout)
    last: dict[str, Any] | None = None
    while True:
        if is_delivered(manifest, message):
            return wait_trace(manifest, message.id, "delivered")
        with contextlib.suppress(ServiceDown):  # the relayer has not queued it yet
            last = get_trace(manifest, message.id) or last
        if last is not None and last.get("status") in FINAL_STATES:
            return last
        if time.monotonic() > deadline:
            return last
        time.sleep(interval)


def list_messages(
    manifest: Manifest,
    status: str | None = None,
    source: str | None = None,
    destination: str | None = None,
    limit: int = 20,
) -> dict[str, Any]:
    """{"total", "messages": [trace, ...]} newest first, from the API, else the relayer's queue."""

    def chain_id(ref: str | None) -> int | None:
        if ref is None:
            return None
        try:
            return manifest.chain(ref).chain_id
        except KeyError as exc:
            raise MessagingError(str(exc.args[0])) from None

    src, dst = chain_id(source), chain_id(destination)
    params = {
        k: v for k, v in (("status", status), ("source", src), ("destination", dst), ("limit", limit)) if v is not None
    }
    resp = _api(manifest, "GET", "/v1/messages", params=params)
    if resp is not None:
        if resp.status_code != 200:
            raise MessagingError(f"API error {resp.status_code}: {_error_text(resp)}")
        doc = resp.json()
        return {"total": doc["total"], "messages": doc["messages"]}
    from services.api.traces import trace_from_row

    total, rows = _queue(manifest).list(source=src, destination=dst, status=status, limit=limit)
    return {"total": total, "messages": [trace_from_row(r, _names(manifest)) for r in rows]}


def retry_message(manifest: Manifest, message_id: str) -> dict[str, Any]:
    """Ask for a failed message to be delivered again now: through the API, else the relayer itself."""
    resp = _api(manifest, "POST", f"/v1/messages/{message_id}/retry")
    via = "API"
    if resp is None or resp.status_code == 503:
        relayer = manifest.services.relayer or f"http://127.0.0.1:{manifest.relayer.port}"
        try:
            resp = httpx.post(f"{relayer}/v1/messages/{message_id}/retry", timeout=5.0)
            via = "relayer"
        except httpx.HTTPError:
            raise ServiceDown(
                f"neither the API ({api_url(manifest)}) nor the relayer ({relayer}) answers: is the devnet running?"
            ) from None
    if resp.status_code == 404:
        raise MessagingError(f"unknown message id {message_id}")
    if resp.status_code != 200:
        raise MessagingError(f"cannot retry {message_id}: {_error_text(resp)} ({via} answered {resp.status_code})")
    return dict(resp.json())


def check_message_id(text: str) -> str:
    mid = text.strip()
    if not MESSAGE_ID.fullmatch(mid):
        raise MessagingError(f"malformed message id {mid!r}: expected 0x followed by 64 hex digits")
    return mid.lower()


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
