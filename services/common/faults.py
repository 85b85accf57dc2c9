"""The devnet's fault log: `<run_dir>/faults.json`, shared by `devnet chaos`, the API and the relayer.

    book = FaultBook(run_dir)
    fault = book.add("pause", "guardian-1", duration=5)       # applied by the caller
    book.request("delay", "relayer", duration=10, seconds=2)  # the API: applied by the devnet's warden
    book.active()                                            # what is in force now
    book.heal(fault.id)

Every fault keeps its times (started, until, healed), so traces and the dashboard can show
which faults overlapped a message. Writers take an exclusive `flock`, so the CLI, the API
and the devnet process never lose each other's entries. `<run_dir>/chaos.json` is the
relayer's view (delay, drop, duplicate), rewritten on every change.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

KINDS = ("kill", "pause", "resume", "partition", "reorg", "delay", "drop", "duplicate", "equivocate")
INSTANT_KINDS = ("kill", "resume", "reorg", "equivocate")  # done at once: no duration, nothing to heal
RELAYER_KINDS = ("delay", "drop", "duplicate")  # carried out by the relayer itself, from chaos.json
# deepest `reorg`: Ethereum finalizes after two epochs (64 blocks), and a devnet scenario deeper than
# that tests nothing more while every service walks back over it (a depth of 10,000 was accepted)
MAX_REORG_DEPTH = 64


@dataclass
class Fault:
    id: int
    kind: str
    target: str
    started_at: float
    until: float | None = None  # ends on its own then (None: until healed; instant faults: = started)
    healed_at: float | None = None
    status: str = "active"  # requested (API, not applied yet) | active | healed | failed
    args: dict[str, Any] = field(default_factory=dict)
    detail: str = ""

    def in_force(self, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        return self.status == "active" and (self.until is None or self.until > now)

    def ended_at(self, now: float | None = None) -> float | None:
        """When it stopped acting (None: still in force). Healed or expired, whichever came first."""
        now = time.time() if now is None else now
        ends = [t for t in (self.healed_at, self.until) if t is not None and t <= now]
        if self.status == "healed" and self.healed_at is not None:
            ends.append(self.healed_at)
        return min(ends) if ends else None

    def overlaps(self, start: float, end: float, now: float | None = None) -> bool:
        """Was it in force at some moment of [start, end]? Requested or failed faults never were."""
        if self.status not in ("active", "healed"):
            return False
        ended = self.ended_at(now)
        return self.started_at <= end and (ended is None or ended >= start)


class FaultBook:
    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / "faults.json"
        self.controls_path = self.run_dir / "chaos.json"

    @contextmanager
    def _locked(self) -> Iterator[list[Fault]]:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with open(self.run_dir / "faults.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            faults = self._read()
            yield faults
            self._write(faults)

    def _read(self) -> list[Fault]:
        try:
            return [Fault(**f) for f in json.loads(self.path.read_text())]
        except (FileNotFoundError, ValueError, TypeError):
            return []

    def _write(self, faults: list[Fault]) -> None:
        _atomic(self.path, [asdict(f) for f in faults])
        controls = {f.kind: {"until": f.until, **f.args} for f in faults if f.kind in RELAYER_KINDS and f.in_force()}
        _atomic(self.controls_path, controls)

    def all(self) -> list[Fault]:
        return self._read()

    def active(self) -> list[Fault]:
        now = time.time()
        return [f for f in self._read() if f.in_force(now)]

    def add(
        self,
        kind: str,
        target: str,
        duration: float | None = None,
        status: str = "active",
        detail: str = "",
        **args: Any,
    ) -> Fault:
        now = time.time()
        with self._locked() as faults:
            fault = Fault(
                max((f.id for f in faults), default=0) + 1,
                kind,
                target,
                now,
                until=None if duration is None else now + duration,
                status=status,
                args=args,
                detail=detail,
            )
            faults.append(fault)
        return fault

    def request(self, kind: str, target: str, duration: float | None = None, **args: Any) -> Fault:
        """A fault asked for by a process that cannot apply it (the API); the devnet's warden does."""
        return self.add(kind, target, duration, status="requested", **args)

    def update(self, fault_id: int, **changes: Any) -> Fault | None:
        with self._locked() as faults:
            for f in faults:
                if f.id == fault_id:
                    for k, v in changes.items():
                        setattr(f, k, v)
                    return f
        return None

    def heal(self, fault_id: int, status: str = "healed") -> Fault | None:
        return self.update(fault_id, status=status, healed_at=time.time())

    def ask_heal_all(self) -> None:
        """Mark every fault for healing (the warden undoes process faults: SIGCONT)."""
        now = time.time()
        with self._locked() as faults:
            for f in faults:
                if f.status == "requested":
                    f.status, f.healed_at = "healed", now
                elif f.status == "active":
                    f.until = min(f.until or now, now)


def faults_during(faults: list[Fault], start: float, end: float) -> list[Fault]:
    """The faults that were in force at some moment of [start, end], oldest first."""
    now = time.time()
    return sorted((f for f in faults if f.overlaps(start, end, now)), key=lambda f: (f.started_at, f.id))


def relayer_controls(run_dir: str | Path) -> dict[str, dict[str, Any]]:
    """The relayer's faults in force now: {"delay": {"seconds": 2.0, "until": ...}, "drop": {...}}."""
    try:
        doc = json.loads((Path(run_dir) / "chaos.json").read_text())
    except (FileNotFoundError, ValueError):
        return {}
    now = time.time()
    return {k: v for k, v in doc.items() if isinstance(v, dict) and (v.get("until") is None or v["until"] > now)}


def _atomic(path: Path, doc: Any) -> None:
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, indent=1))
    os.replace(tmp, path)
