"""A process's identity as /proc shows it: a pid read back from a file may name another process.

    proc_stat(pid) -> (state, start time) | None      start_time(pid) -> int | None

The start time (field 22 of /proc/<pid>/stat, clock ticks since boot) next to a recorded pid tells
the process that wrote it from a later one the kernel gave the same number (orchestrator pid files,
the solvers' registered terms).
"""

from __future__ import annotations


def proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, start time in clock ticks since boot) from /proc/<pid>/stat; None if unreadable."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    fields = text[text.rfind(")") + 1 :].split()  # the command name in (...) may hold spaces
    try:
        return fields[0], int(fields[19])  # fields[0] is field 3 (state), fields[19] field 22
    except (IndexError, ValueError):
        return None


def start_time(pid: int) -> int | None:
    """The process's start time; None if it is gone, a zombie, or unreadable."""
    stat = proc_stat(pid)
    return None if stat is None or stat[0] == "Z" else stat[1]
