"""`devnet gov propose|vote|lock|delegate|execute|show|power`: ERA governance on the hub (docs/GOVERNANCE.md).

An action is cast-like: where, what, which function, its arguments.

    --action hub:MetalayerGateway:'setFeeConfig((uint128,uint128,uint16,uint16,uint16,address,address))' \\
             '[1000000000000,0,5000,3000,2000,"0x…","0x…"]'
    --action all:StateRootRegistry:'setGuardians(address[],uint256)' '["0x…","0x…","0x…","0x…"]' 3
    --file actions.json   # [{"chain": "rollup-a", "contract": "0x…", "signature": "f(uint256)", "args": [1]}, …]

CHAIN is a chain name or id, or `all` (the same call on every chain); CONTRACT a manifest name or a
0x address; arguments are typed by the signature (services/governance/args.py): integers as decimal,
0x hex or 1e18, tuples and arrays as JSON arrays. `CHAIN CONTRACT SIG ARGS…` as separate words works too.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.cli.common import CliError
from orchestrator.cli.govargs import emit, era_amount, governance_client, group, key_of, leaf, manifest_of, proposal_id
from services.governance.args import coerce

if TYPE_CHECKING:  # services.governance.client imports web3: loaded only when a command runs
    from services.common.manifest import Manifest
    from services.governance.client import Action

SUPPORT = {"against": 0, "for": 1, "abstain": 2}  # GovernorCountingSimple
MAX_FILE_BYTES = 1_000_000


def register(subparsers: Any) -> None:
    sub = group(subparsers, "gov", "ERA governance: one vote on the hub, execution on every chain")
    p = leaf(sub, "propose", cmd_propose, "submit a proposal whose actions may target any chain")
    p.add_argument("description", metavar="DESCRIPTION", help="what the proposal does (part of its id)")
    p.add_argument(
        "--action",
        nargs="+",
        action="append",
        default=[],
        metavar="ACTION",
        help="one call: CHAIN:CONTRACT:SIGNATURE then its arguments (repeatable)",
    )
    p.add_argument("--file", help="JSON file: a list of {chain, contract, signature, args} (or {actions: [...]})")
    _signer(p)
    p = leaf(sub, "vote", cmd_vote, "vote on an active proposal")
    p.add_argument("id", metavar="ID", help="proposal id")
    p.add_argument("support", choices=sorted(SUPPORT), help="for, against or abstain")
    p.add_argument("--reason", default="", help="reason stored with the vote")
    _signer(p)
    p = leaf(sub, "lock", cmd_lock, "lock ERA for at least the minimum duration: it counts twice")
    p.add_argument("amount", metavar="AMOUNT", help="ERA (1000, 0.5) or wei (123wei)")
    p.add_argument("duration", metavar="DURATION", help="how long: 7d, 2w, 604800")
    _signer(p)
    p = leaf(sub, "delegate", cmd_delegate, "activate ERA voting power (delegate to yourself or --to)")
    p.add_argument("--to", help="delegatee address (default: the account itself)")
    _signer(p)
    p = leaf(sub, "execute", cmd_execute, "execute a succeeded proposal on the hub and send its rollup actions")
    p.add_argument("id", metavar="ID", help="proposal id")
    _signer(p)
    p = leaf(sub, "show", cmd_show, "state, votes, quorum and each chain's execution of a proposal")
    p.add_argument("id", metavar="ID", help="proposal id")
    p = leaf(sub, "power", cmd_power, "an account's votes: delegated ERA plus twice its locked ERA")
    p.add_argument("account", metavar="ACCOUNT", help="0x address")


def _signer(p: argparse.ArgumentParser) -> None:
    p.add_argument("--account", default="0", help="who sends: dev account index (default 0) or 'deployer'")


# ---------------------------------------------------------------- actions


def parse_action(words: list[str], manifest: Manifest) -> list[Action]:
    """`CHAIN:CONTRACT:SIG ARG…` or `CHAIN CONTRACT SIG ARG…` -> actions (`all` = every chain)."""
    gc = governance_client()
    head = words[0].split(":", 2)
    if len(head) == 3 and "(" not in head[0] and "(" not in head[1]:
        (chain, contract, signature), args = head, words[1:]
    elif len(words) >= 3:
        (chain, contract, signature), args = words[:3], words[3:]
    else:
        raise CliError(f"--action {' '.join(words)!r}: use CHAIN:CONTRACT:SIGNATURE [ARG...]")
    values = coerce(signature, args)
    if chain == "all":
        return gc.every_chain(manifest, contract, signature, values)
    return [gc.Action(chain, contract, signature, values)]


def load_actions(path: str, manifest: Manifest) -> list[Action]:
    gc = governance_client()
    file = Path(path)
    try:
        if file.stat().st_size > MAX_FILE_BYTES:
            raise CliError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
        doc = json.loads(file.read_text())
    except OSError as exc:
        raise CliError(f"{path}: {exc.strerror}") from None
    except ValueError as exc:
        raise CliError(f"{path}: invalid JSON: {exc}") from None
    items = doc.get("actions") if isinstance(doc, dict) else doc
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise CliError(f"{path}: expected a list of {{chain, contract, signature, args}} objects")
    actions: list[Action] = []
    for n, item in enumerate(items):
        missing = {"chain", "contract", "signature"} - set(item)
        if missing:
            raise CliError(f"{path}: action {n}: missing {', '.join(sorted(missing))}")
        words = [str(item["chain"]), str(item["contract"]), str(item["signature"])]
        args = item.get("args", [])
        if not isinstance(args, list):
            raise CliError(f"{path}: action {n}: args must be a list")
        values = coerce(words[2], args)
        chains = [c.name for c in manifest.chains] if words[0] == "all" else [words[0]]
        actions += [gc.Action(c, words[1], words[2], values) for c in chains]
    return actions


# ---------------------------------------------------------------- commands


def cmd_propose(args: argparse.Namespace) -> int:
    gc = governance_client()
    m = manifest_of(args)
    actions = [a for words in args.action for a in parse_action(words, m)]
    if args.file:
        actions += load_actions(args.file, m)
    if not actions:
        raise CliError("a proposal needs at least one --action or a --file")
    pid = gc.propose(m, actions, args.description, key_of(m, args.account))
    chains = sorted({str(a.chain) for a in actions})
    data = {"id": pid, "id_hex": hex(pid), "actions": len(actions), "chains": chains}
    return emit(args, data, [f"proposal {pid}", f"  {len(actions)} action(s) on {', '.join(chains)}"])


def cmd_vote(args: argparse.Namespace) -> int:
    gc = governance_client()
    m = manifest_of(args)
    pid = proposal_id(args.id)
    weight = gc.vote(m, pid, SUPPORT[args.support], key_of(m, args.account), args.reason)
    return emit(
        args,
        {"id": pid, "support": args.support, "weight": weight},
        [f"voted {args.support} on {pid} with {weight} votes"],
    )


def cmd_lock(args: argparse.Namespace) -> int:
    gc = governance_client()
    m = manifest_of(args)
    amount, duration = era_amount(args.amount), gc.parse_duration(args.duration)
    locked, unlock = gc.lock(m, amount, duration, key_of(m, args.account))
    return emit(
        args,
        {"locked": locked, "unlock_time": unlock},
        [f"locked {locked} wei of ERA until {unlock} (counts twice from the next block)"],
    )


def cmd_delegate(args: argparse.Namespace) -> int:
    gc = governance_client()
    m = manifest_of(args)
    key = key_of(m, args.account)
    gc.delegate(m, key, args.to)
    return emit(args, {"delegated_to": args.to or "self"}, [f"delegated ERA votes to {args.to or 'self'}"])


def cmd_execute(args: argparse.Namespace) -> int:
    gc = governance_client()
    m = manifest_of(args)
    pid = proposal_id(args.id)
    chains = gc.execute(m, pid, key_of(m, args.account))
    return emit(args, {"id": pid, "chains": chains}, [f"executed {pid}", *_chain_lines(chains)])


def cmd_show(args: argparse.Namespace) -> int:
    gc = governance_client()
    status = gc.proposal_status(manifest_of(args), proposal_id(args.id))
    v = status["votes"]
    lines = [
        f"proposal {status['id']}: {status['state']}  ({status['description']})",
        f"  votes: for {v['for']}, against {v['against']}, abstain {v['abstain']}; quorum {status['quorum']}",
        f"  snapshot {status['snapshot']}, deadline {status['deadline']}, clock {status['clock']}",
        *_chain_lines(status["chains"]),
    ]
    return emit(args, status, lines)


def cmd_power(args: argparse.Namespace) -> int:
    gc = governance_client()
    power = gc.voting_power(manifest_of(args), args.account)
    line = f"votes {power['total']} (delegated ERA {power['era']}, locked ERA x2 {power['locked']})"
    return emit(args, power, [line])


def _chain_lines(chains: list[dict[str, Any]]) -> list[str]:
    return [
        f"  {c['chain']:<10} {c['state']}" + (f"  message {c['message_id']}" if c.get("message_id") else "")
        for c in chains
    ]
