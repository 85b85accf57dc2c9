"""The devnet process's chaos thread: ends faults whose time is up, applies faults the API asked for."""

from __future__ import annotations

import contextlib
import sys
import threading

from orchestrator.chaos.actions import Chaos
from orchestrator.paths import StateDir


class Warden:
    def __init__(self, state: StateDir, interval: float = 0.2):
        self.state = state
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="chaos-warden", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        with contextlib.suppress(Exception):  # nothing stays stopped (SIGSTOP) after the devnet ends
            Chaos.for_state(self.state).heal()

    def _loop(self) -> None:
        chaos: Chaos | None = None
        while not self._stop.wait(self.interval):
            try:
                chaos = chaos or Chaos.for_state(self.state)
                chaos.apply_requested()
                chaos.expire()
            except Exception as exc:
                print(f"chaos warden: {exc}", file=sys.stderr)
