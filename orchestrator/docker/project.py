"""Driving one compose project: build the image, `up`, wait until healthy, logs, `down`.

proj, timings = start_project(config)     # build, up, healthy (taken down again on failure)
proj.containers(), proj.logs("relayer"), proj.copy_manifest(dest), proj.down()
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.build.compiler import compile_contracts
from orchestrator.config import DevnetConfig, default_config
from orchestrator.docker.daemon import compose_command, docker_cli
from orchestrator.docker.render import IMAGE, PROJECT, STATE_MOUNT, long_running_services, render_compose
from orchestrator.paths import REPO_ROOT
from orchestrator.services import procs

Log = Callable[[str], None]


class ComposeError(RuntimeError):
    """docker compose failed or a service did not become healthy; the message says which."""


def _default_log(msg: str) -> None:
    print(msg, flush=True)


@dataclass
class ContainerState:
    service: str
    id: str
    status: str  # created, running, exited, ...
    health: str | None  # starting, healthy, unhealthy, or None without a healthcheck
    exit_code: int


@dataclass
class ComposeProject:
    """One compose project: files, project name and the engine to talk to."""

    config: DevnetConfig
    files: list[Path]
    project: str = PROJECT
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    log: Log = _default_log

    def compose_argv(self) -> list[str]:
        cmd = compose_command(self.env)
        if cmd is None:
            raise ComposeError("neither `docker compose` nor `docker-compose` found: install Docker Compose")
        argv = [*cmd, "-p", self.project]
        for f in self.files:
            argv += ["-f", str(f)]
        return argv

    def compose(self, *args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = [*self.compose_argv(), *args]
        proc = subprocess.run(
            argv, env=self.env, capture_output=True, text=True, timeout=timeout, cwd=self.files[0].parent
        )
        if check and proc.returncode != 0:
            raise ComposeError(
                f"compose {' '.join(args)} failed ({proc.returncode}): {(proc.stderr or proc.stdout).strip()[-3000:]}"
            )
        return proc

    def docker(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
        cli = docker_cli()
        if cli is None:
            raise ComposeError("no docker client on PATH")
        proc = subprocess.run([cli, *args], env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise ComposeError(f"docker {' '.join(args)} failed: {proc.stderr.strip()[-2000:]}")
        return proc

    def containers(self) -> dict[str, ContainerState]:
        """Every container of the project by service (found by compose labels, v1 and v2 alike)."""
        ids = self.docker(
            "ps", "-a", "-q", "--no-trunc", "--filter", f"label=com.docker.compose.project={self.project}"
        ).stdout.split()
        if not ids:
            return {}
        docs = json.loads(self.docker("inspect", *ids).stdout)
        out = {}
        for doc in docs:
            service = doc["Config"]["Labels"].get("com.docker.compose.service", doc["Name"])
            state = doc["State"]
            out[service] = ContainerState(
                service=service,
                id=doc["Id"],
                status=state.get("Status", "?"),
                health=(state.get("Health") or {}).get("Status"),
                exit_code=int(state.get("ExitCode", 0)),
            )
        return out

    def up(self, timeout: float = 300, services: Sequence[str] | None = None) -> None:
        """`up -d --no-build` (images are built beforehand by `build_image`); all services by default."""
        self.compose("up", "-d", "--no-build", *(services or []), timeout=timeout)

    def wait_healthy(self, timeout: float = 180, poll: float = 0.25, services: Sequence[str] | None = None) -> float:
        """Until the deployer exited 0 and every long-running service (or those of `services`)
        is healthy. Fails fast, with the logs, on an exited or unhealthy service. Returns seconds waited."""
        started = time.monotonic()
        wanted = [s for s in long_running_services(self.config) if services is None or s in services]
        while True:
            states = self.containers()
            problems = []
            deployer = states.get("deployer")
            if deployer is not None and deployer.status == "exited" and deployer.exit_code != 0:
                raise ComposeError(f"deployer exited with code {deployer.exit_code}:\n{self.logs('deployer')}")
            pending = [] if deployer is not None and deployer.status == "exited" else ["deployer"]
            for name in wanted:
                st = states.get(name)
                if st is None:
                    pending.append(name)
                elif st.status in ("exited", "dead"):
                    problems.append(f"{name} is {st.status} (exit code {st.exit_code})")
                elif st.health == "unhealthy":
                    problems.append(f"{name} is unhealthy")
                elif st.health != "healthy":
                    pending.append(name)
            if problems:
                details = "\n".join(f"--- {p.split()[0]}\n{self.logs(p.split()[0])}" for p in problems)
                raise ComposeError("; ".join(problems) + "\n" + details)
            if not pending:
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise ComposeError(f"not healthy after {timeout:.0f}s: {', '.join(pending)}")
            time.sleep(poll)

    def logs(self, service: str | None = None, tail: int = 40) -> str:
        args = ["logs", "--no-color", "--tail", str(tail)]
        if service:
            args.append(service)
        proc = self.compose(*args, check=False, timeout=60)
        return (proc.stdout + proc.stderr).strip()

    def copy_manifest(self, dest: Path) -> dict[str, Any]:
        """Copy the deployer's manifest out of the state volume to dest (for host-side tools)."""
        states = self.containers()
        if "deployer" not in states:
            raise ComposeError("no deployer container: was the project started?")
        dest.parent.mkdir(parents=True, exist_ok=True)
        self.docker("cp", f"{states['deployer'].id}:{STATE_MOUNT}/manifest.json", str(dest))
        return json.loads(dest.read_text())

    def down(self, volumes: bool = True, timeout: float = 120) -> None:
        args = ["down", "--remove-orphans", "--timeout", "5"]
        if volumes:
            args.append("--volumes")
        self.compose(*args, timeout=timeout)


