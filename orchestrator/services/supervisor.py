"""The devnet's Python services as supervised child processes.

    sup = ServiceSupervisor(config, manifest_path, log_dir)
    sup.start()          # all at once, then waits until every /health answers 200
    sup.check()          # restarts any service that died, with a visible log line
    follow = sup.stream_logs(stop_event)   # thread printing "name | line" for every log
    sup.stop()

Each service logs to `<log_dir>/<name>.log`. A monitor thread calls `check()`
every 0.25 s, so crashed services come back by themselves (with a backoff when
one crashes in a loop); callers such as the CLI may call `check()` too.
"""

from __future__ import annotations

import http.client
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, TextIO

from orchestrator.config import DevnetConfig
from orchestrator.paths import REPO_ROOT
from orchestrator.services import procs
from orchestrator.services.logs import follow_logs
from orchestrator.services.specs import ServiceSpec, service_specs

HEALTH_TIMEOUT = 30.0


class ServiceStartError(RuntimeError):
    """A service did not become healthy; the message names it and quotes its log."""


def http_ok(url: str, timeout: float = 0.5) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException):
        # HTTPException: a probe of a port in the ephemeral range can connect to itself
        # (TCP self-connect) and read its own request back: "not up yet", not a crash.
        return False


@dataclass
class Service:
    spec: ServiceSpec
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    stopped: bool = False          # stopped on purpose: do not restart
    next_restart: float = 0.0
    started_at: float = 0.0

    @property
    def name(self) -> str:
        return self.spec.name

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class ServiceSupervisor:
    config: DevnetConfig
    manifest_path: Path
    log_dir: Path
    specs: list[ServiceSpec] | None = None
    relayer: bool = True
    skip: tuple[str, ...] = ()                     # service names to leave out (e.g. ("relayer",))
    guardian_args: tuple[str, ...] = ()            # e.g. ("--allow-equivocation-for-tests",)
    relayer_args: tuple[str, ...] = ()             # e.g. ("--root-post-interval", "1")
    auto_restart: bool = True
    on_event: Callable[[str], None] | None = None  # restart lines etc. (the CLI prints them)
    services: dict[str, Service] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.manifest_path = Path(self.manifest_path)
        self.log_dir = Path(self.log_dir)
        if self.specs is None:
            self.specs = service_specs(self.config, self.manifest_path, relayer=self.relayer,
                                       guardian_args=self.guardian_args, relayer_args=self.relayer_args)
        self.specs = [s for s in self.specs if s.name not in self.skip]
        self.services = {s.name: Service(s, self.log_dir / f"{s.name}.log") for s in self.specs}
        self.startup_seconds: dict[str, float] = {}  # spawn -> first healthy answer, per service
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._monitor: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle

    def names(self) -> list[str]:
        return list(self.services)

    def pids(self) -> dict[str, int]:
        return {n: s.process.pid for n, s in self.services.items() if s.alive() and s.process is not None}

    def start(self, timeout: float = HEALTH_TIMEOUT) -> None:
        """Start every service at once and wait for all their health checks; on failure stop them all."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            with self._lock:
                for svc in self.services.values():
                    self._spawn(svc)
            self.wait_healthy(list(self.services), timeout)
        except BaseException:
            self.stop()
            raise
        if self.auto_restart and self._monitor is None:
            self._monitor = threading.Thread(target=self._monitor_loop, name="service-monitor", daemon=True)
            self._monitor.start()

    def wait_healthy(self, names: list[str], timeout: float = HEALTH_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        waiting = list(names)
        while waiting:
            for name in list(waiting):
                svc = self.services[name]
                if svc.process is not None and svc.process.poll() is not None:
                    raise ServiceStartError(
                        f"service {name} exited at start with code {svc.process.returncode}: "
                        f"{procs.tail(svc.log_path, 5)}"
                    )
                if http_ok(svc.spec.health_url, timeout=2.0):  # the API asks every chain: slow at 32 rollups
                    waiting.remove(name)
                    self.startup_seconds[name] = round(time.monotonic() - svc.started_at, 3)
            if waiting:
                if time.monotonic() > deadline:
                    detail = "; ".join(f"{n}: {procs.tail(self.services[n].log_path, 3)}" for n in waiting)
                    raise ServiceStartError(f"services not healthy after {timeout:.0f}s: {', '.join(waiting)} ({detail})")
                time.sleep(0.02)

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            running = [s for s in self.services.values() if s.alive()]
            for svc in running:
                svc.stopped = True
                try:
                    svc.process.terminate()  # type: ignore[union-attr]
                except ProcessLookupError:
                    pass
            for svc in running:
                procs.stop(svc.process)  # type: ignore[arg-type]
        if self._monitor is not None and self._monitor is not threading.current_thread():
            self._monitor.join(timeout=2)
            self._monitor = None

    def __enter__(self) -> "ServiceSupervisor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ one service (tests, CLI)

    def stop_service(self, name: str, kill: bool = False) -> None:
        """Stop one service (SIGTERM, or SIGKILL with kill=True); it stays down until start_service."""
        with self._lock:
            svc = self.services[name]
            svc.stopped = True
            if svc.process is not None and svc.process.poll() is None:
                if kill:
                    svc.process.kill()
                    svc.process.wait()
                else:
                    procs.stop(svc.process)

    def start_service(self, name: str, wait: bool = True, timeout: float = HEALTH_TIMEOUT) -> None:
        with self._lock:
            svc = self.services[name]
            svc.stopped = False
            if not svc.alive():
                self._spawn(svc)
        if wait:
            self.wait_healthy([name], timeout)

    def kill(self, name: str) -> None:
        """SIGKILL a service as a crash would; the supervisor restarts it (crash tests)."""
        svc = self.services[name]
        if svc.process is not None and svc.process.poll() is None:
            svc.process.kill()

    # ------------------------------------------------------------ supervision

    def check(self) -> list[str]:
        """Restart every service that died (not stopped on purpose); returns the names restarted.

        A service that ran for a while comes back at once; one that keeps crashing right after
        start backs off (0.5 s doubling up to 5 s). Spawning happens in the calling thread, which
        must outlive the child (PR_SET_PDEATHSIG fires when the spawning *thread* exits): the
        monitor thread and the CLI's main loop both do.
        """
        restarted: list[str] = []
        with self._lock:
            if self._stopping.is_set():
                return restarted
            now = time.monotonic()
            for svc in self.services.values():
                if svc.stopped or svc.process is None or svc.process.poll() is None:
                    continue
                if svc.next_restart == 0.0:
                    svc.restarts += 1
                    quick = now - svc.started_at < 2.0
                    delay = min(5.0, 0.25 * 2 ** min(svc.restarts, 5)) if quick else 0.0
                    svc.next_restart = now + delay
                    line = (f"service {svc.name} exited with code {svc.process.returncode}; "
                            f"restarting (restart #{svc.restarts})" + (f" in {delay:.1f}s" if delay else ""))
                    self._event(svc, line)
                if now < svc.next_restart:
                    continue
                svc.next_restart = 0.0
                self._spawn(svc)
                restarted.append(svc.name)
        return restarted

    def _monitor_loop(self) -> None:
        while not self._stopping.wait(0.25):
            try:
                self.check()
            except Exception as exc:  # noqa: BLE001 - the monitor must keep running
                print(f"supervisor: check failed: {exc}", file=sys.stderr)

    def _spawn(self, svc: Service) -> None:
        svc.process = procs.spawn(svc.spec.argv, svc.log_path, cwd=REPO_ROOT)
        svc.started_at = time.monotonic()
        procs.record_pid(self.config.state.pids, svc.name, svc.process.pid)

    def _event(self, svc: Service, line: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        with open(svc.log_path, "a") as f:
            f.write(f"{stamp} supervisor WARNING {line}\n")
        with open(self.log_dir / "supervisor.log", "a") as f:
            f.write(f"{stamp} {line}\n")
        if self.on_event is not None:
            self.on_event(line)

    # ------------------------------------------------------------ logs

    def stream_logs(self, stop: threading.Event, names: Iterable[str] | None = None,
                    out: TextIO | None = None, from_start: bool = False) -> threading.Thread:
        """A thread printing new lines of each service log as `name | line` until `stop` is set."""
        paths = {n: self.services[n].log_path for n in (names or self.services)}
        thread = threading.Thread(target=follow_logs, args=(paths, stop, out or sys.stdout, from_start),
                                  name="log-stream", daemon=True)
        thread.start()
        return thread
