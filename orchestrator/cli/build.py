"""`devnet compile`, `devnet deploy`, `devnet compose`: the build steps, one at a time."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from orchestrator.cli.common import CliError, add_command, positive_seconds, resolve_config


def register(subparsers: Any) -> None:
    comp = add_command(subparsers, "compile", cmd_compile, "compile contracts/src (cached)")
    comp.add_argument("--force", action="store_true", help="ignore the cache")

    dep = add_command(subparsers, "deploy", cmd_deploy, "deploy the contracts to running chains and write the manifest")
    dep.add_argument("--manifest", help="where to write the manifest (default .devnet/manifest.json)")
    dep.add_argument("--timeout", type=positive_seconds, default=60.0, help="seconds to wait for the chains")

    compose = add_command(subparsers, "compose", cmd_compose, "render docker-compose.yml from the config")
    compose.add_argument("--output", "-o", default="docker-compose.yml", help="file to write, or - for stdout")


def cmd_compile(args: argparse.Namespace) -> int:
    from orchestrator.build.compiler import compile_contracts

    result = compile_contracts(force=args.force)
    how = "cache hit" if result.cached else f"compiled with {result.compiler}"
    print(f"{len(result.artifacts)} contracts ({how}) in {result.seconds:.2f}s")
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    """Deploy to already-running chains and write the manifest (the compose one-shot deployer)."""
    from orchestrator import instance
    from orchestrator.chains.anvil import apply_block_times
    from orchestrator.chains.rpc import chain_id_of
    from orchestrator.deploy.deployer import deploy
    from orchestrator.intents_deploy import deploy_for_config
    from orchestrator.manifest import build_manifest, write_manifest

    config = resolve_config(args)
    deadline = time.monotonic() + args.timeout
    for chain in config.chains:
        while chain_id_of(chain.rpc_url) != chain.chain_id:
            if time.monotonic() > deadline:
                raise CliError(f"chain {chain.name} not answering on {chain.rpc_url}")
            time.sleep(0.1)
    result = deploy(config, log=print)
    contracts = {**result.manifest_section()}
    contracts.update(deploy_for_config(config, contracts, log=print))  # USDC, settlers: solvers need them
    apply_block_times(config.chains)
    manifest_path = Path(args.manifest) if args.manifest else config.state.manifest
    # a fresh instance id on every chain before the services start (docs/PROTOCOL.md)
    manifest = instance.bind(config, build_manifest(config, contracts))
    write_manifest(manifest_path, manifest)
    print(f"Deployed; manifest written to {manifest_path}")
    return 0


def cmd_compose(args: argparse.Namespace) -> int:
    from orchestrator.docker.render import render_compose

    text = render_compose(resolve_config(args))
    if args.output == "-":
        sys.stdout.write(text)
    else:
        write_output(args.output, text)
        print(f"wrote {args.output}")
    return 0


def write_output(name: str, text: str) -> None:
    """`--output NAME`, or one line saying why it cannot be written."""
    path = Path(name)
    try:
        path.write_text(text)
    except IsADirectoryError:
        raise CliError(f"--output {name!r}: is a directory; name a file (or - for stdout)") from None
    except FileNotFoundError:
        raise CliError(f"--output {name!r}: its directory does not exist ({path.resolve().parent})") from None
    except OSError as exc:
        raise CliError(f"--output {name!r}: cannot write it: {exc.strerror or exc}") from None
