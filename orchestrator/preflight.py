"""Checks before `devnet up` starts anything: every port of the topology free, and who holds a taken one.

    check_ports(config)   # raises PortTakenError("chain rollup-a: port 8546 on 127.0.0.1 is already in use by ...")
    port_owner(8546)      # "pid 1234 (anvil --port 8546 ...)" or None

The owner comes from /proc/net/tcp{,6} (the socket's inode) matched against
/proc/<pid>/fd links; a process of another user cannot be read that way, so
`ss -ltnp` is asked next when it is installed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from orchestrator.config import HOST, DevnetConfig
from orchestrator.services.procs import port_in_use


class PortTakenError(RuntimeError):
    """A port the devnet needs is taken; the message names it and, where known, its owner."""


def topology_ports(config: DevnetConfig) -> list[tuple[str, int]]:
    """(label, port) for every process of the devnet, chains first."""
    ports = [(f"chain {c.name}", c.port) for c in config.chains]
    return ports + [(f"service {name}", port) for name, port in config.service_ports().items()]


def check_ports(config: DevnetConfig) -> None:
    for label, port in topology_ports(config):
        if port_in_use(port):
            owner = port_owner(port)
            by = f" by {owner}" if owner else ""
            raise PortTakenError(f"{label}: port {port} on {HOST} is already in use{by}")


def _socket_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and int(fields[1].rsplit(":", 1)[1], 16) == port and fields[9] != "0":
                inodes.add(fields[9])
    return inodes


def _command(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    words = [w.decode(errors="replace") for w in raw.split(b"\0") if w]
    text = " ".join(" ".join([Path(words[0]).name, *words[1:]]).split()) if words else "?"
    return text if len(text) <= 80 else text[:77] + "..."


def _from_proc(port: int) -> str | None:
    inodes = _socket_inodes(port)
    if not inodes:
        return None
    targets = {f"socket:[{i}]" for i in inodes}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fds = os.listdir(proc / "fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(proc / "fd" / fd) in targets:
                    return f"pid {proc.name} ({_command(int(proc.name))})"
            except OSError:
                continue
    return None


def _from_ss(port: int) -> str | None:
    ss = shutil.which("ss")
    if ss is None:
        return None
    try:
        out = subprocess.run([ss, "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, timeout=3).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r'users:\(\("([^"]+)",pid=(\d+)', out)
    return f"pid {match.group(2)} ({match.group(1)})" if match else None


def port_owner(port: int) -> str | None:
    """Which process holds `port`, as "pid N (command)", when this user can see it."""
    return _from_proc(port) or _from_ss(port)
