"""The devnet in Docker Compose, for real: a private Docker engine, images built
here (no registry), every service healthy, a message A -> B delivered on chain.

What it does (and undoes, even on failure):
1. installs Debian's docker.io / docker-compose / debootstrap when missing (root);
2. starts its own dockerd (--bridge=none --iptables=false: host networking only,
   all traffic on 127.0.0.1) and stops it at the end;
3. builds the base images locally (debootstrap'd bookworm with python3, anvil
   from the npm package) and a pip wheelhouse, then the app image from the
   repo's Dockerfile with those as BASE_IMAGE / ANVIL_IMAGE (cached in the
   engine's data-root for the next run);
4. renders docker-compose.yml (host-network variant, ports shifted so a native
   devnet may run beside it), `compose up`, waits for every service healthy;
5. sends a message rollup-a -> rollup-b from a dev account and waits until the
   destination gateway reports it delivered;
6. `compose down --volumes`, stops dockerd.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from orchestrator.config import default_config
from orchestrator.docker import compose_yaml, images, render
from orchestrator.docker import daemon as docker_daemon
from orchestrator.docker import engine as docker_engine
from orchestrator.docker import project as compose_project
from orchestrator.paths import REPO_ROOT

pytestmark = [pytest.mark.docker, pytest.mark.timeout(1500)]

PROJECT = f"metalayer-devnet-test-{os.getpid()}"
# Candidate port offsets (away from the ones native test devnets take, 100..5000):
# the first whose ports are all free on 127.0.0.1 is used.
OFFSETS = tuple(range(7000, 8000, 100))


def _log(msg: str) -> None:
    print(f"[docker-test] {msg}", flush=True)


@pytest.fixture(scope="module")
def engine():
    if docker_daemon.missing_tools() and os.geteuid() != 0:
        pytest.skip(f"Docker not installed and not root: {', '.join(docker_daemon.missing_tools())}")
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    installed = docker_daemon.ensure_installed(log=_log)
    timings["apt_install"] = time.monotonic() - t0 if installed else 0.0
    with docker_daemon.engine_lock(log=_log), docker_daemon.PrivateDaemon(log=_log) as daemon:
        bases = images.build_base_images(daemon, wheelhouse=REPO_ROOT / "build" / "wheelhouse", log=_log)
        timings.update(bases.seconds)
        try:
            yield daemon, bases, timings
        finally:
            if daemon.process is not None:  # our own engine (not one `devnet up --docker` left running)
                daemon.prune()  # superseded app images; the base images stay as the cache
    # PrivateDaemon.__exit__ stopped dockerd (and the containerd it started)


def test_checked_in_compose_file_is_valid_for_compose(engine):
    """`compose config` (v2 when the plugin exists, else v1) accepts docker-compose.yml as checked in."""
    daemon, _, _ = engine
    proj = compose_project.ComposeProject(
        default_config(), [REPO_ROOT / "docker-compose.yml"], project=PROJECT, env=daemon.env(), log=_log
    )
    proc = proj.compose("config", "-q")
    assert proc.returncode == 0


def test_a_crashing_service_fails_the_wait_with_its_logs(engine, tmp_path: Path):
    """wait_healthy fails fast, naming the service and showing its logs, when one dies."""
    daemon, bases, _ = engine
    config = _free_config()
    compose_project.build_image(
        daemon.env(), base_image=bases.python, anvil_image=bases.anvil, network="host", log=_log
    )
    services = render.compose_services(config, context=str(REPO_ROOT), host_network=True)
    broken = {"hub": {**services["hub"], "command": ["sh", "-c", "echo anvil-is-broken; exit 3"]}}
    path = tmp_path / "docker-compose.yml"
    path.write_text(compose_yaml.to_yaml({"services": broken}))
    proj = compose_project.ComposeProject(config, [path], project=PROJECT + "-broken", env=daemon.env(), log=_log)
    try:
        proj.up(services=["hub"])
        with pytest.raises(compose_project.ComposeError) as err:
            proj.wait_healthy(timeout=60, services=["hub"])
        assert "hub is exited (exit code 3)" in str(err.value)
        assert "anvil-is-broken" in str(err.value)
    finally:
        proj.down()


def test_devnet_up_and_down_docker(engine, tmp_path: Path, capsys):
    """What `devnet up --docker` / `devnet down --docker` run (here on the test's engine)."""
    import json
    import urllib.request
    from dataclasses import replace

    daemon, bases, _ = engine
    config = replace(_free_config(), state_dir=str(tmp_path / "state"))
    project = PROJECT + "-cli"
    chosen = docker_engine.Engine(
        daemon.env(), base_image=bases.python, anvil_image=bases.anvil, host_network=True, build_network="host"
    )
    try:
        assert docker_engine.compose_up(config, project=project, engine=chosen) == 0
        out = capsys.readouterr().out
        assert "Chains" in out and "Services" in out and "devnet down --docker" in out
        manifest = json.loads((tmp_path / "state" / "manifest.json").read_text())
        urls = [manifest["services"]["api"], manifest["services"]["relayer"], *manifest["services"]["guardians"]]
        for url in urls:  # reachable from the host, like a native devnet
            with urllib.request.urlopen(f"{url}/health", timeout=5) as resp:
                assert resp.status == 200, url
    finally:
        assert docker_engine.compose_down(config) == 0  # finds project and engine from the state dir
    proj = compose_project.ComposeProject(
        config, [tmp_path / "state" / "docker-compose.yml"], project=project, env=daemon.env()
    )
    assert proj.containers() == {}
    assert daemon.ping(), "down must not stop an engine it did not start"


def _free_config():
    for offset in OFFSETS:
        config = default_config().with_port_offset(offset)
        if not compose_project.ports_in_use(config):
            return config
    pytest.fail(f"no free port set on 127.0.0.1 for offsets {OFFSETS}")


def test_compose_devnet_delivers_a_message(engine, tmp_path: Path):
    daemon, bases, timings = engine
    config = _free_config()
    proj = None
    try:
        proj, up_timings = compose_project.start_project(
            config,
            project=PROJECT,
            env=daemon.env(),
            host_network=True,
            base_image=bases.python,
            anvil_image=bases.anvil,
            build_network="host",
            work_dir=tmp_path,
            timeout=300,
            log=_log,
        )
        timings.update(up_timings)
        states = proj.containers()
        for name in render.long_running_services(config):  # chains, guardians, relayer, api
            assert states[name].health == "healthy", f"{name}: {states[name]}"
        assert states["deployer"].status == "exited" and states["deployer"].exit_code == 0

        manifest = proj.copy_manifest(tmp_path / "manifest.json")
        assert [c["rpc_url"] for c in manifest["chains"]] == [c.rpc_url for c in config.chains]
        assert manifest["contracts"], "the deployer wrote no contracts into the manifest"

        sent = _send(manifest, "rollup-a", "rollup-b", b"hello from docker")
        _log(f"sent message nonce {sent['nonce']} in block {sent['block']}")
        t0 = time.monotonic()
        _wait_delivered(manifest, sent, timeout=60)
        timings["message_delivery"] = time.monotonic() - t0
    finally:
        try:
            if proj is not None:
                proj.down(volumes=True)
        finally:
            _log("timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()))
    leftover = proj.containers()
    assert not leftover, f"containers left after down: {sorted(leftover)}"


# ---------------------------------------------------------------- chain helpers (web3 on the host)


def _w3(manifest: dict, chain: str):
    from web3 import Web3

    info = next(c for c in manifest["chains"] if c["name"] == chain)
    return Web3(Web3.HTTPProvider(info["rpc_url"], request_kwargs={"timeout": 30})), info


def _gateway(w3, manifest: dict):
    from services.protocol import load_abi

    address = manifest["contracts"]["MetalayerGateway"]["address"]
    return w3.eth.contract(address=w3.to_checksum_address(address), abi=load_abi("MetalayerGateway"))


def _send(manifest: dict, source: str, destination: str, payload: bytes) -> dict:
    from services.protocol import encode_evm

    w3, src = _w3(manifest, source)
    _, dst = _w3(manifest, destination)
    gateway = _gateway(w3, manifest)
    recipient = manifest["contracts"]["CrossChainCounter"]["address"]
    sender = manifest["accounts"][0]["address"]
    tx = gateway.functions.sendMessage(encode_evm(dst["chain_id"], recipient), payload, []).transact({"from": sender})
    receipt = w3.eth.wait_for_transaction_receipt(tx, timeout=30)
    assert receipt["status"] == 1, f"sendMessage reverted: {tx.hex()}"
    from web3.logs import DISCARD

    (committed,) = gateway.events.MessageCommitted().process_receipt(receipt, errors=DISCARD)
    return {
        "source_chain_id": src["chain_id"],
        "destination": destination,
        "nonce": committed["args"]["nonce"],
        "block": receipt["blockNumber"],
    }


def _wait_delivered(manifest: dict, sent: dict, timeout: float) -> None:
    w3, _ = _w3(manifest, sent["destination"])
    gateway = _gateway(w3, manifest)
    deadline = time.monotonic() + timeout
    while not gateway.functions.isDelivered(sent["source_chain_id"], sent["nonce"]).call():
        if time.monotonic() > deadline:
            raise AssertionError(f"message {sent} not delivered on {sent['destination']} after {timeout:.0f}s")
        time.sleep(0.1)
