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

This module only renders (`render_compose(config)`); project.py drives a
project, engine.py picks the engine (`devnet up/down --docker`), forwarder.py
runs in the `net` container. Service commands come from
orchestrator/services/specs.py, the ones the native supervisor runs.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Any

from orchestrator.chains.anvil import anvil_args
from orchestrator.config import DevnetConfig, default_config, local_url, to_toml
from orchestrator.docker.compose_yaml import to_yaml
from orchestrator.docker.forwarder import FORWARD_ENV
from orchestrator.services.specs import service_specs

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
# Health endpoints of the Python services (services/common/http.py apps).
HEALTH_PATH = "/health"

# ---------------------------------------------------------------- topology


def long_running_services(config: DevnetConfig) -> list[str]:
    """Services that must end up `healthy` (everything but the one-shot deployer and net)."""
    return [c.name for c in config.chains] + list(config.service_ports())


# Healthchecks run every interval in every container, so they are bash builtins
# over /dev/tcp (no curl in the image, and a python start per check would cost
# ~0.5 core with 9 containers at 1 s): `bash -c SCRIPT health PORT ...`.
_RPC_BODY = '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}'
_RPC_CHECK = (
    "exec 3<>/dev/tcp/127.0.0.1/$1"
    " && printf 'POST / HTTP/1.0\\r\\nContent-Type: application/json"
    '\\r\\nContent-Length: %s\\r\\n\\r\\n%s\' ${#2} "$2" >&3'
    " && { IFS= read -r -d '' r <&3; [[ $r == *'\"result\":\"'$3'\"'* ]]; }"
)
_HTTP_CHECK = (
    "exec 3<>/dev/tcp/127.0.0.1/$1"
    " && printf 'GET %s HTTP/1.0\\r\\n\\r\\n' \"$2\" >&3"
    " && IFS= read -r l <&3 && [[ $l == 'HTTP/1.'?' 200'* ]]"
)


def _health(script: str, args: Sequence[str], interval: str) -> dict[str, Any]:
    return {
        "test": ["CMD", "bash", "-c", script, "health", *args],
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
            "command": ["python3", "-m", "orchestrator.docker.forwarder", *[str(p) for p in config.ports()]],
            "environment": {FORWARD_ENV: "1"},
            "ports": [f"127.0.0.1:{p}:{p}" for p in config.ports()],
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
        script = (
            f'printf "%s" "${CONFIG_ENV}" > /tmp/devnet.toml'
            f" && exec {shlex.join(deploy[:2])} --config /tmp/devnet.toml {shlex.join(deploy[2:])}"
        )
        deployer = app(command=["sh", "-c", script], environment={CONFIG_ENV: to_toml(config)})
    deployer["volumes"] = state
    deployer["restart"] = "no"
    deployer["depends_on"] = {c.name: {"condition": "service_healthy"} for c in config.chains}
    services["deployer"] = deployer
    after_deploy = {"deployer": {"condition": "service_completed_successfully"}}
    for spec in service_specs(config, MANIFEST, python="python3"):
        # the relayer asks the guardians on demand (and retries), so every service needs only the manifest
        services[spec.name] = app(
            command=spec.argv,
            volumes=state,
            depends_on=dict(after_deploy),
            healthcheck=_http_health(spec.port, health_interval),
        )
    return compose_escape(services)


def compose_escape(value: Any) -> Any:
    """`value` with every `$` in a string doubled: Compose substitutes `$VAR` from the host's
    environment in every value it reads (health scripts, a mnemonic, anvil_args, the embedded
    devnet.toml), and `$$` is its escape for a literal `$`."""
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, dict):
        return {k: compose_escape(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [compose_escape(v) for v in value]
    return value


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
    services = compose_services(
        config, context=context, image=image, health_interval=health_interval, host_network=host_network
    )
    lines = []
    for chain in config.chains:
        lines.append(f"#   {chain.name:<12} {chain.rpc_url:<24} JSON-RPC + WebSocket (chain id {chain.chain_id})")
    roles = {"relayer": "relayer health and queue", "api": "HTTP API, OpenAPI at /docs, dashboard"}
    roles.update({n: "intent solver health" for n in config.service_ports() if n.startswith("solver-")})
    for name, port in config.service_ports().items():
        lines.append(f"#   {name:<12} {local_url(port):<24} {roles.get(name, 'guardian attestations')}")
    header = _HEADER.format(ports="\n".join(lines), volume=STATE_VOLUME)
    if host_network:
        header = header.replace(
            "Every service shares the network\n# namespace of `net`, so they talk over 127.0.0.1; "
            "`net` publishes the ports on\n# the host's 127.0.0.1 only:",
            "HOST NETWORK variant (Linux): every\n# service runs on the host network and listens on 127.0.0.1 only:",
        )
    body = to_yaml({"services": services, "volumes": {STATE_VOLUME: {}}})
    return header + "\n" + body
