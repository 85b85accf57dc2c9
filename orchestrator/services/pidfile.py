"""Pids kept in files, with the identity of the process they name, so a reused pid is never taken for ours.

A pid read back from a file (`devnet.pid`, `<run>/pids.json`, a fault in `faults.json`, the
registry) may name a process that exited long ago, its number since given to an unrelated
one: `devnet down` or `devnet chaos kill` would signal that stranger. So next to the pid we
record the process's start time (field 22 of /proc/<pid>/stat, clock ticks since boot),
and a pid counts as that process only while its start time is the same.

    rec = Recorded.of(os.getpid())           # Recorded(pid, start)
    write(path, rec)                         # {"pid": N, "start": T}, replaced atomically
    rec = read(path)                         # None when missing or unreadable
    why = rec.stale(devnet_argv)             # None while rec's process runs; else why not
    rec.signal(signal.SIGSTOP, service_argv) # False, nothing sent, when stale
    rec.stop(devnet_argv, timeout=10)        # SIGTERM, wait, SIGKILL; True once it is gone

A record without a start time (a bare pid, as written before identities were recorded, or
when /proc could not be read) cannot be checked that way: it is trusted only while the
process's command line is the kind of process that wrote it (`legacy`: `devnet_argv` for
devnet.pid, `service_argv` for pids.json). Linux only (/proc), like the rest of procs.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.common.procstat import proc_stat, start_time

Legacy = Callable[[Sequence[str]], bool]


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def devnet_argv(argv: Sequence[str]) -> bool:
    """`devnet up ...` or `python -m orchestrator.cli up ...`: the only writers of devnet.pid."""
    head = [Path(a).name for a in argv[:2]]
    return "up" in argv and ("devnet" in head or "orchestrator.cli" in argv)


def service_argv(argv: Sequence[str]) -> bool:
    """anvil or `python -m services.<name>`: what the supervisors record in pids.json."""
    if argv and Path(argv[0]).name == "anvil":
        return True
    return len(argv) > 2 and argv[1] == "-m" and argv[2].startswith("services.")


@dataclass(frozen=True)
class Recorded:
    pid: int
    start: int | None = None  # None: written without an identity (see the module docstring)

    @classmethod
    def of(cls, pid: int) -> Recorded:
        return cls(pid, start_time(pid))

    @classmethod
    def parse(cls, value: Any) -> Recorded | None:
        """From what a file holds: {"pid", "start"}, or a bare pid (int or text) from before."""
        try:
            if isinstance(value, dict):
                start = value.get("start")
                return cls(int(value["pid"]), None if start is None else int(start))
            return cls(int(str(value).strip()))
        except (KeyError, TypeError, ValueError):
            return None

    def as_json(self) -> dict[str, int | None]:
        return {"pid": self.pid, "start": self.start}

    def stale(self, legacy: Legacy) -> str | None:
        """None while the pid still names the recorded process; otherwise why it does not."""
        stat = proc_stat(self.pid)
        if stat is None and Path(f"/proc/{self.pid}").exists():
            return f"pid {self.pid}: its identity cannot be read"
        if stat is None or stat[0] == "Z":  # a zombie has exited, only its parent has not reaped it
            return f"pid {self.pid} has exited"
        now = stat[1]
        if self.start is None:
            argv = cmdline(self.pid)
            if legacy(argv):
                return None
            shown = " ".join(argv)[:80] or "an unreadable command line"
            return f"pid {self.pid} is not ours: it runs {shown}"
        if now != self.start:
            return f"pid {self.pid} is now another process (started after the pid was recorded)"
        return None

    def signal(self, sig: int, legacy: Legacy) -> bool:
        """Send `sig` only if the pid is still the recorded process. Through a pidfd, the check
        and the signal reach the same process even if the pid is reused in between."""
        try:
            fd: int | None = os.pidfd_open(self.pid)
        except ProcessLookupError:
            return False
        except (AttributeError, OSError):  # no pidfd (old kernel): a plain kill after the check
            fd = None
        try:
            if self.stale(legacy) is not None:
                return False
            if fd is None:
                os.kill(self.pid, sig)
            else:
                signal.pidfd_send_signal(fd, sig)
            return True
        except ProcessLookupError:
            return False
        finally:
            if fd is not None:
                os.close(fd)

    def stop(self, legacy: Legacy, timeout: float = 10.0) -> bool:
        """SIGTERM, wait, then SIGKILL, each only while the pid is still this process. True once gone."""
        if not self.signal(signal.SIGTERM, legacy):
            return True
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.stale(legacy) is not None:
                return True
            time.sleep(0.05)
        self.signal(signal.SIGKILL, legacy)
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            if self.stale(legacy) is not None:
                return True
            time.sleep(0.05)
        return False


def write(path: Path, rec: Recorded) -> None:
    """Write the record whole (readers never see half of it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(rec.as_json()))
    os.replace(tmp, path)


def read(path: Path) -> Recorded | None:
    try:
        text = path.read_text()
    except OSError:
        return None
    try:
        value: Any = json.loads(text)
    except ValueError:
        value = text
    return Recorded.parse(value)
