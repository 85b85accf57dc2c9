"""Log files: one set per run (earlier runs archived, bounded), and following them as `name | line`.

rotate_logs(log_dir, keep=5)     # before a run: logs/*.log -> logs/<run>/, keeping the last `keep` runs
is_rpc_chatter("eth_call")       # anvil's one-line-per-RPC-method noise
follow_logs(paths, stop, out)    # print every line appended to any of the files
"""

from __future__ import annotations

import re
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

KEEP_RUNS = 5
# anvil logs every RPC method it serves on a line of its own ("eth_getBlockByNumber")
_RPC_LINE = re.compile(r"^\s*(eth|net|web3|anvil|evm|debug|trace|txpool|ots|hardhat|rpc)_[A-Za-z0-9_]+\s*$")

LineFilter = Callable[[str, str], bool]  # (source name, line) -> keep


def is_rpc_chatter(line: str) -> bool:
    return bool(_RPC_LINE.match(line))


def rotate_logs(log_dir: Path, keep: int = KEEP_RUNS) -> Path | None:
    """Move the previous run's logs into logs/<its start time>/ and delete all but the newest `keep` runs.

    Returns the archive folder (None when there was nothing to archive)."""
    current = sorted(log_dir.glob("*.log")) if log_dir.is_dir() else []
    archive = None
    if current:
        started = min(p.stat().st_mtime for p in current)
        name = time.strftime("%Y%m%d-%H%M%S", time.localtime(started))
        archive = log_dir / name
        n = 1
        while archive.exists():
            n += 1
            archive = log_dir / f"{name}-{n}"
        archive.mkdir(parents=True)
        for path in current:
            path.rename(archive / path.name)
    runs = (
        sorted((p for p in log_dir.iterdir() if p.is_dir() and p.name[:1].isdigit()), key=lambda p: p.name)
        if log_dir.is_dir()
        else []
    )
    for old in runs[: max(0, len(runs) - keep)]:
        shutil.rmtree(old, ignore_errors=True)
    return archive


def follow_logs(
    paths: dict[str, Path],
    stop: threading.Event,
    out: TextIO,
    from_start: bool = False,
    interval: float = 0.1,
    keep: LineFilter | None = None,
) -> None:
    """Print every line appended to the files in `paths`, prefixed with its name, until stop is set.

    `keep(name, line)` returning False drops a line (e.g. anvil's RPC chatter)."""
    width = max((len(n) for n in paths), default=0)
    offsets: dict[str, int] = {}
    for name, path in paths.items():
        offsets[name] = 0 if from_start else (path.stat().st_size if path.exists() else 0)
    partial: dict[str, bytes] = dict.fromkeys(paths, b"")
    while True:
        for name, path in paths.items():
            try:
                size = path.stat().st_size
            except OSError:
                continue
            if size < offsets[name]:  # truncated (a new run)
                offsets[name] = 0
            if size == offsets[name]:
                continue
            with open(path, "rb") as f:
                f.seek(offsets[name])
                chunk = f.read(size - offsets[name])
            offsets[name] = size
            data = partial[name] + chunk
            *lines, partial[name] = data.split(b"\n")
            for raw in lines:
                line = raw.decode(errors="replace")
                if keep is None or keep(name, line):
                    out.write(f"{name.ljust(width)} | {line}\n")
            out.flush()
        if stop.wait(interval):
            return
