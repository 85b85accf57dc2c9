"""Base images built locally for a private engine, when no registry can serve them.

`build_base_images()` builds the two images the Dockerfile needs as build
arguments when `python:3.11-slim` and the Foundry image cannot be pulled: a
Debian bookworm rootfs with python3 (debootstrap + `docker import`), and a
from-scratch anvil image (the npm anvil binary plus the libraries it links).
It also fills a pip wheelhouse on the host so the image build needs no index.
Images stay in the private data-root as a cache: a second run reuses them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from orchestrator.build.toolchain import find_anvil
from orchestrator.docker.daemon import DockerEngineError, Log, PrivateDaemon, _log, docker_cli
from orchestrator.paths import REPO_ROOT

PYTHON_BASE_TAG = "metalayer/python-base:bookworm"
ANVIL_TAG = "metalayer/anvil:1.7.1"
DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = os.environ.get("METALAYER_DEBIAN_MIRROR", "http://deb.debian.org/debian")
# python3-venv brings ensurepip (pip inside the venv) like python:3.11-slim has.
DEBOOTSTRAP_PACKAGES = ("python3", "python3-venv", "ca-certificates")


def build_python_base(
    daemon: PrivateDaemon, tag: str = PYTHON_BASE_TAG, rebuild: bool = False, log: Log = _log
) -> float:
    """A Debian bookworm rootfs with python3 + venv, imported as `tag`. Returns seconds spent (0 if cached)."""
    if not rebuild and daemon.image_exists(tag):
        return 0.0
    debootstrap = shutil.which("debootstrap") or "/usr/sbin/debootstrap"
    started = time.monotonic()
    work = daemon.root / "build"
    work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        rootfs = Path(tmp) / "rootfs"
        log(f"debootstrap {DEBIAN_SUITE} (minbase + {', '.join(DEBOOTSTRAP_PACKAGES)}) ...")
        argv = [
            debootstrap,
            "--variant=minbase",
            f"--include={','.join(DEBOOTSTRAP_PACKAGES)}",
            DEBIAN_SUITE,
            str(rootfs),
            DEBIAN_MIRROR,
        ]
        for attempt in (1, 2):  # a mirror hiccup should not fail a CI run
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=1800)
            if proc.returncode == 0:
                break
            debootstrap_log = rootfs / "debootstrap" / "debootstrap.log"
            extra = debootstrap_log.read_text()[-2000:] if debootstrap_log.is_file() else ""
            if attempt == 2:
                raise DockerEngineError(f"debootstrap failed: {proc.stderr[-2000:]} {extra}")
            log(f"debootstrap failed, retrying once: {(proc.stderr or extra).strip()[-300:]}")
            shutil.rmtree(rootfs, ignore_errors=True)
        _slim_rootfs(rootfs)
        log(f"debootstrap done in {time.monotonic() - started:.0f}s; importing as {tag}")
        changes = [
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "ENV LANG=C.UTF-8",
            'CMD ["python3"]',
        ]
        _import_dir(daemon, rootfs, tag, changes)
    return time.monotonic() - started


def _slim_rootfs(rootfs: Path) -> None:
    """Drop what an image never needs: apt lists and caches, docs, man pages, locales."""
    for rel in (
        "var/cache/apt/archives",
        "var/lib/apt/lists",
        "usr/share/doc",
        "usr/share/man",
        "usr/share/info",
        "usr/share/locale",
        "debootstrap",
    ):
        target = rootfs / rel
        if target.is_dir():
            for child in target.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)
    # pip refuses to install into the system Python of Debian (PEP 668); the image
    # uses a venv anyway, and a venv is what python:3.11-slim users get too.


def _import_dir(daemon: PrivateDaemon, directory: Path, tag: str, changes: Sequence[str]) -> None:
    """`tar -C directory . | docker import - tag` (numeric owners kept)."""
    cli = docker_cli()
    assert cli is not None
    args = [cli, "import"]
    for change in changes:
        args += ["--change", change]
    args += ["-", tag]
    tar = subprocess.Popen(["tar", "--numeric-owner", "-C", str(directory), "-cf", "-", "."], stdout=subprocess.PIPE)
    try:
        proc = subprocess.run(args, stdin=tar.stdout, env=daemon.env(), capture_output=True, timeout=900)
    finally:
        assert tar.stdout is not None
        tar.stdout.close()
        tar.wait()
    if proc.returncode != 0 or tar.returncode != 0:
        raise DockerEngineError(f"docker import {tag} failed: {proc.stderr.decode(errors='replace')[-2000:]}")


def _shared_libs(binary: Path) -> list[Path]:
    """The libraries `ldd` says binary loads, the loader included."""
    out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise DockerEngineError(f"ldd {binary} failed: {out.stderr.strip()}")
    libs = []
    for line in out.stdout.splitlines():
        parts = line.split()
        if "=>" in parts:
            target = parts[parts.index("=>") + 1]
            if target.startswith("/"):
                libs.append(Path(target))
        elif parts and parts[0].startswith("/"):
            libs.append(Path(parts[0]))  # the loader, e.g. /lib64/ld-linux-x86-64.so.2
    return libs


def build_anvil_image(daemon: PrivateDaemon, tag: str = ANVIL_TAG, rebuild: bool = False, log: Log = _log) -> float:
    """A from-scratch image with /usr/local/bin/anvil (the npm binary) and its libraries."""
    if not rebuild and daemon.image_exists(tag):
        return 0.0

    started = time.monotonic()
    anvil = find_anvil().resolve()
    work = daemon.root / "build"
    work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        root = Path(tmp) / "anvil-root"
        (root / "usr/local/bin").mkdir(parents=True)
        shutil.copy2(anvil, root / "usr/local/bin/anvil")
        for lib in _shared_libs(anvil):
            real = lib.resolve()
            dest = root / str(lib).lstrip("/")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(real, dest)
        (root / "tmp").mkdir(mode=0o1777)
        os.chmod(root / "tmp", 0o1777)
        _import_dir(daemon, root, tag, ['ENTRYPOINT ["/usr/local/bin/anvil"]'])
    log(f"anvil image {tag} built in {time.monotonic() - started:.1f}s from {anvil}")
    return time.monotonic() - started


def build_wheelhouse(dest: Path, log: Log = _log) -> float:
    """`pip wheel` the project and its dependencies into dest (for `pip install --no-index`).

    Skipped when dest already holds wheels for the current pyproject.toml (keyed by its hash).
    """
    import hashlib

    started = time.monotonic()
    key = hashlib.sha256((REPO_ROOT / "pyproject.toml").read_bytes()).hexdigest()
    stamp = dest / ".pyproject-sha256"
    if stamp.is_file() and stamp.read_text() == key and any(dest.glob("*.whl")):
        return 0.0
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.glob("*.whl"):
        old.unlink()
    log(f"building the pip wheelhouse in {dest}")
    # Dependencies only: the project itself is copied into the image as source.
    reqs = _project_dependencies()
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(dest), *reqs],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if proc.returncode != 0:
        raise DockerEngineError(f"pip wheel failed: {proc.stderr[-3000:]}")
    stamp.write_text(key)
    return time.monotonic() - started


def _project_dependencies() -> list[str]:
    import tomllib

    doc = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    return list(doc["project"]["dependencies"]) + ["setuptools>=68", "wheel"]


@dataclass
class BaseImages:
    python: str
    anvil: str
    wheelhouse: Path | None
    seconds: dict[str, float]


def build_base_images(daemon: PrivateDaemon, wheelhouse: Path | None = None, log: Log = _log) -> BaseImages:
    """Everything the app image build needs offline; each step cached."""
    seconds = {
        "python_base": build_python_base(daemon, log=log),
        "anvil_image": build_anvil_image(daemon, log=log),
    }
    if wheelhouse is not None:
        seconds["wheelhouse"] = build_wheelhouse(wheelhouse, log=log)
    return BaseImages(PYTHON_BASE_TAG, ANVIL_TAG, wheelhouse, seconds)
