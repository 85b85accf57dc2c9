"""`devnet send`, `trace`, `messages`, `retry`: parsed arguments in, the client library's calls out.

send(args) -> int       source, destination, payload | sig + args, recipient, account, wait, timeout, json
trace(args) -> int      message_id, json
messages(args) -> int   status, source, destination, limit, json
retry(args) -> int      message_id, json
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from orchestrator.cli.common import CliError, add_command, count, find_devnet, positive_seconds
from orchestrator.cli.logs import logs
from orchestrator.cli.output import clean, emit_json, error_line, printable, status_label
from orchestrator.payloads import PayloadError, call_payload, payload_from_arg
from services.relayer.queue.schema import STATUSES

if TYPE_CHECKING:  # the client library (web3 stack) loads only when a command runs: `--help` stays fast
    from orchestrator.client import SentMessage
    from services.common.manifest import Manifest

__all__ = ["logs", "messages", "register", "retry", "send", "trace"]


def __getattr__(name: str) -> Any:
    # MessagingError lives in the client library, loaded only when asked for (it imports the web3 stack)
    if name == "MessagingError":
        from orchestrator.client import MessagingError

        return MessagingError
    raise AttributeError(name)


def register(subparsers: Any) -> None:
    s = add_command(subparsers, "send", send, "send a cross-chain message", json=True)
    s.add_argument("--from", dest="source", required=True, help="source chain (name or id)")
    s.add_argument("--to", dest="destination", required=True, help="destination chain (name or id)")
    s.add_argument("--payload", help="0x-hex, @FILE, - (stdin), or text sent as UTF-8 (default: empty)")
    s.add_argument("--sig", help='a call as payload, cast-style: --sig "increment(uint256)" 7')
    s.add_argument("args", nargs="*", help="the --sig call's arguments (arrays as JSON: [1,2])")
    s.add_argument("--recipient", help="recipient address on the destination (default: the example counter)")
    s.add_argument("--account", type=count(0), default=0, help="index of the dev account that sends (default 0)")
    s.add_argument("--wait", action="store_true", help="wait until delivered or finally failed; show every attempt")
    s.add_argument(
        "--timeout",
        type=positive_seconds,
        help="seconds to wait with --wait (default: as long as the relayer's retries can take; 65.5 with defaults)",
    )

    t = add_command(subparsers, "trace", trace, "a message's path and every delivery attempt, with reasons", json=True)
    t.add_argument("message_id", help="message id (0x + 64 hex)")

    m = add_command(subparsers, "messages", messages, "list messages, newest first", json=True)
    m.add_argument("--status", choices=STATUSES, help="only messages in this state")
    m.add_argument("--from", dest="source", help="only from this chain")
    m.add_argument("--to", dest="destination", help="only to this chain")
    m.add_argument("-n", "--limit", type=count(1, 1000), default=20, help="at most this many (default 20)")

    r = add_command(subparsers, "retry", retry, "deliver a failed message again now", json=True)
    r.add_argument("message_id", help="message id (0x + 64 hex)")


def _manifest(args: argparse.Namespace) -> Manifest:
    """The devnet's manifest: `args.manifest` when a caller (a test) names one, else the devnet found."""
    from services.common import manifest as models

    given = getattr(args, "manifest", None)
    return models.load(given if given is not None else find_devnet(args).manifest)


def _payload(args: argparse.Namespace) -> bytes:
    sig, call_args = getattr(args, "sig", None), getattr(args, "args", None) or []
    try:
        if sig is not None:
            if args.payload is not None:
                raise PayloadError("give either --payload or --sig, not both")
            return call_payload(sig, call_args)
        if call_args:
            raise PayloadError(f"unexpected arguments {' '.join(call_args)} (they belong to --sig)")
        return payload_from_arg(args.payload or "0x", stdin=sys.stdin.buffer)
    except PayloadError as exc:
        raise CliError(str(exc)) from None


