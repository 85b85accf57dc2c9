"""docker-compose.yml from a DevnetConfig, and driving it (`devnet up/down --docker`).

The compose topology is the native one, command for command:

* one service per chain running anvil with `chains.anvil_args(...)`, exactly the
  arguments `devnet up` uses (so `--host 127.0.0.1` and the same ports);
* `deployer`, a one-shot `devnet deploy --manifest .devnet/manifest.json`,
  started once every chain is healthy;
* `guardian-<i>`, `relayer` and `api`, the native commands, started once the
  deployer has completed successfully;
* the manifest and the service databases on a named volume mounted at
  `/app/.devnet`, so every relative path is the native one.

Networking keeps the URLs identical to native mode (127.0.0.1:port everywhere):
every service joins the network namespace of a small `net` service, so they
reach each other on 127.0.0.1. `net` publishes every port on the host's
127.0.0.1 and forwards what arrives on its container address to 127.0.0.1 inside
the namespace (the processes themselves listen on loopback only, as natively).
Where bridge networks are not wanted (CI here), `render_compose(config,
host_network=True)` puts every service on the host network instead (no `net`).

Healthchecks are bash one-liners over /dev/tcp run in the image (anvil's image
has no curl; a Python start per check would be costly): `eth_chainId` for
chains, GET /health for services. Compose v2 (`docker compose`) and v1
(`docker-compose` 1.29) both read the file.

Functions for the CLI: `render_compose(config)`, `compose_up(config)`,
`compose_down(config)`; `ComposeProject` is the lower-level driver the test and
the benchmark use.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from orchestrator.chains import anvil_args
from orchestrator.config import DevnetConfig, default_config, to_toml
from orchestrator.paths import REPO_ROOT

PROJECT = "metalayer-devnet"
# Built locally, never pulled (`pull_policy: never` on the services sharing it);
# no registry namespace either, so no registry could ever serve a stranger's image.
IMAGE = "metalayer-devnet:local"
STATE_VOLUME = "devnet-state"
STATE_MOUNT = "/app/.devnet"
MANIFEST = ".devnet/manifest.json"
NET_SERVICE = "net"
HEALTH_INTERVAL = "1s"
HEALTH_RETRIES = 3
HEALTH_START_PERIOD = "60s"  # failures while starting do not count; the first success counts
CONFIG_ENV = "DEVNET_CONFIG_TOML"
FORWARD_ENV = "METALAYER_NET_FORWARDER"  # set only on the `net` service
CLI_OWNED = "started-by-devnet-up"  # marker in the private engine's run dir
# Health endpoints of the Python services (services/common/http.py apps).
HEALTH_PATH = "/health"

Log = Callable[[str], None]


class ComposeError(RuntimeError):
    """docker compose failed or a service did not become healthy; the message says which."""


# ---------------------------------------------------------------- topology


def guardian_service(index: int) -> str:
    return f"guardian-{index}"


def long_running_services(config: DevnetConfig) -> list[str]:
    """Services that must end up `healthy` (everything but the one-shot deployer and net)."""
    return [c.name for c in config.chains] + [
        guardian_service(i) for i in range(config.guardians.count)
    ] + ["relayer", "api"]


def service_ports(config: DevnetConfig) -> list[int]:
    """Every port the devnet serves on 127.0.0.1, in a stable order."""
    ports = [c.port for c in config.chains]
    ports += [config.guardians.base_port + i for i in range(config.guardians.count)]
    ports += [config.relayer.port, config.api.port]
    return ports


# Healthchecks run every interval in every container, so they are bash builtins
# over /dev/tcp (no curl in the image, and a python start per check would cost
# ~0.5 core with 9 containers at 1 s): `bash -c SCRIPT health PORT ...`.
_RPC_BODY = '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}'
_RPC_CHECK = (
    "exec 3<>/dev/tcp/127.0.0.1/$1"
    " && printf 'POST / HTTP/1.0\\r\\nContent-Type: application/json\\r\\nContent-Length: %s\\r\\n\\r\\n%s' ${#2} \"$2\" >&3"
    " && { IFS= read -r -d '' r <&3; [[ $r == *'\"result\":\"'$3'\"'* ]]; }"
)
_HTTP_CHECK = (
    "exec 3<>/dev/tcp/127.0.0.1/$1"
    " && printf 'GET %s HTTP/1.0\\r\\n\\r\\n' \"$2\" >&3"
    " && IFS= read -r l <&3 && [[ $l == 'HTTP/1.'?' 200'* ]]"
)


def _health(script: str, args: Sequence[str], interval: str) -> dict[str, Any]:
    return {
        # `$$`: compose would otherwise interpolate $1 etc. from the environment
        "test": ["CMD", "bash", "-c", script.replace("$", "$$"), "health", *args],
        "interval": interval,
        "timeout": "5s",
        "retries": HEALTH_RETRIES,
        "start_period": HEALTH_START_PERIOD,
    }


def _rpc_health(port: int, chain_id: int, interval: str) -> dict[str, Any]:
    return _health(_RPC_CHECK, [str(port), _RPC_BODY, hex(chain_id)], interval)


def _http_health(port: int, interval: str) -> dict[str, Any]:
    return _health(_HTTP_CHECK, [str(port), HEALTH_PATH], interval)


def compose_services(
    config: DevnetConfig,
    context: str = ".",
    image: str = IMAGE,
    health_interval: str = HEALTH_INTERVAL,
    host_network: bool = False,
) -> dict[str, dict[str, Any]]:
    """The compose `services:` mapping.

    Default: every service in the network namespace of `net`, which publishes the
    ports on the host's 127.0.0.1. host_network=True: every service on the host
    network (Linux only; no `net` service, no bridge network at all).
    """
    state = [f"{STATE_VOLUME}:{STATE_MOUNT}"]
    build = {"build": {"context": context}}

    def app(**extra: Any) -> dict[str, Any]:
        svc: dict[str, Any] = {"image": image, "init": True}
        if host_network and not services:
            svc = {**build, **svc}  # the first service builds the image the others share
        else:
            # built by that one service, never pulled (Compose v2 would try a registry)
            svc["pull_policy"] = "never"
        svc["network_mode"] = "host" if host_network else f"service:{NET_SERVICE}"
        return {**svc, **extra}

    services: dict[str, dict[str, Any]] = {}
    if not host_network:
        services[NET_SERVICE] = {
            **build,
            "image": image,
            "init": True,
            "command": ["python3", "-m", "orchestrator.compose", "forward",
                        *[str(p) for p in service_ports(config)]],
            "environment": {FORWARD_ENV: "1"},
            "ports": [f"127.0.0.1:{p}:{p}" for p in service_ports(config)],
        }
    for chain in config.chains:
        services[chain.name] = app(
            command=["anvil", *anvil_args(chain, config.accounts, config.mnemonic, host="127.0.0.1")],
            healthcheck=_rpc_health(chain.port, chain.chain_id, health_interval),
        )
    deploy = ["devnet", "deploy", "--manifest", MANIFEST]
    deployer: dict[str, Any]
    if config == default_config():
        deployer = app(command=deploy)
    else:
        # The deployer needs the topology; ship it in the environment so the file
        # stays self-contained (no bind mount, works with a remote engine too).
        script = f'printf "%s" "$${CONFIG_ENV}" > /tmp/devnet.toml && exec {shlex.join(deploy[:2])} --config /tmp/devnet.toml {shlex.join(deploy[2:])}'
        deployer = app(command=["sh", "-c", script], environment={CONFIG_ENV: to_toml(config)})
    deployer["volumes"] = state
    deployer["restart"] = "no"
    deployer["depends_on"] = {c.name: {"condition": "service_healthy"} for c in config.chains}
    services["deployer"] = deployer
    after_deploy = {"deployer": {"condition": "service_completed_successfully"}}
    for i in range(config.guardians.count):
        services[guardian_service(i)] = app(
            command=["python3", "-m", "services.guardian", "--index", str(i), "--manifest", MANIFEST],
            volumes=state,
            depends_on=dict(after_deploy),
            healthcheck=_http_health(config.guardians.base_port + i, health_interval),
        )
    services["relayer"] = app(
        command=["python3", "-m", "services.relayer", "--manifest", MANIFEST],
        volumes=state,
        # the relayer asks the guardians on demand (and retries), so it needs only the manifest
        depends_on=dict(after_deploy),
        healthcheck=_http_health(config.relayer.port, health_interval),
    )
    services["api"] = app(
        command=["python3", "-m", "services.api", "--manifest", MANIFEST],
        volumes=state,
        depends_on=dict(after_deploy),
        healthcheck=_http_health(config.api.port, health_interval),
    )
    return services


_HEADER = """\
# Metalayer Devnet in Docker Compose. GENERATED by `devnet compose` from the
# default topology (orchestrator/config.py): edit the config and re-render, do
# not edit this file (a test compares it with the rendering).
#
#   devnet compile          # contracts/out is copied into the image
#   docker compose up       # or `docker-compose up` (Compose v1)
#   docker compose down -v  # removes containers, network and the state volume
#
# Same commands, ports and URLs as `devnet up`. Every service shares the network
# namespace of `net`, so they talk over 127.0.0.1; `net` publishes the ports on
# the host's 127.0.0.1 only:
{ports}
# The manifest is in the `{volume}` volume at /app/.devnet/manifest.json
# (`docker compose cp deployer:/app/.devnet/manifest.json .`).
"""


def render_compose(
    config: DevnetConfig,
    context: str = ".",
    image: str = IMAGE,
    health_interval: str = HEALTH_INTERVAL,
    host_network: bool = False,
) -> str:
    """docker-compose.yml for `config` (what `devnet compose` writes).

    host_network=True renders the Linux host-network variant (used by the Docker test).
    """
    services = compose_services(config, context=context, image=image, health_interval=health_interval,
                                host_network=host_network)
    lines = []
    for chain in config.chains:
        lines.append(f"#   {chain.name:<12} {chain.rpc_url:<24} JSON-RPC + WebSocket (chain id {chain.chain_id})")
    for i in range(config.guardians.count):
        url = f"http://127.0.0.1:{config.guardians.base_port + i}"
        lines.append(f"#   {guardian_service(i):<12} {url:<24} guardian attestations")
    lines.append(f"#   {'relayer':<12} {'http://127.0.0.1:' + str(config.relayer.port):<24} relayer health and queue")
    lines.append(f"#   {'api':<12} {'http://127.0.0.1:' + str(config.api.port):<24} HTTP API, OpenAPI at /docs, dashboard")
    header = _HEADER.format(ports="\n".join(lines), volume=STATE_VOLUME)
    if host_network:
        header = header.replace(
            "Every service shares the network\n# namespace of `net`, so they talk over 127.0.0.1; `net` publishes the ports on\n# the host's 127.0.0.1 only:",
            "HOST NETWORK variant (Linux): every\n# service runs on the host network and listens on 127.0.0.1 only:")
    body = to_yaml({"services": services, "volumes": {STATE_VOLUME: {}}})
    return header + "\n" + body


# ---------------------------------------------------------------- YAML / TOML emitters

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid YAML double-quoted scalar
    raise TypeError(f"cannot render {value!r} as YAML")


def to_yaml(value: Any, indent: int = 0) -> str:
    """Block mappings, flow lists of scalars, double-quoted strings: enough for compose files."""
    pad = "  " * indent
    out = []
    for key, item in value.items():
        k = key if _PLAIN_KEY.match(key) else json.dumps(key)
        if isinstance(item, dict):
            if not item:
                out.append(f"{pad}{k}: {{}}\n")
            else:
                out.append(f"{pad}{k}:\n{to_yaml(item, indent + 1)}")
        elif isinstance(item, (list, tuple)):
            if any(isinstance(v, (dict, list, tuple)) for v in item):
                raise TypeError("nested lists are not used in compose files here")
            flow = f"{pad}{k}: [{', '.join(_scalar(v) for v in item)}]\n"
            if len(flow) > 112:
                out.append(f"{pad}{k}:\n" + "".join(f"{pad}  - {_scalar(v)}\n" for v in item))
            else:
                out.append(flow)
        else:
            out.append(f"{pad}{k}: {_scalar(item)}\n")
    return "".join(out)


# ---------------------------------------------------------------- driving compose


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
        from orchestrator.docker_engine import compose_command

        cmd = compose_command(self.env)
        if cmd is None:
            raise ComposeError("neither `docker compose` nor `docker-compose` found: install Docker Compose")
        argv = [*cmd, "-p", self.project]
        for f in self.files:
            argv += ["-f", str(f)]
        return argv

    def compose(self, *args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = [*self.compose_argv(), *args]
        proc = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=timeout,
                              cwd=self.files[0].parent)
        if check and proc.returncode != 0:
            raise ComposeError(f"compose {' '.join(args)} failed ({proc.returncode}): "
                               f"{(proc.stderr or proc.stdout).strip()[-3000:]}")
        return proc

    def docker(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
        from orchestrator.docker_engine import docker_cli

        cli = docker_cli()
        if cli is None:
            raise ComposeError("no docker client on PATH")
        proc = subprocess.run([cli, *args], env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise ComposeError(f"docker {' '.join(args)} failed: {proc.stderr.strip()[-2000:]}")
        return proc

    def containers(self) -> dict[str, ContainerState]:
        """Every container of the project by service (found by compose labels, v1 and v2 alike)."""
        ids = self.docker("ps", "-a", "-q", "--no-trunc", "--filter",
                          f"label=com.docker.compose.project={self.project}").stdout.split()
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

    def wait_healthy(self, timeout: float = 180, poll: float = 0.25,
                     services: Sequence[str] | None = None) -> float:
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
    from orchestrator.compiler import compile_contracts
    from orchestrator.docker_engine import docker_cli

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
    proc = subprocess.run(argv, env=env if env is not None else dict(os.environ),
                          capture_output=True, text=True, timeout=1800)
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
    state = Path(config.state_dir)
    if not state.is_absolute():
        state = Path.cwd() / state
    state.mkdir(parents=True, exist_ok=True)
    path = state / "docker-compose.yml"
    path.write_text(render_compose(config, context=str(REPO_ROOT)))
    return path


def ports_in_use(config: DevnetConfig) -> list[int]:
    from orchestrator import procs

    return [p for p in service_ports(config) if procs.port_in_use(p)]


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
    timings["image_build"] = build_image(env, base_image=base_image, anvil_image=anvil_image,
                                         network=build_network, compile=compile, log=log)
    if work_dir is None and not host_network:
        files = [compose_file_for(config)]
    else:
        work_dir = work_dir or Path(config.state_dir).resolve()
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
        try:
            log(proj.logs(tail=30))
        except Exception:
            pass
        try:
            proj.down()
        except Exception as exc:  # keep the original error
            log(f"cleanup after failure: {exc}")
        raise
    return proj, timings


@dataclass
class Engine:
    """Which Docker engine `devnet up/down --docker` talks to, and how to build for it."""

    env: dict[str, str]
    private: bool = False  # our own dockerd (docker_engine.PrivateDaemon), host networking only
    base_image: str | None = None
    anvil_image: str | None = None
    host_network: bool = False
    build_network: str | None = None


def engine_reachable(env: dict[str, str]) -> bool:
    from orchestrator.docker_engine import docker_cli

    cli = docker_cli()
    if cli is None:
        return False
    try:
        proc = subprocess.run([cli, "version", "--format", "{{.Server.Version}}"], env=env,
                              capture_output=True, text=True, timeout=15)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0 and bool(proc.stdout.strip())


def select_engine(log: Log = _default_log) -> Engine:
    """The engine of the environment (DOCKER_HOST, Docker Desktop, a system dockerd) when
    one answers; otherwise, as root on Linux, a private dockerd of ours with locally
    built base images (no registry needed) and host networking, left running until
    `devnet down --docker`."""
    from orchestrator import docker_engine

    env = dict(os.environ)
    if engine_reachable(env):
        return Engine(env, base_image=os.environ.get("METALAYER_BASE_IMAGE"),
                      anvil_image=os.environ.get("METALAYER_ANVIL_IMAGE"))
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        raise ComposeError("no Docker engine answers (check DOCKER_HOST or start Docker Desktop / dockerd)")
    log("no Docker engine answers: starting a private one (host networking, images built locally)")
    docker_engine.ensure_installed(log=log)
    daemon = docker_engine.PrivateDaemon(log=log).start()
    if daemon.process is not None:  # started now, for the CLI: `devnet down --docker` stops it
        (daemon.run_dir / CLI_OWNED).write_text(str(daemon.process.pid))
    try:
        bases = docker_engine.build_base_images(daemon, wheelhouse=REPO_ROOT / "build" / "wheelhouse", log=log)
    except BaseException:
        daemon.stop()
        raise
    return Engine(daemon.env(), private=True, base_image=bases.python, anvil_image=bases.anvil,
                  host_network=True, build_network="host")


def _state_dir(config: DevnetConfig) -> Path:
    state = Path(config.state_dir)
    return state if state.is_absolute() else Path.cwd() / state


ENGINE_RECORD = "docker-engine.json"  # in the state dir: which engine `devnet up --docker` used


def compose_up(config: DevnetConfig, project: str = PROJECT, timeout: float = 300,
               log: Log = _default_log, engine: Engine | None = None) -> int:
    """`devnet up --docker`: build, start, wait healthy, copy the manifest out, print the summary.

    Uses the environment's engine, or a private one when none answers (see
    `select_engine`; `engine` overrides the choice). Base images may be set with
    METALAYER_BASE_IMAGE / METALAYER_ANVIL_IMAGE. Returns the exit code (0).
    """
    from orchestrator.docker_engine import PrivateDaemon
    from orchestrator.summary import render_summary

    engine = engine or select_engine(log)
    state = _state_dir(config)
    try:
        proj, timings = start_project(
            config, project=project, env=engine.env, host_network=engine.host_network,
            base_image=engine.base_image, anvil_image=engine.anvil_image,
            build_network=engine.build_network,
            work_dir=state if engine.host_network else None,
            timeout=timeout, log=log,
        )
        manifest_path = state / "manifest.json"
        manifest = proj.copy_manifest(manifest_path)
    except BaseException:
        if engine.private and (PrivateDaemon().run_dir / CLI_OWNED).is_file():
            PrivateDaemon(log=log).stop_running()
            (PrivateDaemon().run_dir / CLI_OWNED).unlink(missing_ok=True)
        raise
    (state / ENGINE_RECORD).write_text(json.dumps({
        "project": project,
        "docker_host": engine.env.get("DOCKER_HOST"),
        "private": engine.private,
        "files": [str(f) for f in proj.files],
    }, indent=1))
    log(render_summary(manifest))
    log("")
    where = "a private Docker engine, host network" if engine.private else "Docker"
    log(f"Devnet up in {where} (compose project {project}): healthy {timings['up_to_healthy']:.1f}s "
        f"after `compose up` (image build {timings['image_build']:.1f}s); manifest copied to {manifest_path}")
    log("Stop it with `devnet down --docker`.")
    return 0


def compose_down(config: DevnetConfig, project: str | None = None, log: Log = _default_log) -> int:
    """`devnet down --docker`: remove the project's containers, network and volumes on the
    engine `devnet up --docker` used (and stop the private engine if it started one).
    Returns the exit code."""
    from orchestrator.docker_engine import PrivateDaemon

    state = _state_dir(config)
    try:
        record = json.loads((state / ENGINE_RECORD).read_text())
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
        rendered = state / "docker-compose.yml"
        files = [rendered if rendered.is_file() else compose_file_for(config)]
    proj = ComposeProject(config, files, project=project, env=env, log=log)
    if engine_reachable(env) and proj.containers():
        proj.down(volumes=True)
        log(f"Removed the Docker devnet (compose project {project}): containers, network and volumes.")
    else:
        log(f"No Docker devnet (compose project {project}) is running.")
    (state / ENGINE_RECORD).unlink(missing_ok=True)
    owned = private.run_dir / CLI_OWNED
    if owned.is_file() and (not record or record.get("private")):
        if private.running_pid() is not None:
            private.stop_running()
        owned.unlink(missing_ok=True)
    return 0


# ---------------------------------------------------------------- in-container helpers


def container_cli() -> None:
    """`devnet` inside the image (/usr/local/bin/devnet runs this).

    The image holds contracts/out but neither the Solidity sources nor a compiler
    (no node, no solc): compiling is the host's job before `docker build`. So here
    `compile_contracts()` means "load the precompiled artifacts", and everything
    else is the normal CLI (`devnet deploy --manifest .devnet/manifest.json`).
    """
    from orchestrator import compiler

    if not compiler.CONTRACTS_SRC.is_dir():

        def precompiled(*args: Any, **kwargs: Any) -> Any:
            return compiler.CompileResult(compiler.load_artifacts(), True, 0.0, "precompiled (image)")

        compiler.compile_contracts = precompiled  # type: ignore[assignment]
    from orchestrator.cli import main as cli_main

    sys.argv[0] = "devnet"
    sys.exit(cli_main())


def _non_loopback_ipv4() -> list[str]:
    import socket

    try:
        addrs = socket.gethostbyname_ex(socket.gethostname())[2]
    except OSError:
        return []
    return sorted({a for a in addrs if not a.startswith("127.")})


async def _pipe(reader: Any, writer: Any) -> None:
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def _forward(ports: Sequence[int], listen: Sequence[str] | None = None) -> None:
    """Accept on the container's own addresses (or `listen`), connect to 127.0.0.1 inside the namespace.

    Only ever run inside the `net` container: there its own addresses belong to
    the container's private network namespace.
    """
    import asyncio

    live: set[Any] = set()

    def handler(port: int) -> Callable[[Any, Any], Any]:
        async def handle(reader: Any, writer: Any) -> None:
            task = asyncio.current_task()
            live.add(task)
            try:
                try:
                    up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
                except OSError:
                    writer.close()
                    return
                await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
            finally:
                live.discard(task)

        return handle

    addrs = list(listen) if listen is not None else _non_loopback_ipv4()
    servers = []
    for addr in addrs:
        for port in ports:
            servers.append(await asyncio.start_server(handler(port), addr, port))
    print(f"forwarding {', '.join(addrs) or '(no address)'} ports {', '.join(map(str, ports))} "
          "to 127.0.0.1", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        for server in servers:
            server.close()
        for task in list(live):
            task.cancel()
        await asyncio.gather(*live, return_exceptions=True)


def main(argv: list[str] | None = None) -> int:
    """`python -m orchestrator.compose forward|render ...` (forward runs in the `net` container)."""
    parser = argparse.ArgumentParser(prog="python -m orchestrator.compose")
    sub = parser.add_subparsers(dest="cmd", required=True)
    fwd = sub.add_parser("forward", help="forward the container's address to 127.0.0.1 (net service)")
    fwd.add_argument("ports", nargs="+", type=int)
    render = sub.add_parser("render", help="print docker-compose.yml for the default config")
    render.add_argument("--host-network", action="store_true")
    args = parser.parse_args(argv)
    if args.cmd == "forward":
        import asyncio

        if os.environ.get(FORWARD_ENV) != "1":
            # on a host, "own addresses" would be the machine's real interfaces
            print(f"forward runs only inside the compose `net` container ({FORWARD_ENV}=1)", file=sys.stderr)
            return 2
        asyncio.run(_forward(args.ports))
        return 0
    if args.cmd == "render":
        cfg = default_config()
        sys.stdout.write(render_compose(cfg, host_network=args.host_network))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
