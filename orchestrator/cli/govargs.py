"""What `devnet roles`, `devnet gov` and `devnet time` share: leaf parsers, the manifest, keys, output.

leaf(sub, "grant", cmd, "help")   a sub-command accepting --config/--manifest after its name
manifest_of(args)                 the running devnet's manifest
key_of(manifest, "3")             dev account 3's private key ("deployer" for the bootstrap key)
emit(args, data, text)            `text` lines, or `data` as JSON with --json
@one_line                         bad input / refused transaction -> CliError (one line, exit 1)
"""

from __future__ import annotations

import argparse
import functools
import json
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import ModuleType
from typing import Any

import requests

from orchestrator.cli.common import CliError, add_command, find_devnet
from orchestrator.cli.output import printable
from services.common import manifest as models

Command = Callable[[argparse.Namespace], int]


def leaf(sub: Any, name: str, fn: Command, help: str, *, json_flag: bool = True) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help, description=help)
    # SUPPRESS: given here or before the sub-command, never reset by the other
    p.add_argument("--config", default=argparse.SUPPRESS, help="topology file (default: ./devnet.toml or built-in)")
    p.add_argument("--manifest", default=argparse.SUPPRESS, help="manifest of the devnet (default: from the config)")
    p.add_argument(
        "--state-dir", default=argparse.SUPPRESS, help="the devnet's state directory (default: the running one)"
    )
    if json_flag:
        p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=one_line(fn))
    return p


def group(subparsers: Any, name: str, help: str) -> Any:
    """`devnet <name> ACTION`: the command (added like every other) and its sub-command parsers."""
    parser = add_command(subparsers, name, _usage, help)
    parser.add_argument("--manifest", help="manifest of the devnet (default: from the config)")
    return parser.add_subparsers(dest=f"{name}_command", required=True, metavar="ACTION")


def _usage(args: argparse.Namespace) -> int:  # unreachable: the sub-command is required
    raise CliError("missing sub-command")


def governance_client() -> ModuleType:
    """services.governance.client, imported when a command runs: web3 would slow every `devnet` start."""
    from services.governance import client

    return client


def manifest_of(args: argparse.Namespace) -> models.Manifest:
    given = getattr(args, "manifest", None)
    return models.load(Path(given) if given else find_devnet(args).manifest)


def key_of(manifest: models.Manifest, account: str) -> str:
    """`account`: a dev account index, or "deployer" (the bootstrap key)."""
    if account == "deployer":
        if manifest.keys.deployer is None:
            raise CliError("the manifest has no deployer key")
        return manifest.keys.deployer.private_key
    try:
        return manifest.accounts[int(account)].private_key
    except (ValueError, IndexError):
        raise CliError(
            f"--account {account!r}: use a dev account index 0..{len(manifest.accounts) - 1} or 'deployer'"
        ) from None


def proposal_id(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise CliError(f"bad proposal id {text!r}: a decimal number or 0x hex") from None
    if not 0 <= value < 2**256:
        raise CliError(f"bad proposal id {text!r}: out of range")
    return value


def era_amount(text: str) -> int:
    """ "1000" or "0.5" ERA -> wei; "123wei" as is."""
    try:
        if text.endswith("wei"):
            return int(text[:-3])
        wei = Decimal(text) * 10**18
    except (ValueError, InvalidOperation):
        raise CliError(f"bad amount {text!r}: ERA such as 1000 or 0.5, or wei such as 123wei") from None
    if wei <= 0 or wei != wei.to_integral_value():
        raise CliError(f"bad amount {text!r}: positive, at most 18 decimals")
    return int(wei)


def emit(args: argparse.Namespace, data: Any, lines: list[str]) -> int:
    text = "\n".join(printable(line) for line in lines)  # a description or reason from the chain: one line each
    print(json.dumps(data, indent=2, default=str) if getattr(args, "json", False) else text)
    return 0


def one_line(fn: Command) -> Command:
    """GovernanceError and argument errors are ValueErrors; an unreachable chain is a requests error."""

    @functools.wraps(fn)
    def run(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except ValueError as exc:
            raise CliError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
        except requests.exceptions.ConnectionError:
            raise CliError("a chain does not answer: is the devnet up? (`devnet status`)") from None

    return run
