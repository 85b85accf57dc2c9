"""What runs each Python service: the one source for its command, port and health URL.

    specs = service_specs(config, manifest_path)   # guardians, relayer, api, solvers, in start order
    spec.argv                                      # natively: this interpreter, -m module, args
    spec.command("python3", manifest=".devnet/manifest.json")   # the same command in the Docker image

The supervisor runs `argv`; docker/render.py renders `command(...)`, so both
modes start the same modules with the same arguments.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from orchestrator.config import DevnetConfig, local_url


@dataclass(frozen=True)
class ServiceSpec:
    name: str  # "guardian-0", "relayer", "api", "solver-0"
    module: str  # python module run with -m
    args: tuple[str, ...]  # its arguments (manifest path included)
    port: int
    health_url: str
    python: str = sys.executable

    @property
    def argv(self) -> list[str]:
        return [self.python, "-m", self.module, *self.args]

    def command(self, python: str = "python", manifest: str | None = None) -> list[str]:
        """The command for another environment (docker-compose): interpreter and manifest path swapped."""
        args = list(self.args)
        if manifest is not None and "--manifest" in args:
            args[args.index("--manifest") + 1] = manifest
        return [python, "-m", self.module, *args]


def service_specs(
    config: DevnetConfig,
    manifest_path: str | Path,
    relayer: bool = True,
    api: bool = True,
    solvers: bool = True,
    guardian_args: Iterable[str] = (),
    relayer_args: Iterable[str] = (),
    python: str = sys.executable,
) -> list[ServiceSpec]:
    """Guardians (one per key), the relayer (unless manual relay), the API and the solvers, in start order.

    Solvers need the intents contracts: with `solvers=False` (nothing deployed) they are left out."""
    manifest = str(manifest_path)
    wanted = {"relayer": relayer, "api": api}
    specs = []
    for name, port in config.service_ports().items():
        if not wanted.get(name, True):
            continue
        if name == "relayer":
            module, args = "services.relayer", ("--manifest", manifest, *relayer_args)
        elif name == "api":
            module, args = "services.api", ("--manifest", manifest)
        elif name.startswith("solver-"):
            if not solvers:
                continue
            module, args = "services.solver", _solver_args(config, name, port, manifest)
        else:
            index = name.removeprefix("guardian-")
            module, args = "services.guardian", ("--index", index, "--manifest", manifest, *guardian_args)
        specs.append(ServiceSpec(name, module, args, port, f"{local_url(port)}/health", python))
    return specs


def _solver_args(config: DevnetConfig, name: str, port: int, manifest: str) -> tuple[str, ...]:
    index = name.removeprefix("solver-")
    fee = str(config.solvers.fee_bps)
    return ("--index", index, "--manifest", manifest, "--port", str(port), "--fee-bps", fee)
