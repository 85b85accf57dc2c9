"""Assertions about processes that tests share."""

import time
from collections.abc import Iterable

from orchestrator.services.procs import pid_alive


def wait_gone(pids: Iterable[int], timeout: float = 10.0) -> bool:
    """True once none of `pids` is alive (zombies count as gone), False after `timeout`."""
    pids = list(pids)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(pid_alive(p) for p in pids):
            return True
        time.sleep(0.05)
    return False
