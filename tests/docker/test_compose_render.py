"""Fast checks of the compose rendering (no Docker engine needed)."""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest

from orchestrator.chains.anvil import anvil_args
from orchestrator.config import default_config, parse_config, to_toml
from orchestrator.docker import forwarder, render
from orchestrator.paths import REPO_ROOT


def test_checked_in_compose_file_is_the_rendering_of_the_default_config():
    checked_in = (REPO_ROOT / "docker-compose.yml").read_text()
    assert checked_in == render.render_compose(default_config()), (
        "docker-compose.yml is stale: run `devnet compose` and commit the result"
    )


def test_yaml_is_the_rendered_structure():
    yaml = pytest.importorskip("yaml")  # PyYAML, when installed (docker-compose v1 brings it system-wide)
    for host_network in (False, True):
        config = default_config()
        doc = yaml.safe_load(render.render_compose(config, host_network=host_network))
        assert doc["services"] == render.compose_services(config, host_network=host_network)
        assert doc["volumes"] == {"devnet-state": None} or doc["volumes"] == {"devnet-state": {}}


def test_chains_run_the_native_anvil_arguments():
    config = default_config()
    services = render.compose_services(config)
    for chain in config.chains:
        svc = services[chain.name]
        assert svc["command"] == ["anvil", *anvil_args(chain, config.accounts, config.mnemonic, host="127.0.0.1")]
        assert svc["network_mode"] == "service:net"
        assert svc["healthcheck"]["test"][-3::2] == [str(chain.port), hex(chain.chain_id)]


def test_ordering_and_shared_state():
    config = default_config()
    services = render.compose_services(config)
    assert set(services) == {"net", "deployer", *render.long_running_services(config)}
    assert services["deployer"]["depends_on"] == {c.name: {"condition": "service_healthy"} for c in config.chains}
    for name in ["guardian-0", "guardian-1", "guardian-2", "relayer", "api"]:
        assert services[name]["depends_on"]["deployer"] == {"condition": "service_completed_successfully"}
        assert services[name]["volumes"] == ["devnet-state:/app/.devnet"]
        assert "--manifest" in services[name]["command"]
    assert services["guardian-1"]["command"][3:5] == ["--index", "1"]
    # only net builds; every port is published on the host's loopback only
    assert [n for n, s in services.items() if "build" in s] == ["net"]
    assert all(s["pull_policy"] == "never" for n, s in services.items() if n != "net")
    ports = services["net"]["ports"]
    assert ports == [f"127.0.0.1:{p}:{p}" for p in config.ports()]
    assert all(p.startswith("127.0.0.1:") for p in ports)


def test_host_network_variant_has_no_bridge_anything():
    config = default_config().with_port_offset(1000)
    services = render.compose_services(config, host_network=True)
    assert "net" not in services
    assert all(s["network_mode"] == "host" for s in services.values())
    assert all("ports" not in s for s in services.values())
    assert [n for n, s in services.items() if "build" in s] == ["hub"]
    assert "9545" in services["hub"]["command"]


def test_non_default_config_reaches_the_deployer():
    config = default_config().with_port_offset(1000).with_block_time(2)
    services = render.compose_services(config)
    deployer = services["deployer"]
    toml_text = deployer["environment"][render.CONFIG_ENV]
    import tomllib

    assert parse_config(tomllib.loads(toml_text)) == config
    assert deployer["command"][:2] == ["sh", "-c"]
    assert "--config /tmp/devnet.toml" in deployer["command"][2]


def test_config_toml_round_trip():
    import tomllib

    for config in [default_config(), default_config().with_block_time(0.5), default_config().with_port_offset(7)]:
        assert parse_config(tomllib.loads(to_toml(config))) == config


def test_healthchecks_answer_like_docker_runs_them():
    """The bash /dev/tcp checks, run as Docker runs them (after compose's `$$` unescaping)."""
    import http.server
    import subprocess

    from orchestrator.build.toolchain import find_anvil

    config = default_config()

    def run(test: list[str]) -> int:
        argv = [a.replace("$$", "$") for a in test[1:]]
        return subprocess.run(argv, capture_output=True, timeout=10).returncode

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    chain_id = config.hub.chain_id
    anvil = subprocess.Popen(
        [str(find_anvil()), "--host", "127.0.0.1", "--port", str(port), "--chain-id", str(chain_id)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        check = render._rpc_health(port, chain_id, "1s")["test"]
        wrong = render._rpc_health(port, chain_id + 1, "1s")["test"]
        for _ in range(100):
            if run(check) == 0:
                break
            threading.Event().wait(0.05)
        assert run(check) == 0
        assert run(wrong) != 0
    finally:
        anvil.terminate()
        anvil.wait()
    assert run(check) != 0  # nothing listening

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/health" else 404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        http_port = server.server_address[1]
        assert run(render._http_health(http_port, "1s")["test"]) == 0
        bad = render._health(render._HTTP_CHECK, [str(http_port), "/nope"], "1s")["test"]
        assert run(bad) != 0
    finally:
        server.shutdown()


def test_forwarder_relays_to_loopback():
    """The `net` forwarder (bridge mode), bound to 127.0.0.2 here, reaches a server on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = socket.socket()
    server.bind(("127.0.0.1", port))
    server.listen()

    def echo() -> None:
        conn, _ = server.accept()
        with conn:
            conn.sendall(conn.recv(100).upper())

    threading.Thread(target=echo, daemon=True).start()
    loop = asyncio.new_event_loop()
    task = loop.create_task(forwarder._forward([port], listen=["127.0.0.2"]))

    def run() -> None:
        try:
            loop.run_until_complete(task)
        except asyncio.CancelledError:
            pass
        finally:
            loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        for _ in range(100):
            try:
                client = socket.create_connection(("127.0.0.2", port), timeout=2)
                break
            except OSError:
                threading.Event().wait(0.02)
        with client:
            client.sendall(b"ping")
            assert client.recv(100) == b"PING"
    finally:
        if not loop.is_closed():
            loop.call_soon_threadsafe(task.cancel)
        thread.join(timeout=5)
        server.close()


def test_every_dollar_is_escaped_for_compose():
    """Compose substitutes `$VAR` from the host in every value; the rendering must double each `$`
    (anvil_args, the mnemonic and the embedded devnet.toml) so the containers see the literal text."""
    import re
    import tomllib
    from dataclasses import replace

    base = default_config()
    rollup = replace(base.rollups[0], anvil_args=("--fork-url", "http://node/$API_KEY"))
    config = replace(
        base, chains=(base.hub, rollup, base.rollups[1]), mnemonic="word$HOME " * 11 + "x", state_dir="/tmp/$USER"
    )
    text = render.render_compose(config)
    assert not re.search(r"(?<!\$)\$(?!\$)", text.replace("$$", "")), "a single $ would be substituted by Compose"
    services = render.compose_services(config)
    assert "http://node/$$API_KEY" in services["rollup-a"]["command"]
    assert "word$$HOME" in services["hub"]["command"][services["hub"]["command"].index("--mnemonic") + 1]
    toml_text = services["deployer"]["environment"][render.CONFIG_ENV].replace("$$", "$")
    assert tomllib.loads(toml_text)["state_dir"] == "/tmp/$USER"
    # the shell and health scripts keep working: their own `$` are escaped once, not twice
    assert '"$$DEVNET_CONFIG_TOML"' in services["deployer"]["command"][2]
    assert "$$$" not in text
