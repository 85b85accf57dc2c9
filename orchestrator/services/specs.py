"""What runs each Python service: the one source for its command, port and health URL.

    specs = service_specs(config, manifest_path)   # guardians, relayer, api, in start order
    spec.argv                                      # natively: this interpreter, -m module, args
    spec.command("python3", manifest=".devnet/manifest.json")   # the same command in the Docker image

The supervisor runs `argv`; docker/render.py renders `command(...)`, so both
modes start the same modules with the same arguments.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from orchestrator.config import DevnetConfig, local_url


@dataclass(frozen=True)
class ServiceSpec:
    name: str                 # "guardian-0", "relayer", "api"
    module: str               # python module run with -m
    args: tuple[str, ...]     # its arguments (manifest path included)
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
    guardian_args: Iterable[str] = (),
    relayer_args: Iterable[str] = (),
    python: str = sys.executable,
) -> list[ServiceSpec]:
    """Guardians (one per key), the relayer (unless manual relay) and the API, in start order."""
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
        else:
            index = name.removeprefix("guardian-")
            module, args = "services.guardian", ("--index", index, "--manifest", manifest, *guardian_args)
        specs.append(ServiceSpec(name, module, args, port, f"{local_url(port)}/health", python))
    return specs
