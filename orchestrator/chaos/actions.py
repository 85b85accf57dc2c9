"""Faults applied to a running devnet, by pid and RPC, each recorded in `<run>/faults.json`.

    chaos = Chaos.for_state(config.state)
    chaos.apply("pause", "guardian-1", duration=5)     # SIGSTOP now, SIGCONT in 5 s (the warden) or at heal
    chaos.apply("reorg", "rollup-a", depth=2)           # anvil_reorg
    chaos.apply("delay", "relayer", duration=10, seconds=2)
    chaos.heal()                                        # every fault in force ends now

Process faults act on the pid the supervisors recorded (`<run>/pids.json`): `kill` is
SIGKILL (the supervisor restarts the process; a chain comes back with its state),
`pause`/`partition` SIGSTOP (a partitioned guardian stops answering the relayer), ended by
SIGCONT. Each pid is recorded with its process's start time and signalled only while it
still names that process (orchestrator/services/pidfile.py): a reused pid is someone else's.
`delay`, `drop` and `duplicate` are carried out by the relayer, which reads
`<run>/chaos.json` on each batch.
"""

from __future__ import annotations

import json
import signal
import time
from dataclasses import dataclass
from typing import Any

import httpx

from orchestrator.chains.rpc import rpc
from orchestrator.paths import StateDir
from orchestrator.services import pidfile
from services.common.faults import INSTANT_KINDS, KINDS, MAX_REORG_DEPTH, RELAYER_KINDS, Fault, FaultBook
from services.common.manifest import Manifest
from services.common.manifest import load as load_manifest

SIGNALLED = ("pause", "partition")  # faults that hold a process stopped until healed


class ChaosError(RuntimeError):
    """A fault that cannot be applied; the message says why (printed as one line by the CLI)."""


