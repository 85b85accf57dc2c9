"""`devnet intent`: move tokens across chains by stating the outcome, through the devnet API.

    devnet intent move 100 USDC --from rollup-a --to rollup-b --recipient 0x…
    devnet intent "move 100 USDC from rollup-a to 0x… on rollup-b"
    devnet intent "move 100 USDC from rollup-a to rollup-b"     # to the paying account itself

Both forms become one POST /v1/intents (the API plans, checks and sends from a dev account);
the command prints the plan and the quote, then each stage (opened, filled, settled) as the
API sees it. Bad input is one `error:` line and exit 1, before anything is sent.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from orchestrator.cli.common import CliError, add_command
from orchestrator.cli.govargs import manifest_of
from services.common import manifest as models

SENTENCE = re.compile(
    r"^move\s+(?P<amount>\S+)\s+(?P<token>\S+)"
    r"(?:\s+from\s+(?P<source>\S+))?"
    r"(?:\s+to\s+(?P<recipient>\S+))?"
    r"(?:\s+on\s+(?P<destination>\S+))?$",
    re.IGNORECASE,
)
FINAL = ("settled", "refunded", "failed")
STAGES = ("opened", "filled", "settled", "refunded", "failed")


@dataclass(frozen=True)
class Wanted:
    amount: str
    token: str
    source: str | None
    destination: str | None
    recipient: str | None


def register(subparsers: Any) -> None:
    help = "move tokens to another chain: a solver fills it, or the canonical bridge"
    p = add_command(subparsers, "intent", cmd_intent, help)
    p.add_argument("words", nargs="+", help='"move 100 USDC" (with --from/--to/--recipient), or the whole sentence')
    p.add_argument("--from", dest="source", help="origin chain (name or id)")
    p.add_argument("--to", dest="destination", help="destination chain (name or id)")
    p.add_argument("--recipient", help="who receives it on the destination (0x + 40 hex; default: the paying account)")
    p.add_argument("--account", type=int, default=0, help="dev account that pays and signs (default 0)")
    p.add_argument("--gasless", action="store_true", help="sign an EIP-712 order; the devnet submits openFor")
    p.add_argument("--route", choices=("solver", "canonical"), help="force a route (default: the planner's)")
    p.add_argument(
        "--deadline",
        type=int,
        help="fill deadline, unix seconds (default: in 5 minutes; the solver route needs 15 s + block times)",
    )
    p.add_argument("--no-wait", action="store_true", help="print the plan and the id, do not follow it")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to follow the intent (default 60)")
    p.add_argument("--json", action="store_true", help="print the final intent as one JSON document")
    p.add_argument("--manifest", help=argparse.SUPPRESS)


def parse_words(words: list[str]) -> Wanted:
    """`move AMOUNT TOKEN [from CHAIN] [to ADDRESS] [on CHAIN]`, given as one string or as words."""
    text = " ".join(w.strip() for w in words)
    match = SENTENCE.match(text.strip())
    if match is None:
        raise CliError(f'cannot read {text!r}: expected "move AMOUNT TOKEN [from CHAIN] [to 0x… on CHAIN]"')
    g = match.groupdict()
    if g["recipient"] and not g["destination"] and not g["recipient"].lower().startswith("0x"):
        g["destination"], g["recipient"] = g["recipient"], None  # "to rollup-b": a chain, not a recipient
    return Wanted(g["amount"], g["token"], g["source"], g["destination"], g["recipient"])


def _merge(name: str, sentence: str | None, flag: str | None) -> str:
    if sentence and flag and sentence != flag:
        raise CliError(f"{name} given twice: {sentence!r} in the sentence and {flag!r} as a flag")
    value = sentence or flag
    if not value:
        raise CliError(
            f"missing {name}: add --{'from' if name == 'origin chain' else name.split()[0]} or say it in the sentence"
        )
    return value


def request_body(args: argparse.Namespace, manifest: models.Manifest) -> dict[str, Any]:
    w = parse_words(args.words)
    if args.account < 0:
        raise CliError(f"--account must be >= 0, got {args.account}")
    given = w.recipient or args.recipient
    if not given and args.account >= len(manifest.accounts):
        raise CliError(f"--account {args.account}: the devnet has {len(manifest.accounts)} dev accounts")
    body: dict[str, Any] = {
        "from_chain": _merge("origin chain", w.source, args.source),
        "to_chain": _merge("to chain", w.destination, args.destination),
        "token": w.token,
        "amount": w.amount,
        # none given: the paying account itself, on the destination
        "recipient": _merge("recipient", w.recipient, args.recipient)
        if given
        else manifest.accounts[args.account].address,
        "account": args.account,
        "gasless": args.gasless,
    }
    if args.route:
        body["route"] = args.route
    if args.deadline is not None:
        body["deadline"] = args.deadline
    return body


def _api(m: models.Manifest) -> str:
    if not m.services.api:
        raise CliError("the devnet runs without its API (started with --no-services?)")
    return m.services.api


def _answer(resp: httpx.Response) -> dict[str, Any]:
    try:
        doc = resp.json()
    except ValueError:
        raise CliError(f"the API answered HTTP {resp.status_code} without JSON") from None
    if resp.status_code >= 400:
        raise CliError(doc.get("error", {}).get("message") or f"HTTP {resp.status_code}")
    return doc


def cmd_intent(args: argparse.Namespace) -> int:
    manifest = manifest_of(args)  # --manifest, else the devnet found from any directory
    body = request_body(args, manifest)
    api = _api(manifest)
    with httpx.Client(timeout=60, trust_env=False) as http:
        try:
            answer = _answer(http.post(f"{api}/v1/intents", json=body))
        except httpx.HTTPError as exc:
            why = type(exc).__name__
            raise CliError(f"the devnet API at {api} does not answer ({why}): is the devnet up?") from None
        if not args.json:
            print(describe_plan(answer))
        if args.no_wait:
            if args.json:
                print(json.dumps(answer, indent=2))
            return 0
        final = follow(http, api, answer["id"], args.timeout, None if args.json else print)
    if args.json:
        print(json.dumps(final, indent=2))
    status = final["status"]
    if status not in FINAL and not args.json:
        print(f"still {status} after {args.timeout:.0f}s (follow it: GET {api}/v1/intents/{answer['id']})")
    return 0 if status == "settled" else 1


def describe_plan(answer: dict[str, Any]) -> str:
    q, plan = answer["quote"], answer["plan"]
    decimals = plan["token"]["decimals"]
    symbol = plan["token"]["symbol"]

    def units(raw: str) -> str:
        return f"{int(raw) / 10**decimals:g} {symbol}"

    solver = q.get("solver")
    fee = f"{units(q['solver_fee'])} (solver {solver['index']}, {solver['fee_bps']} bps)" if solver else "none"
    gas = ", ".join(f"{chain} {units_}" for chain, units_ in q["gas"].items())
    return "\n".join(
        [
            f"intent   {answer['id']}",
            f"move     {units(plan['amount'])} {plan['from_chain']['name']} -> {plan['recipient']} "
            f"on {plan['to_chain']['name']}",
            f"route    {answer['route']}: {answer['reason']}",
            f"quote    you pay {units(q['input_amount'])}, recipient gets {units(q['output_amount'])}; "
            f"solver fee {fee}",
            f"         ERA message fee {int(q['era_message_fee']) / 10**18:g} ERA ({q['era_fee_payer']}); gas {gas}; "
            f"expected {q['expected_seconds']} s",
        ]
    )


def follow(
    http: httpx.Client, api: str, intent_id: str, timeout: float, out: Callable[[str], Any] | None
) -> dict[str, Any]:
    """Poll GET /v1/intents/{id} until a final stage or `timeout`; print each new stage once."""
    shown: set[str] = set()
    deadline = time.monotonic() + timeout
    while True:
        doc = _answer(http.get(f"{api}/v1/intents/{intent_id}"))
        for stage, timing in doc["stages"].items():
            if stage in STAGES and stage not in shown and out is not None:
                since = timing["ms_since_opened"]
                out(f"{stage:<8} {'+' + format(since, '.0f') + ' ms' if since is not None else ''}".rstrip())
            shown.add(stage)
        if doc["status"] in FINAL or time.monotonic() > deadline:
            if doc.get("error") and out is not None:
                out(f"error    {doc['error']}")
            return doc
        time.sleep(0.05)
