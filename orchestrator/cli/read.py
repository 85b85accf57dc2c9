"""`devnet read`: one storage slot of one chain, proven against a guardian-attested root.

devnet read --chain rollup-a --address 0xTOKEN --erc20-balance 0xHOLDER [--on rollup-b]
devnet read --chain rollup-a --address 0xC --slot 3 --mapping 0xKEY [--block N] [--json]
"""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

from orchestrator.cli.common import CliError, add_command, count, find_devnet


def register(subparsers: Any) -> None:
    help = "read a storage slot of one chain, proven against an attested root"
    p = add_command(subparsers, "read", cmd_read, help, json=True)
    p.add_argument("--chain", required=True, help="the chain to read (name or id)")
    p.add_argument("--address", required=True, help="the contract whose storage is read")
    p.add_argument("--slot", help="storage slot (number or 0x-hex); with --mapping, the mapping's slot")
    p.add_argument("--mapping", metavar="KEY", help="read m[KEY] of the mapping m at --slot")
    p.add_argument("--erc20-balance", metavar="HOLDER", help="an OpenZeppelin 5 ERC20 balance of HOLDER")
    p.add_argument(
        "--erc20-layout",
        default="oz",
        choices=("oz", "oz-upgradeable"),
        help="oz: @openzeppelin/contracts (slot 0); oz-upgradeable: ERC-7201 namespace",
    )
    p.add_argument("--block", type=count(0), help="the block (default: the newest the guardians sign)")
    p.add_argument("--on", help="the chain that verifies (default: another chain, the hub first)")
    p.add_argument("--account", type=count(0), default=7, help="dev account that submits an attestation (default 7)")


def cmd_read(args: argparse.Namespace) -> int:
    from orchestrator import reads
    from orchestrator.manifest import load_manifest

    if not re.fullmatch(r"0x[0-9a-fA-F]{40}", args.address):
        raise CliError(f"--address {args.address!r} is not a 0x address")
    try:  # the arguments first: a mistake is named whether or not a devnet runs
        slot = reads.resolve_slot(args.slot, args.mapping, args.erc20_balance, args.erc20_layout)
    except reads.ReadError as exc:
        raise CliError(str(exc)) from None
    # a devnet started by a test (no pid file) is read too: its manifest is enough
    manifest_path = find_devnet(args, require_running=False).manifest
    if not manifest_path.is_file():
        raise CliError(f"no manifest at {manifest_path}: is the devnet up?")
    try:
        got = reads.read(
            load_manifest(manifest_path), args.chain, args.address, slot, args.block, args.on, args.account
        )
    except reads.ReadError as exc:
        raise CliError(str(exc)) from None
    if args.json:
        print(json.dumps(got.as_json(), indent=1))
        return 0
    how = "attested now" if got.attested_now else "already attested"
    checked = "verifyStorage ok" if got.verified_onchain else f"not verified on chain: {got.onchain_error}"
    print(f"{got.value} (0x{got.value:064x})")
    print(
        f"proven at block {got.block} of chain {got.chain_id} (root 0x{got.state_root.hex()}, {how} "
        f"on chain {got.reading_chain_id}); slot 0x{got.slot.hex()}; {checked}"
    )
    return 0 if got.verified_locally else 1
