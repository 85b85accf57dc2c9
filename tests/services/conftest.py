"""Fixtures for service tests: real anvil chains on free ports, manifests, service processes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from orchestrator.chains.anvil import start_chains
from orchestrator.config import DevnetConfig, GuardianConfig, default_config
from orchestrator.manifest import build_manifest, write_manifest
from orchestrator.services import procs
from tests.conftest import free_config

REPO = Path(__file__).resolve().parents[2]
INSTANCE = "0x" + "ab" * 32  # the instance id of test manifests (what `devnet up` draws at random)


def services_config(tmp_path: Path, start: int = 3000, **guardians: int) -> DevnetConfig:
    base = default_config()
    if guardians:
        base = replace(base, guardians=GuardianConfig(**{**base.guardians.__dict__, **guardians}))
    return free_config(start, base, tmp_path / "state")


class ServiceProc:
    """A service started as a child process; always stopped by the fixture that made it."""

    def __init__(self, argv: list[str], log: Path, health_url: str):
        self.argv, self.log, self.health_url = argv, log, health_url
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> ServiceProc:
        self.proc = procs.spawn(self.argv, self.log, cwd=REPO)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.argv} exited: {procs.tail(self.log, 20)}")
            try:
                if httpx.get(self.health_url, timeout=0.5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.argv} not healthy after {timeout}s: {procs.tail(self.log, 20)}")

    def stop(self) -> None:
        if self.proc is not None:
            procs.stop(self.proc)

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="session", autouse=True)
def compiled_contracts() -> None:
    """The ABIs some of these tests read (contracts/out is generated; cached after the first run)."""
    from orchestrator.build.compiler import compile_contracts

    compile_contracts()


@pytest.fixture
def chains_only(tmp_path: Path) -> Iterator[tuple[DevnetConfig, Path]]:
    """The default 3 chains on free ports (no contracts) and a manifest describing them."""
    config = services_config(tmp_path)
    manifest_path = Path(config.state_dir) / "manifest.json"
    with start_chains(config.chains, Path(config.state_dir) / "logs"):
        write_manifest(manifest_path, build_manifest(config).model_copy(update={"instance_id": INSTANCE}))
        yield config, manifest_path


@pytest.fixture
def spawn_service(tmp_path: Path) -> Iterator:
    started: list[ServiceProc] = []

    def spawn(module: str, *args: str, health_url: str, log_name: str) -> ServiceProc:
        svc = ServiceProc([sys.executable, "-m", module, *args], tmp_path / "logs" / f"{log_name}.log", health_url)
        started.append(svc)
        return svc.start()

    yield spawn
    for svc in started:
        svc.stop()


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())
