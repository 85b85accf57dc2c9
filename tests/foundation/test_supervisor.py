"""ServiceSupervisor: parallel start with health checks, crash restarts with a log line, clean stop."""

from __future__ import annotations

import io
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

from orchestrator.config import default_config
from orchestrator.services.procs import pid_alive
from orchestrator.services.specs import ServiceSpec, service_specs
from orchestrator.services.supervisor import ServiceStartError, ServiceSupervisor

FAKE = """
import http.server, sys, time
port = int(sys.argv[1])
if len(sys.argv) > 2 and sys.argv[2] == "crash":
    print("cannot start", flush=True); sys.exit(3)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *a): pass
print(f"fake service on {port}", flush=True)
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fake_spec(tmp_path: Path, name: str, *extra: str) -> ServiceSpec:
    script = tmp_path / "fake.py"
    script.write_text(FAKE)
    port = free_port()
    return (
        ServiceSpec(name, "runpy", (), port, f"http://127.0.0.1:{port}/health", python=sys.executable)
        if False
        else _spec(name, [str(script), str(port), *extra], port)
    )


def _spec(name: str, argv: list[str], port: int) -> ServiceSpec:
    class Spec(ServiceSpec):
        @property
        def argv(self) -> list[str]:  # a plain script instead of `python -m module`
            return [sys.executable, *self.args]

    return Spec(name, "fake", tuple(argv), port, f"http://127.0.0.1:{port}/health")


def test_service_specs_cover_every_service():
    config = default_config()
    specs = service_specs(config, "/m.json")
    assert [s.name for s in specs] == ["guardian-0", "guardian-1", "guardian-2", "relayer", "api", "solver-0"]
    g1 = specs[1]
    assert g1.argv[1:] == ["-m", "services.guardian", "--index", "1", "--manifest", "/m.json"]
    assert g1.health_url == "http://127.0.0.1:9101/health"
    assert specs[3].port == 9200 and specs[4].port == 8000
    assert specs[3].command("python3", "/shared/manifest.json") == [
        "python3",
        "-m",
        "services.relayer",
        "--manifest",
        "/shared/manifest.json",
    ]
    assert "relayer" not in [s.name for s in service_specs(config, "/m.json", relayer=False)]
    assert service_specs(config, "/m.json", guardian_args=["--x"])[0].args[-1] == "--x"


def test_start_restart_stop(tmp_path):
    specs = [fake_spec(tmp_path, "svc-a"), fake_spec(tmp_path, "svc-b")]
    events: list[str] = []
    sup = ServiceSupervisor(
        default_config(), tmp_path / "m.json", tmp_path / "logs", specs=specs, on_event=events.append
    )
    with sup:
        sup.start(timeout=20)
        pids = sup.pids()
        assert set(pids) == {"svc-a", "svc-b"} and all(pid_alive(p) for p in pids.values())
        out = io.StringIO()
        stop = threading.Event()
        follower = sup.stream_logs(stop, out=out, from_start=True)
        sup.kill("svc-a")
        deadline = time.monotonic() + 10
        while sup.pids().get("svc-a") in (None, pids["svc-a"]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sup.pids()["svc-a"] != pids["svc-a"]
        assert any("svc-a exited" in e and "restarting" in e for e in events)
        assert "restarting" in (tmp_path / "logs" / "svc-a.log").read_text()
        sup.wait_healthy(["svc-a"], 10)
        time.sleep(0.3)
        stop.set()
        follower.join(2)
        assert "svc-a | fake service on" in out.getvalue() and "svc-b | fake service on" in out.getvalue()
        # stopped on purpose: not restarted
        sup.stop_service("svc-b")
        time.sleep(0.6)
        assert "svc-b" not in sup.pids()
        sup.start_service("svc-b", timeout=10)
        assert "svc-b" in sup.pids()
        all_pids = list(sup.pids().values())
    assert not any(pid_alive(p) for p in all_pids)


def test_a_service_failing_at_start_is_named_and_nothing_is_left(tmp_path):
    good, bad = fake_spec(tmp_path, "good"), fake_spec(tmp_path, "bad", "crash")
    sup = ServiceSupervisor(default_config(), tmp_path / "m.json", tmp_path / "logs", specs=[good, bad])
    with pytest.raises(ServiceStartError, match=r"service bad exited at start with code 3: cannot start"):
        sup.start(timeout=20)
    time.sleep(0.1)
    assert sup.pids() == {}