def build_image(
    env: dict[str, str] | None = None,
    tag: str = IMAGE,
    base_image: str | None = None,
    anvil_image: str | None = None,
    network: str | None = None,
    context: Path = REPO_ROOT,
    compile: bool = True,
    log: Log = _default_log,
) -> float:
    """`docker build` the app image (contracts compiled first unless compile=False). Returns seconds spent."""
    if compile:
        compile_contracts()
    cli = docker_cli()
    if cli is None:
        raise ComposeError("no docker client on PATH: install Docker")
    argv = [cli, "build", "--force-rm", "-t", tag]
    if base_image:
        argv += ["--build-arg", f"BASE_IMAGE={base_image}"]
    if anvil_image:
        argv += ["--build-arg", f"ANVIL_IMAGE={anvil_image}"]
    if network:
        argv += ["--network", network]
    argv.append(str(context))
    started = time.monotonic()
    log(f"building {tag} ...")
    proc = subprocess.run(
        argv, env=env if env is not None else dict(os.environ), capture_output=True, text=True, timeout=1800
    )
    if proc.returncode != 0:
        raise ComposeError(f"docker build failed ({proc.returncode}):\n{(proc.stdout + proc.stderr)[-4000:]}")
    seconds = time.monotonic() - started
    log(f"built {tag} in {seconds:.1f}s")
    return seconds


def compose_file_for(config: DevnetConfig) -> Path:
    """The checked-in docker-compose.yml for the default config when it is current,
    else a rendering written to <state_dir>/docker-compose.yml."""
    checked_in = REPO_ROOT / "docker-compose.yml"
    if config == default_config() and checked_in.is_file() and checked_in.read_text() == render_compose(config):
        return checked_in
    path = config.state.compose_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_compose(config, context=str(REPO_ROOT)))
    return path


def ports_in_use(config: DevnetConfig) -> list[int]:
    return [p for p in config.ports() if procs.port_in_use(p)]


def start_project(
    config: DevnetConfig,
    project: str = PROJECT,
    env: dict[str, str] | None = None,
    host_network: bool = False,
    base_image: str | None = None,
    anvil_image: str | None = None,
    build_network: str | None = None,
    work_dir: Path | None = None,
    timeout: float = 300,
    services: Sequence[str] | None = None,
    compile: bool = True,
    log: Log = _default_log,
) -> tuple[ComposeProject, dict[str, float]]:
    """Build the image, `compose up`, wait until healthy. Returns the project and step timings.

    On failure the project is taken down again (volumes included) before the error is raised.
    """
    busy = ports_in_use(config)
    if busy:
        raise ComposeError(
            f"ports already in use on 127.0.0.1: {', '.join(map(str, busy))} "
            "(a native devnet running? stop it with `devnet down`)"
        )
    env = dict(env if env is not None else os.environ)
    timings: dict[str, float] = {}
    timings["image_build"] = build_image(
        env, base_image=base_image, anvil_image=anvil_image, network=build_network, compile=compile, log=log
    )
    if work_dir is None and not host_network:
        files = [compose_file_for(config)]
    else:
        work_dir = work_dir or config.state.root
        work_dir.mkdir(parents=True, exist_ok=True)
        main = work_dir / "docker-compose.yml"
        main.write_text(render_compose(config, context=str(REPO_ROOT), host_network=host_network))
        files = [main]
    proj = ComposeProject(config, files, project=project, env=env, log=log)
    if proj.containers():
        log(f"removing leftover containers of project {project}")
        proj.down(volumes=True)
    started = time.monotonic()
    try:
        proj.up(timeout=timeout, services=services)
        timings["compose_up"] = time.monotonic() - started
        proj.wait_healthy(timeout=timeout, services=services)
        timings["up_to_healthy"] = time.monotonic() - started
    except BaseException:
        with contextlib.suppress(Exception):
            log(proj.logs(tail=30))
        try:
            proj.down()
        except Exception as exc:  # keep the original error
            log(f"cleanup after failure: {exc}")
        raise
    return proj, timings
