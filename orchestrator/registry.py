"""Running devnets, findable from any directory: each `devnet up` registers its state directory.

    register(state_dir, pid)     # <home>/devnets/<key>.json, written when `devnet up` starts
    unregister(state_dir)        # removed when it stops
    running()                    # live entries; entries whose process is gone (or whose pid is
                                 # now another process's) are removed

<home> is `$DEVNET_HOME`, else `$XDG_STATE_HOME/metalayer-devnet`, else
`~/.local/state/metalayer-devnet`. An entry is keyed by the state directory, so two
devnets with different state directories never overwrite each other's entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from orchestrator.services import pidfile


def home() -> Path:
    explicit = os.environ.get("DEVNET_HOME")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "metalayer-devnet"


@dataclass(frozen=True)
class Entry:
    state_dir: Path
    pid: int
    started: float
    cwd: str
    start: int | None = None  # the process's start time (pidfile.py): a reused pid is not this devnet


def _entry_path(state_dir: Path) -> Path:
    key = hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:16]
    return home() / "devnets" / f"{key}.json"


def register(state_dir: Path, pid: int) -> Path:
    path = _entry_path(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "state_dir": str(state_dir.resolve()),
        "pid": pid,
        "started": time.time(),
        "cwd": os.getcwd(),
        "start": pidfile.start_time(pid),
    }
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc))
    tmp.replace(path)  # readers never see half a file
    return path


def unregister(state_dir: Path, pid: int | None = None) -> None:
    """Remove the entry (only the one `pid` wrote, when given: a newer devnet may own it now)."""
    path = _entry_path(state_dir)
    entry = _read(path)
    if entry is not None and pid is not None and entry.pid != pid:
        return
    path.unlink(missing_ok=True)


def _read(path: Path) -> Entry | None:
    try:
        doc = json.loads(path.read_text())
        start = doc.get("start")
        return Entry(
            Path(doc["state_dir"]),
            int(doc["pid"]),
            float(doc.get("started", 0)),
            str(doc.get("cwd", "")),
            None if start is None else int(start),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def running() -> list[Entry]:
    """Every registered devnet whose process is alive, oldest first; stale entries are deleted."""
    folder = home() / "devnets"
    found = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        entry = _read(path)
        if entry is None or pidfile.Recorded(entry.pid, entry.start).stale(pidfile.devnet_argv) is not None:
            path.unlink(missing_ok=True)
            continue
        found.append(entry)
    return sorted(found, key=lambda e: e.started)
