"""`devnet roles grant|revoke ROLE ACCOUNT`, `devnet roles show ACCOUNT` (docs/GOVERNANCE.md).

A role is granted or revoked on the hub's CrosschainAccessManager (by the bootstrap key unless
--account names another admin); the hub mirrors it to every rollup as gateway messages. `show`
reads every chain's manager, lists the rollups that have not applied the hub's newest change of a
role (by its version) and the role messages not yet executed on a rollup.
"""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING, Any

from orchestrator.cli.common import CliError
from orchestrator.cli.govargs import emit, governance_client, group, key_of, leaf, manifest_of

if TYPE_CHECKING:
    from services.common.manifest import Manifest


def register(subparsers: Any) -> None:
    sub = group(subparsers, "roles", "cross-chain roles: grant or revoke on the hub, mirrored to every rollup")
    for name, fn, verb in (("grant", grant, "grant ROLE to ACCOUNT"), ("revoke", revoke, "revoke ROLE from ACCOUNT")):
        p = leaf(sub, name, fn, f"{verb} on the hub; every rollup follows within the message latency")
        p.add_argument("role", metavar="ROLE", help="ADMIN, DAPP_OPERATOR, PUBLIC or a role number")
        p.add_argument("account", metavar="ACCOUNT", help="0x address")
        p.add_argument(
            "--account",
            dest="signer",
            default="deployer",
            help="who sends: dev account index or 'deployer' (default, the bootstrap hub admin)",
        )
        p.add_argument("--wait", action="store_true", help="wait until every rollup executed the change")
        p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait with --wait (default 30)")
        if name == "grant":
            p.add_argument("--delay", type=int, default=0, help="AccessManager execution delay in seconds")
    show = leaf(sub, "show", cmd_show, "ACCOUNT's roles on every chain, and role changes still in flight")
    show.add_argument("account", metavar="ACCOUNT", help="0x address")


def grant(args: argparse.Namespace) -> int:
    gc = governance_client()
    m = manifest_of(args)
    if args.delay < 0:
        raise CliError("--delay: seconds >= 0")
    ids = gc.grant_role(m, args.role, args.account, key_of(m, args.signer), args.delay)
    return _changed(args, m, "granted", ids)


def revoke(args: argparse.Namespace) -> int:
    gc = governance_client()
    m = manifest_of(args)
    return _changed(args, m, "revoked", gc.revoke_role(m, args.role, args.account, key_of(m, args.signer)))


def _changed(args: argparse.Namespace, m: Manifest, verb: str, ids: list[str]) -> int:
    gc = governance_client()
    if args.wait:
        _wait(m, ids, args.timeout)
    role = gc.role_id(args.role)
    data = {"role": role, "account": args.account, "action": verb, "messages": ids, "propagated": args.wait}
    lines = [f"{verb} role {args.role} ({role}) for {args.account} on {m.hub.name}"]
    lines += [f"  mirrored to the rollups by message {i}" for i in ids]
    if args.wait:
        lines.append("  executed on every rollup")
    return emit(args, data, lines)


def _wait(m: Manifest, ids: list[str], timeout: float) -> None:
    gc = governance_client()
    deadline = time.monotonic() + timeout
    while True:
        pending = {i for chain_ids in gc.pending_role_messages(m).values() for i in chain_ids}
        if not pending & set(ids):
            return
        if time.monotonic() > deadline:
            late = ", ".join(sorted(pending & set(ids)))
            raise CliError(f"not executed on every rollup after {timeout:.0f}s: {late}")
        time.sleep(0.2)


def cmd_show(args: argparse.Namespace) -> int:
    gc = governance_client()
    status = gc.role_status(manifest_of(args), args.account)
    roles = list(next(iter(status["chains"].values())))
    lines = [f"roles of {status['account']}", "  " + "  ".join(["chain".ljust(10), *roles])]
    for chain, held in status["chains"].items():
        marks = ["yes".ljust(len(r)) if held[r] else "-".ljust(len(r)) for r in roles]
        lines.append("  " + "  ".join([chain.ljust(10), *marks]).rstrip())
    behind = status["behind"]
    lines.append("rollups behind the hub: " + ("none" if not behind else ""))
    lines += [f"  {chain}: {', '.join(late)}" for chain, late in behind.items()]
    pending = status["pending"]
    lines.append("pending role changes: " + ("none" if not pending else ""))
    lines += [f"  {chain}: {', '.join(ids)}" for chain, ids in pending.items()]
    return emit(args, status, lines)