@dataclass
class Chaos:
    state: StateDir
    manifest: Manifest

    @classmethod
    def for_state(cls, state: StateDir) -> Chaos:
        if not state.manifest.is_file():
            raise ChaosError(f"no devnet manifest at {state.manifest}: is a devnet running?")
        return cls(state, load_manifest(state.manifest))

    @property
    def book(self) -> FaultBook:
        return FaultBook(self.state.run)

    def pids(self) -> dict[str, pidfile.Recorded]:
        try:
            doc = json.loads(self.state.pids.read_text())
        except (FileNotFoundError, ValueError):
            return {}
        found = {k: pidfile.Recorded.parse(v) for k, v in doc.items()} if isinstance(doc, dict) else {}
        return {k: v for k, v in found.items() if v is not None}

    def pid(self, target: str) -> pidfile.Recorded:
        """The target's recorded process, while the pid still names it (pidfile.py)."""
        pids = self.pids()
        if target not in pids:
            known = ", ".join(sorted(pids)) or "none"
            raise ChaosError(f"unknown process {target!r} (supervised: {known})")
        why = pids[target].stale(pidfile.service_argv)
        if why is not None:
            raise ChaosError(f"{target} is not running as recorded in {self.state.pids} ({why})")
        return pids[target]

    # ------------------------------------------------------------ apply

    def apply(self, kind: str, target: str, duration: float | None = None, **args: Any) -> Fault:
        """Record the fault, then cause it; a fault that fails to apply is recorded as failed."""
        if kind not in KINDS:
            raise ChaosError(f"unknown fault {kind!r} (one of {', '.join(KINDS)})")
        self._validate(kind, target, args)
        instant = kind in INSTANT_KINDS
        fault = self.book.add(kind, target, 0.0 if instant else duration, **args)
        return self.carry_out(fault)

    def carry_out(self, fault: Fault) -> Fault:
        try:
            detail = self._cause(fault)
        except ChaosError as exc:
            self.book.update(fault.id, status="failed", detail=str(exc), healed_at=time.time())
            raise
        status = "healed" if fault.kind in INSTANT_KINDS else "active"
        return (
            self.book.update(
                fault.id, status=status, detail=detail, healed_at=time.time() if status == "healed" else None
            )
            or fault
        )

    def _validate(self, kind: str, target: str, args: dict[str, Any]) -> None:
        if kind in RELAYER_KINDS and target != "relayer":
            raise ChaosError(f"{kind} applies to the relayer, not {target!r}")
        if kind in ("reorg", "equivocate"):
            self._chain(args.get("chain", target))
        if kind == "reorg" and not 1 <= int(args.get("depth", 1)) <= MAX_REORG_DEPTH:
            raise ChaosError(f"reorg depth must be 1..{MAX_REORG_DEPTH} (MAX_REORG_DEPTH), got {args.get('depth')}")

    def _chain(self, name_or_id: str | int) -> Any:
        try:
            return self.manifest.chain(name_or_id)
        except (KeyError, ValueError, LookupError):
            raise ChaosError(f"unknown chain {name_or_id!r}") from None

    def _cause(self, fault: Fault) -> str:
        kind, target, args = fault.kind, fault.target, fault.args
        if kind == "kill":
            rec = self.pid(target)
            _signal(rec, signal.SIGKILL)
            return f"SIGKILL pid {rec.pid}"
        if kind in SIGNALLED:
            rec = self.pid(target)
            _signal(rec, signal.SIGSTOP)
            self.book.update(fault.id, args={**args, "pid": rec.pid, "start": rec.start})
            return f"SIGSTOP pid {rec.pid}"
        if kind == "resume":
            healed = [f for f in self.book.active() if f.kind in SIGNALLED and f.target == target]
            for f in healed:
                self._end(f)
            _signal(self.pid(target), signal.SIGCONT)
            return f"SIGCONT {target}"
        if kind == "reorg":
            return self._reorg(target, int(args.get("depth", 1)))
        if kind == "equivocate":
            return self._equivocate(target, args["chain"], int(args["block"]))
        return f"relayer {kind} " + json.dumps(args)  # relayer kinds: chaos.json

    def _reorg(self, chain_name: str, depth: int) -> str:
        chain = self._chain(chain_name)
        head = int(rpc(chain.rpc_url, "eth_blockNumber"), 16)
        if not 1 <= depth <= head:
            raise ChaosError(f"reorg depth must be 1..{head} on {chain.name}, got {depth}")
        first = head - depth + 1
        before = rpc(chain.rpc_url, "eth_getBlockByNumber", [hex(first), False])["hash"]
        rpc(chain.rpc_url, "anvil_reorg", [depth, []], timeout=10)
        after = rpc(chain.rpc_url, "eth_getBlockByNumber", [hex(first), False])["hash"]
        return f"{chain.name} blocks {first}..{head} replaced (block {first}: {before} -> {after})"

    def _equivocate(self, guardian: str, chain_name: str, block: int) -> str:
        chain = self._chain(chain_name)
        index = int(guardian.removeprefix("guardian-")) if guardian.startswith("guardian-") else -1
        members = self.manifest.guardians.members
        if not 0 <= index < len(members):
            raise ChaosError(f"unknown guardian {guardian!r} (guardian-0..{len(members) - 1})")
        url = f"{members[index].url}/v1/test/equivocate/{chain.chain_id}/{block}"
        try:
            r = httpx.post(url, timeout=10)
        except httpx.HTTPError as exc:
            raise ChaosError(f"{guardian} did not answer: {exc}") from None
        if r.status_code == 404:
            raise ChaosError(
                f"{guardian} runs without --allow-equivocation-for-tests (start the devnet with chaos enabled)"
            )
        if r.status_code != 200:
            raise ChaosError(f"{guardian} refused to equivocate: HTTP {r.status_code} {r.text[:200]}")
        return f"{guardian} signed root {r.json()['conflicting']['state_root']} for {chain.name} block {block}"

    # ------------------------------------------------------------ heal

    def heal(self, target: str | None = None) -> list[Fault]:
        """End every fault in force (or those on `target`): SIGCONT stopped processes, clear relayer faults."""
        ended = [
            f for f in self.book.all() if f.status in ("active", "requested") and (target is None or f.target == target)
        ]
        for f in ended:
            self._end(f)
        return ended

    def expire(self) -> list[Fault]:
        """End the faults whose time is up (the warden calls this a few times a second)."""
        now = time.time()
        due = [f for f in self.book.all() if f.status == "active" and f.until is not None and f.until <= now]
        for f in due:
            self._end(f)
        return due

    def apply_requested(self) -> list[Fault]:
        """Carry out faults the API asked for (it cannot signal processes itself)."""
        done = []
        for f in self.book.all():
            if f.status != "requested":
                continue
            try:
                self._validate(f.kind, f.target, f.args)
                if f.until is not None:  # the duration counts from now, not from the request
                    self.book.update(f.id, until=time.time() + (f.until - f.started_at))
                done.append(self.carry_out(f))
            except (ChaosError, KeyError, ValueError) as exc:
                self.book.update(f.id, status="failed", detail=str(exc), healed_at=time.time())
        return done

    def _end(self, fault: Fault) -> None:
        # the book first: whoever sees the process running again must find its fault healed
        self.book.heal(fault.id)
        if fault.kind in SIGNALLED and fault.status == "active" and "pid" in fault.args:
            start = fault.args.get("start")  # absent in a fault recorded before identities were
            rec = pidfile.Recorded(int(fault.args["pid"]), None if start is None else int(start))
            _signal(rec, signal.SIGCONT, missing_ok=True)


def _signal(rec: pidfile.Recorded, sig: signal.Signals, missing_ok: bool = False) -> None:
    """Signal the recorded process only: once it is gone its pid may be another process's."""
    if not rec.signal(sig, pidfile.service_argv) and not missing_ok:
        raise ChaosError(f"pid {rec.pid} is gone")
