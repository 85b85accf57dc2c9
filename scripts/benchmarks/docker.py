"""`bench.py startup --docker`: Docker Compose up-to-healthy beside native `devnet up`, same run.

Docker side (a private engine, like tests/docker: host networking, images built
locally, all on 127.0.0.1): once, the base images, the wheelhouse and the app
image (cached across runs in the engine's data-root; their first-build times are
reported when they were built now). Then, per run: `compose up -d` until every
service is healthy (chains, the one-shot deployer completed, guardians, relayer,
API), then `compose down --volumes`.

Native side, in the same run, on the same kind of config: `devnet up --detach`
(a fresh process, as a user runs it) until it returns healthy, both from cached
state and with --no-cache. Docker always deploys from scratch, so
`ratio_to_native_fresh_deploy` is the like-for-like comparison.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.common import bench_config, stats, write_toml
from benchmarks.startup import devnet_up_seconds
from orchestrator.config import default_config
from orchestrator.docker import daemon as docker_daemon
from orchestrator.docker import images, render
from orchestrator.docker import project as compose_project
from orchestrator.paths import REPO_ROOT

PROJECT = "metalayer-devnet-bench"


def _quiet(msg: str) -> None:
    pass


def _docker_config():
    for offset in range(8000, 9000, 100):
        config = default_config().with_port_offset(offset)
        if not compose_project.ports_in_use(config):
            return config
    raise RuntimeError("no free port set on 127.0.0.1 for the docker benchmark")


def docker_runs(runs: int, log=_quiet) -> dict:
    docker_daemon.ensure_installed(log=log)
    result: dict = {}
    with docker_daemon.engine_lock(log=log), docker_daemon.PrivateDaemon(log=log) as daemon:
        t0 = time.monotonic()
        bases = images.build_base_images(daemon, wheelhouse=REPO_ROOT / "build" / "wheelhouse", log=log)
        result["base_images_s"] = {k: round(v, 2) for k, v in bases.seconds.items()}
        result["base_images_cached"] = all(v == 0.0 for v in bases.seconds.values())
        result["image_build_s"] = round(
            compose_project.build_image(
                daemon.env(), base_image=bases.python, anvil_image=bases.anvil, network="host", log=log
            ),
            2,
        )
        result["setup_total_s"] = round(time.monotonic() - t0, 2)
        up_to_healthy, compose_up, down = [], [], []
        with tempfile.TemporaryDirectory(prefix="bench-docker-") as tmp:
            for _ in range(runs):
                config = _docker_config()
                files = Path(tmp) / "compose"
                files.mkdir(exist_ok=True)
                (files / "docker-compose.yml").write_text(
                    render.render_compose(config, context=str(REPO_ROOT), host_network=True)
                )
                proj = compose_project.ComposeProject(
                    config, [files / "docker-compose.yml"], project=PROJECT, env=daemon.env(), log=log
                )
                started = time.monotonic()
                try:
                    proj.up()
                    compose_up.append(time.monotonic() - started)
                    proj.wait_healthy(timeout=300)
                    up_to_healthy.append(time.monotonic() - started)
                finally:
                    t1 = time.monotonic()
                    proj.down(volumes=True)
                    down.append(time.monotonic() - t1)
        if daemon.process is not None:
            daemon.prune()
        result["compose_up_returns_s"] = stats(compose_up)
        result["up_to_healthy_s"] = stats(up_to_healthy)
        result["down_s"] = stats(down)
    return result


def native_runs(runs: int, block_time: float | None) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-native-") as tmp:
        workdir = Path(tmp)
        config = bench_config(workdir / "state", block_time)
        write_toml(config, workdir / "devnet.toml")
        devnet_up_seconds(workdir)  # warm-up: compile and state caches
        cached = [devnet_up_seconds(workdir) for _ in range(runs)]
        fresh = [devnet_up_seconds(workdir, "--no-cache") for _ in range(runs)]
    return {"devnet_up_cached_state_s": stats(cached), "devnet_up_fresh_deploy_s": stats(fresh)}


def run(args: argparse.Namespace) -> dict:
    runs = max(1, min(args.runs, 5))
    native = native_runs(runs, getattr(args, "block_time", None))
    docker = docker_runs(runs)
    median = docker["up_to_healthy_s"]["median"]
    return {
        "runs": runs,
        "native": native,
        "docker": docker,
        "ratio_to_native_fresh_deploy": round(median / native["devnet_up_fresh_deploy_s"]["median"], 2),
        "ratio_to_native_cached_state": round(median / native["devnet_up_cached_state_s"]["median"], 2),
    }
