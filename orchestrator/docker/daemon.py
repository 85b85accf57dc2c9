"""A Docker engine for the devnet's containers where no registry is reachable.

Two jobs, each usable alone:

* `ensure_installed()` installs Debian's docker.io, docker-compose and
  debootstrap with apt-get when they are missing (CI starts on a fresh machine).
* `PrivateDaemon` starts a dockerd of our own (`--bridge=none --iptables=false`,
  so only host networking exists and all traffic stays on 127.0.0.1) with its own
  socket, data-root, exec-root and pidfile, and stops it by its pid. It never
  touches another daemon on the machine.
* images.py builds the base images locally for such a daemon.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.services import procs

# Where the private engine lives. Outside the work tree on purpose: its
# data-root (images, build cache) survives `git clean` and fresh checkouts.
DEFAULT_ROOT = Path(os.environ.get("METALAYER_DOCKER_ROOT", "/var/lib/metalayer-docker"))
# Socket and exec-root paths must stay short (unix socket path limit).
DEFAULT_RUN = Path(os.environ.get("METALAYER_DOCKER_RUN", "/run/metalayer-docker"))

APT_PACKAGES = ("docker.io", "docker-compose", "debootstrap")

Log = Callable[[str], None]


class DockerEngineError(RuntimeError):
    """The engine could not be installed, started or used; the message says why."""


def _log(msg: str) -> None:
    print(f"[docker] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- install


def missing_tools() -> list[str]:
    """Debian packages whose commands are not on PATH."""
    needed = {"docker.io": "dockerd", "docker-compose": None, "debootstrap": "debootstrap"}
    missing = []
    for package, command in needed.items():
        if command is None:  # docker-compose: v1 or the v2 plugin
            if compose_command() is None:
                missing.append(package)
        elif shutil.which(command) is None and not Path(f"/usr/sbin/{command}").exists():
            missing.append(package)
    # the docker CLI: any client will do (docker.io brings /usr/bin/docker)
    if docker_cli() is None and "docker.io" not in missing:
        missing.append("docker.io")
    return missing


def ensure_installed(log: Log = _log) -> list[str]:
    """apt-get install what is missing; returns the packages installed (maybe none)."""
    missing = missing_tools()
    if not missing:
        return []
    if os.geteuid() != 0:
        raise DockerEngineError(f"missing {', '.join(missing)}: run `sudo apt-get install {' '.join(APT_PACKAGES)}`")
    if shutil.which("apt-get") is None:
        raise DockerEngineError(f"missing {', '.join(missing)} and no apt-get to install them")
    log(f"installing {' '.join(missing)} with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (
        ["apt-get", "-o", "Acquire::Retries=3", "update", "-qq"],
        ["apt-get", "-o", "Acquire::Retries=3", "install", "-y", "-qq", "--no-install-recommends", *missing],
    ):
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900)
        if proc.returncode != 0:
            raise DockerEngineError(f"{' '.join(argv)} failed: {(proc.stderr or proc.stdout)[-2000:]}")
    still = missing_tools()
    if still:
        raise DockerEngineError(f"still missing after apt-get: {', '.join(still)}")
    return missing


def docker_cli() -> str | None:
    """A docker client. Debian's /usr/bin/docker first: it matches Debian's engine."""
    for candidate in ("/usr/bin/docker", shutil.which("docker")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def compose_command(env: dict[str, str] | None = None) -> list[str] | None:
    """`docker compose` (v2) when the plugin answers, else `docker-compose` (v1), else None."""
    cli = docker_cli()
    if cli is not None:
        try:
            proc = subprocess.run([cli, "compose", "version"], capture_output=True, text=True, timeout=20, env=env)
            if proc.returncode == 0 and "version" in proc.stdout.lower():
                return [cli, "compose"]
        except (OSError, subprocess.TimeoutExpired):
            pass
    v1 = shutil.which("docker-compose")
    if v1:
        return [v1]
    return None


# ---------------------------------------------------------------- private daemon


@dataclass
class PrivateDaemon:
    """A dockerd of our own; a context manager that always stops it.

    `host` is the DOCKER_HOST to give clients (`env()` builds their environment).
    """

    root: Path = DEFAULT_ROOT
    run_dir: Path = DEFAULT_RUN
    start_timeout: float = 60.0
    log: Log = _log
    # When a private dockerd of ours already runs (started by `devnet up --docker`),
    # start() uses it instead of starting another, and stop() leaves it running.
    reuse: bool = True
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    attached_pid: int | None = field(default=None, init=False)

    @property
    def socket(self) -> Path:
        return self.run_dir / "docker.sock"

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    @property
    def pidfile(self) -> Path:
        return self.run_dir / "docker.pid"

    @property
    def exec_root(self) -> Path:
        return self.run_dir / "exec"

    @property
    def data_root(self) -> Path:
        return self.root / "data"

    @property
    def log_path(self) -> Path:
        return self.root / "dockerd.log"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        env["DOCKER_HOST"] = self.host
        # Debian's engine 20.10 has no BuildKit plugin here: the classic builder is enough.
        env["DOCKER_BUILDKIT"] = "0"
        env["COMPOSE_DOCKER_CLI_BUILD"] = "0"
        return env

    def argv(self) -> list[str]:
        dockerd = shutil.which("dockerd") or "/usr/sbin/dockerd"
        return [
            dockerd,
            "--bridge=none",
            "--iptables=false",
            "--ip-masq=false",
            "--userland-proxy=false",
            f"--host={self.host}",
            f"--data-root={self.data_root}",
            f"--exec-root={self.exec_root}",
            f"--pidfile={self.pidfile}",
            "--log-level=warn",
        ]

    def _stale_pid(self) -> int | None:
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if procs.pid_alive(pid) else None

    def is_ours(self, pid: int) -> bool:
        """True if pid is a dockerd started with exactly our pidfile (by this module, maybe earlier)."""
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        return bool(argv) and argv[0].endswith(b"dockerd") and f"--pidfile={self.pidfile}".encode() in argv

    def running_pid(self) -> int | None:
        """The pid of a live private dockerd of ours (e.g. left by `devnet up --docker`), if any."""
        pid = self._stale_pid()
        return pid if pid is not None and self.is_ours(pid) else None

    def stop_running(self, timeout: float = 30.0) -> bool:
        """Stop a private dockerd of ours found through the pidfile. True if one was stopped."""
        pid = self.running_pid()
        if pid is None:
            return False
        procs.stop_pid(pid, timeout=timeout)
        self.log(f"stopped dockerd pid {pid}")
        return True

    def start(self) -> PrivateDaemon:
        running = self._stale_pid()
        if running is not None and self.is_ours(running):
            if self.reuse and self.ping():
                self.attached_pid = running
                self.log(f"using the running private dockerd (pid {running}) on {self.host}")
                return self
            # ours (same pidfile) but unusable: left by a run that was killed
            self.log(f"stopping a leftover private dockerd (pid {running})")
            procs.stop_pid(running, timeout=30)
        elif running is not None:
            raise DockerEngineError(
                f"process {running} holds {self.pidfile}; stop it first "
                f"or set METALAYER_DOCKER_RUN/METALAYER_DOCKER_ROOT"
            )
        self.pidfile.unlink(missing_ok=True)
        if self.socket.exists():
            self.socket.unlink()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.data_root.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        # not tied to our lifetime by PDEATHSIG: dockerd must get the chance to stop
        # its containers; `stop()` (always called through the context manager) does it.
        self.process = procs.spawn(self.argv(), self.log_path, tie_to_parent=False)
        deadline = started + self.start_timeout
        while True:
            if self.process.poll() is not None:
                raise DockerEngineError(
                    f"dockerd exited with code {self.process.returncode}: {procs.tail(self.log_path, 10)}"
                )
            if self.ping():
                break
            if time.monotonic() > deadline:
                self.stop()
                raise DockerEngineError(
                    f"dockerd not answering on {self.socket} after {self.start_timeout:.0f}s: "
                    f"{procs.tail(self.log_path, 10)}"
                )
            time.sleep(0.1)
        self.log(f"dockerd pid {self.process.pid} up in {time.monotonic() - started:.1f}s on {self.host}")
        return self

    def ping(self) -> bool:
        import http.client
        import socket as socketlib

        if not self.socket.exists():
            return False

        class _Conn(http.client.HTTPConnection):
            def connect(conn_self) -> None:
                s = socketlib.socket(socketlib.AF_UNIX, socketlib.SOCK_STREAM)
                s.settimeout(2)
                s.connect(str(self.socket))
                conn_self.sock = s

        try:
            conn = _Conn("localhost", timeout=2)
            conn.request("GET", "/_ping")
            ok = conn.getresponse().status == 200
            conn.close()
            return ok
        except (OSError, http.client.HTTPException):
            return False

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM the dockerd we started (it stops its containers and containerd), wait, then SIGKILL.

        A daemon we only attached to (reuse) keeps running: whoever started it stops it.
        """
        self.attached_pid = None
        if self.process is None:
            return
        procs.stop(self.process, timeout=timeout)
        self.log(f"dockerd pid {self.process.pid} stopped")
        self.process = None

    def __enter__(self) -> PrivateDaemon:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- client helpers -------------------------------------------------

    def docker(
        self, *args: str, timeout: float = 600, check: bool = True, input: bytes | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        cli = docker_cli()
        if cli is None:
            raise DockerEngineError("no docker client on PATH: install docker.io")
        proc = subprocess.run([cli, *args], env=self.env(), capture_output=True, timeout=timeout, input=input)
        if check and proc.returncode != 0:
            raise DockerEngineError(
                f"docker {' '.join(args)} failed ({proc.returncode}): {proc.stderr.decode(errors='replace')[-3000:]}"
            )
        return proc

    def prune(self) -> None:
        """Drop stopped containers and dangling images (old builds of our tags): keeps the cache small."""
        self.docker("container", "prune", "-f", check=False, timeout=120)
        self.docker("image", "prune", "-f", check=False, timeout=300)

    def image_exists(self, tag: str) -> bool:
        return self.docker("image", "inspect", tag, check=False, timeout=60).returncode == 0


@contextlib.contextmanager
def engine_lock(root: Path = DEFAULT_ROOT, timeout: float = 1800, log: Log = _log) -> Iterator[None]:
    """Serialize users of the private engine (tests, benchmarks) on one machine.

    Two test runs at once would otherwise share one dockerd and the first to
    finish would stop it under the second.
    """
    import fcntl

    root.mkdir(parents=True, exist_ok=True)
    with open(root / "engine.lock", "w") as fh:
        deadline = time.monotonic() + timeout
        waited = False
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waited:
                    log(f"another run holds {root / 'engine.lock'}; waiting")
                    waited = True
                if time.monotonic() > deadline:
                    raise DockerEngineError(f"{root / 'engine.lock'} still held after {timeout:.0f}s") from None
                time.sleep(1)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
