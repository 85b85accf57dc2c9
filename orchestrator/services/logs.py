"""Following log files: `name | line` for every line appended to any of them."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TextIO


def follow_logs(paths: dict[str, Path], stop: threading.Event, out: TextIO, from_start: bool = False,
                interval: float = 0.1) -> None:
    """Print every line appended to the files in `paths`, prefixed with its name, until stop is set."""
    width = max((len(n) for n in paths), default=0)
    offsets: dict[str, int] = {}
    for name, path in paths.items():
        offsets[name] = 0 if from_start else (path.stat().st_size if path.exists() else 0)
    partial: dict[str, bytes] = {n: b"" for n in paths}
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
            for line in lines:
                out.write(f"{name.ljust(width)} | {line.decode(errors='replace')}\n")
            out.flush()
        if stop.wait(interval):
            return
