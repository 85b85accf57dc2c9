"""Which Docker engine runs the devnet, and `devnet up/down --docker` on it.

The environment's engine when one answers (DOCKER_HOST, Docker Desktop, a
system dockerd); otherwise, as root on Linux, a private dockerd of ours
(daemon.py) with base images built locally (images.py) and host networking.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from orchestrator.config import DevnetConfig
from orchestrator.docker.daemon import PrivateDaemon, docker_cli, ensure_installed
from orchestrator.docker.images import build_base_images
from orchestrator.docker.project import ComposeError, ComposeProject, Log, _default_log, compose_file_for, start_project
from orchestrator.docker.render import PROJECT
from orchestrator.paths import REPO_ROOT
from orchestrator.summary import render_summary
from services.common.manifest import load as load_manifest

CLI_OWNED = "started-by-devnet-up"  # marker in the private engine's run dir


@dataclass
class Engine:
    """Which Docker engine `devnet up/down --docker` talks to, and how to build for it."""

    env: dict[str, str]
    private: bool = False  # our own dockerd (PrivateDaemon), host networking only
    base_image: str | None = None
    anvil_image: str | None = None
    host_network: bool = False
    build_network: str | None = None


def engine_reachable(env: dict[str, str]) -> bool:
    cli = docker_cli()
    if cli is None:
        return False
    try:
        proc = subprocess.run(
            [cli, "version", "--format", "{{.Server.Version}}"], env=env, capture_output=True, text=True, timeout=15
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0 and bool(proc.stdout.strip())


def select_engine(log: Log = _default_log) -> Engine:
    """The engine of the environment (DOCKER_HOST, Docker Desktop, a system dockerd) when
    one answers; otherwise, as root on Linux, a private dockerd of ours with locally
    built base images (no registry needed) and host networking, left running until
    `devnet down --docker`."""
    env = dict(os.environ)
    if engine_reachable(env):
        return Engine(
            env, base_image=os.environ.get("METALAYER_BASE_IMAGE"), anvil_image=os.environ.get("METALAYER_ANVIL_IMAGE")
        )
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        raise ComposeError("no Docker engine answers (check DOCKER_HOST or start Docker Desktop / dockerd)")
    log("no Docker engine answers: starting a private one (host networking, images built locally)")
    ensure_installed(log=log)
    daemon = PrivateDaemon(log=log).start()
    if daemon.process is not None:  # started now, for the CLI: `devnet down --docker` stops it
        (daemon.run_dir / CLI_OWNED).write_text(str(daemon.process.pid))
    try:
        bases = build_base_images(daemon, wheelhouse=REPO_ROOT / "build" / "wheelhouse", log=log)
    except BaseException:
        daemon.stop()
        raise
    return Engine(
        daemon.env(),
        private=True,
        base_image=bases.python,
        anvil_image=bases.anvil,
        host_network=True,
        build_network="host",
    )


def compose_up(
    config: DevnetConfig,
    project: str = PROJECT,
    timeout: float = 300,
    log: Log = _default_log,
    engine: Engine | None = None,
) -> int:
    """`devnet up --docker`: build, start, wait healthy, copy the manifest out, print the summary.

    Uses the environment's engine, or a private one when none answers (see
    `select_engine`; `engine` overrides the choice). Base images may be set with
    METALAYER_BASE_IMAGE / METALAYER_ANVIL_IMAGE. Returns the exit code (0).
    """
    engine = engine or select_engine(log)
    state = config.state
    try:
        proj, timings = start_project(
            config,
            project=project,
            env=engine.env,
            host_network=engine.host_network,
            base_image=engine.base_image,
            anvil_image=engine.anvil_image,
            build_network=engine.build_network,
            work_dir=state.root if engine.host_network else None,
            timeout=timeout,
            log=log,
        )
        manifest_path = state.manifest
        proj.copy_manifest(manifest_path)
        manifest = load_manifest(manifest_path)
    except BaseException:
        if engine.private and (PrivateDaemon().run_dir / CLI_OWNED).is_file():
            PrivateDaemon(log=log).stop_running()
            (PrivateDaemon().run_dir / CLI_OWNED).unlink(missing_ok=True)
        raise
    state.engine_record.write_text(
        json.dumps(
            {
                "project": project,
                "docker_host": engine.env.get("DOCKER_HOST"),
                "private": engine.private,
                "files": [str(f) for f in proj.files],
            },
            indent=1,
        )
    )
    log(render_summary(manifest))
    log("")
    where = "a private Docker engine, host network" if engine.private else "Docker"
    log(
        f"Devnet up in {where} (compose project {project}): healthy {timings['up_to_healthy']:.1f}s "
        f"after `compose up` (image build {timings['image_build']:.1f}s); manifest copied to {manifest_path}"
    )
    log("Stop it with `devnet down --docker`.")
    return 0


def compose_down(config: DevnetConfig, project: str | None = None, log: Log = _default_log) -> int:
    """`devnet down --docker`: remove the project's containers, network and volumes on the
    engine `devnet up --docker` used (and stop the private engine if it started one).
    Returns the exit code."""
    state = config.state
    try:
        record = json.loads(state.engine_record.read_text())
    except (OSError, ValueError):
        record = {}
    project = project or record.get("project") or PROJECT
    private = PrivateDaemon(log=log)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")} if record else dict(os.environ)
    if record.get("docker_host"):
        env["DOCKER_HOST"] = record["docker_host"]
    elif not record and private.running_pid() is not None and not engine_reachable(env):
        env = private.env()
    files = [Path(f) for f in record.get("files", []) if Path(f).is_file()]
    if not files:
        rendered = state.compose_file
        files = [rendered if rendered.is_file() else compose_file_for(config)]
    proj = ComposeProject(config, files, project=project, env=env, log=log)
    if engine_reachable(env) and proj.containers():
        proj.down(volumes=True)
        log(f"Removed the Docker devnet (compose project {project}): containers, network and volumes.")
    else:
        log(f"No Docker devnet (compose project {project}) is running.")
    state.engine_record.unlink(missing_ok=True)
    owned = private.run_dir / CLI_OWNED
    if owned.is_file() and (not record or record.get("private")):
        if private.running_pid() is not None:
            private.stop_running()
        owned.unlink(missing_ok=True)
    return 0