def _sent_doc(m: Manifest, msg: SentMessage) -> dict[str, Any]:
    return {
        "id": msg.id,
        "source": m.chain(msg.source).name,
        "destination": m.chain(msg.destination).name,
        "nonce": msg.nonce,
        "block": msg.block,
        "tx": msg.tx,
        "sender": msg.sender,
        "recipient": msg.recipient,
        "payload_bytes": len(msg.payload),
    }


def send(args: argparse.Namespace) -> int:
    from orchestrator import client
    from orchestrator.settling import settle_timeout

    payload = _payload(args)
    m = _manifest(args)
    msg = client.send_message(m, args.source, args.destination, payload, recipient=args.recipient, account=args.account)
    if not getattr(args, "json", False):
        print(f"sent {msg.id}")
        print(
            f"  {m.chain(msg.source).name} -> {m.chain(msg.destination).name}, nonce {msg.nonce}, "
            f"block {msg.block}, tx {msg.tx}",
            flush=True,
        )
    if not args.wait:
        if getattr(args, "json", False):
            emit_json(_sent_doc(m, msg))
        return 0
    timeout = getattr(args, "timeout", None) or settle_timeout(m)  # by default `failed` must be reachable
    t = client.wait_settled(m, msg, timeout=timeout)
    status = t["status"] if t else "unknown"
    if getattr(args, "json", False):
        emit_json({**_sent_doc(m, msg), "status": status, "trace": t})
    elif t:
        print(format_trace(t))
    if status == "delivered":
        return 0
    reason = (t or {}).get("revert_reason") or (t or {}).get("last_error")
    why = f": {reason}" if reason else ""
    if status in ("failed", "invalid"):
        print(error_line(f"message {status}{why}"), file=sys.stderr)
    else:
        print(error_line(f"not delivered after {timeout:g}s (status {status}){why}"), file=sys.stderr)
    return 1


def format_trace(t: dict[str, Any]) -> str:
    """The API's trace text, then one line per delivery attempt with its decoded reason."""
    from services.api.traces import format_trace as base

    t = clean(t)  # reasons are chain data: a revert string may hold newlines or terminal escapes
    text = base(t).replace(f"status     {t['status']}", f"status     {status_label(t['status'])}", 1)
    attempts = t.get("attempt_log") or []
    if not attempts:
        return text
    lines = [text, "  attempts"]
    for a in attempts:
        outcome = a.get("outcome") or "in flight"
        tx = f"  tx {a['tx']}" if a.get("tx") else ""
        reason = f"  {a['reason']}" if a.get("reason") else ""
        lines.append(f"    #{a.get('attempt')}  {status_label(outcome)}{tx}{reason}")
    return "\n".join(lines)


def trace(args: argparse.Namespace) -> int:
    from orchestrator import client

    mid = client.check_message_id(args.message_id).lower()
    t = client.get_trace(_manifest(args), mid)
    if t is None:
        raise client.MessagingError(f"unknown message id {mid}: no gateway sent it")
    if getattr(args, "json", False):
        emit_json(t)
    else:
        print(format_trace(t))
    return 0


def messages(args: argparse.Namespace) -> int:
    from orchestrator import client

    found = client.list_messages(
        _manifest(args), status=args.status, source=args.source, destination=args.destination, limit=args.limit
    )
    if getattr(args, "json", False):
        emit_json(found)
        return 0
    from orchestrator.summary import table

    rows = []
    for t in found["messages"]:
        reason = t.get("revert_reason") or t.get("last_error") or ""
        rows.append(
            [
                t["id"],
                f"{t['source'].get('name')} -> {t['destination'].get('name')}",
                t["nonce"],
                status_label(t["status"]),
                t.get("attempts", 0),
                printable(reason)[:60],
            ]
        )
    if rows:
        print(table(["id", "route", "nonce", "status", "attempts", "reason"], rows))
    print(f"{len(rows)} of {found['total']} message(s)")
    return 0


def retry(args: argparse.Namespace) -> int:
    from orchestrator import client

    mid = client.check_message_id(args.message_id).lower()
    result = client.retry_message(_manifest(args), mid)
    if getattr(args, "json", False):
        emit_json(result)
    else:
        print(f"{mid}: {status_label(str(result.get('status')))} (the relayer delivers it again now)")
    return 0
