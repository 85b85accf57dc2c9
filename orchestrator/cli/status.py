"""`devnet status`: every process from its own health check.

A chain is up when its own RPC answers its chain id. A service is up when its
own /health answers; when it answers 503 because a link to a chain is down, it
is shown as up and waiting for that chain (the chain shows DOWN on its own
line), never as DOWN itself. Exit code 0 only when every chain answers and
every service reports healthy.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from typing import Any

from orchestrator.chains.rpc import chain_id_of
from orchestrator.cli.common import NOT_RUNNING, CliError, add_command, find_devnet, running_pid, stale_pid_note
from orchestrator.cli.output import emit_json, status_label
from orchestrator.paths import StateDir
from orchestrator.summary import service_rows, table
from services.common.faults import FaultBook


def register(subparsers: Any) -> None:
    add_command(subparsers, "status", cmd_status, "show whether the chains and services answer", json=True)


@dataclass(frozen=True)
class ServiceState:
    answered: bool  # the process answered its own health check
    healthy: bool  # ... and reported itself fully healthy
    detail: str = ""

    def label(self) -> str:
        if not self.answered:
            return "DOWN"
        return "up" if self.healthy else f"up, {self.detail or 'not ready'}"


def probe_service(url: str, timeout: float = 1.0) -> ServiceState:
    """One service's own /health: answered at all, healthy, and why not."""
    import httpx

    try:
        resp = httpx.get(f"{url}/health", timeout=timeout)
    except httpx.HTTPError:
        return ServiceState(False, False)
    if resp.status_code == 200:
        return ServiceState(True, True)
    try:
        body = resp.json()
    except ValueError:
        return ServiceState(True, False, f"HTTP {resp.status_code}")
    chains = body.get("chains", {}) if isinstance(body, dict) else {}
    lost = [c.get("name", cid) for cid, c in chains.items() if isinstance(c, dict) and c.get("connected") is False]
    detail = f"no link to {', '.join(lost)}" if lost else str(body.get("status", f"HTTP {resp.status_code}"))
    return ServiceState(True, False, detail)


def cmd_status(args: argparse.Namespace) -> int:
    try:
        state = find_devnet(args)
    except CliError as exc:
        if "no devnet is running" not in str(exc):
            raise
        note = stale_pid_note(find_devnet(args, require_running=False))
        if args.json:
            emit_json({"running": False, **({"stale_pid_file": note} if note else {})})
        else:
            print(NOT_RUNNING[0].upper() + NOT_RUNNING[1:] + (f"; {note}" if note else "") + ".")
        return 1
    from services.common.manifest import load

    pid = running_pid(state)
    manifest = load(state.manifest)
    chains = [(chain, chain_id_of(chain.rpc_url) == chain.chain_id) for chain in manifest.chains]
    services = [(name, url, probe_service(url)) for name, url in service_rows(manifest)]
    healthy = all(ok for _, ok in chains) and all(s.healthy for _, _, s in services)
    if args.json:
        emit_json(
            {
                "running": True,
                "healthy": healthy,
                "pid": pid,
                "state_dir": str(state.root),
                "chains": [
                    {"name": c.name, "chain_id": c.chain_id, "rpc_url": c.rpc_url, "up": ok} for c, ok in chains
                ],
                "services": [
                    {"name": n, "url": u, "up": s.answered, "healthy": s.healthy, "detail": s.detail}
                    for n, u, s in services
                ],
            }
        )
        return 0 if healthy else 1
    print(f"Devnet running (pid {pid}), state in {state.root}" if pid else f"Devnet (Docker), state in {state.root}")
    rows = [[c.name, c.chain_id, c.rpc_url, status_label("up" if ok else "DOWN")] for c, ok in chains]
    print(table(["chain", "chain id", "RPC URL", "state"], rows))
    if services:
        print()
        print(table(["service", "URL", "state"], [[n, u, status_label(s.label())] for n, u, s in services]))
    print_faults(state)
    return 0 if healthy else 1


def print_faults(state: StateDir) -> None:
    """Faults in force (`devnet chaos`): a paused process answers nothing, this says why."""
    active = FaultBook(state.run).active()
    if active:
        print()
        rows = [
            [
                f"#{f.id} {f.kind}",
                f.target,
                time.strftime("%H:%M:%S", time.localtime(f.started_at)),
                "at heal" if f.until is None else f"in {max(0.0, f.until - time.time()):.1f}s",
            ]
            for f in active
        ]
        print(table(["fault", "target", "since", "ends"], rows))
