"""What each solver really asks (its fee and deadline margin, as started) and which one takes an order.

    register(run_dir, index, fee_bps, min_margin, port)     # the solver, as it starts
    solver_terms(manifest)   # [{"index", "address", "fee_bps", "min_margin", "url"}, ...]: the running ones
    pick_solver(holders, deadline, now, src, dst)   # the planner: cheapest in time, else IntentError (422)

The manifest advertises each solver's configured fee (`[solvers] fee_bps`), but a solver may be
started with its own `--fee-bps` or `--min-margin` (by hand, by a test, after a config change). The
planner quoted the manifest's fee and the default margin, so it accepted orders that solver then
skipped ("fill deadline too close", "fee below"): the user's escrow stayed locked until its refund.
So each solver writes its effective terms to `<run>/solver-<index>.terms.json` as it starts, with
its pid and the pid's start time; a file whose process no longer runs (stopped, killed, the pid
reused) is ignored. The planner counts the running registered solvers only and, when none runs
with a registration (all stopped, or Docker without the shared run directory), every solver of
the manifest with its advertised fee and the default margin, as before.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from services.common.manifest import Chain, Manifest
from services.common.procstat import start_time
from services.solver.validation import SOLVER_MIN_MARGIN, IntentError

# solver route: beyond the solver's margin, time to send the open and for the solver to see it
SOLVER_DEADLINE_SLACK = 10


def terms_file(run_dir: Path, index: int) -> Path:
    return run_dir / f"solver-{index}.terms.json"


def register(run_dir: Path, index: int, fee_bps: int, min_margin: int, port: int) -> None:
    """Write the solver's effective terms (atomically: a planner never reads half a file)."""
    path = terms_file(run_dir, index)
    pid = os.getpid()
    doc: dict[str, int | None] = {"index": index, "fee_bps": fee_bps, "min_margin": min_margin, "port": port}
    doc |= {"pid": pid, "start": start_time(pid)}  # the start time: a reused pid is not this solver
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(doc))
        tmp.replace(path)
    except OSError:  # a read-only state directory: the planner keeps the manifest's terms
        return


def _registered(run_dir: Path, index: int) -> dict[str, Any] | None:
    try:
        doc = json.loads(terms_file(run_dir, index).read_text())
        if doc["start"] is None or start_time(int(doc["pid"])) != doc["start"]:
            return None  # that solver no longer runs
        return {"fee_bps": int(doc["fee_bps"]), "min_margin": int(doc["min_margin"])}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def solver_terms(m: Manifest) -> list[dict[str, Any]]:
    """The running solvers that registered, with the fee and margin each applies; none: every
    solver of the manifest with its advertised fee and the default margin."""
    advertised, registered = [], []
    for s in m.intents.solvers if m.intents else []:
        entry = {**s.model_dump(), "min_margin": SOLVER_MIN_MARGIN}
        advertised.append(entry)
        got = _registered(m.run_dir, s.index)
        if got is not None:
            registered.append({**entry, **got})
    return registered or advertised


def _lead(margin: int, src: Chain, dst: Chain) -> int:
    return margin + SOLVER_DEADLINE_SLACK + math.ceil((src.block_time or 0) + (dst.block_time or 0))


def pick_solver(holders: list[dict[str, Any]], deadline: int, now: int, src: Chain, dst: Chain) -> dict[str, Any]:
    """The cheapest holder whose margin the deadline leaves; 422 naming the minimum when none would fill."""
    in_time = [s for s in holders if deadline >= now + _lead(s["min_margin"], src, dst)]
    if not in_time:
        check_solver_deadline(deadline, now, src, dst, min(s["min_margin"] for s in holders))
    return min(in_time, key=lambda s: s["fee_bps"])


def check_solver_deadline(deadline: int, now: int, src: Chain, dst: Chain, margin: int = SOLVER_MIN_MARGIN) -> None:
    """A solver skips an order with less than its margin left (its own `--min-margin`, registered):
    refuse a deadline it cannot meet, which would only lock the escrow until the refund window opens."""
    lead = _lead(margin, src, dst)
    if deadline < now + lead:
        raise IntentError(
            "deadline",
            f"deadline {deadline} is too close for the solver route: it must be at least {now + lead} "
            f"(time {now} on the later of {src.name}'s and {dst.name}'s clocks + {lead} s; "
            f"a solver fills only with {margin} s left)",
        )
