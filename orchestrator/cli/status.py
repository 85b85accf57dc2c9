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

import httpx

from orchestrator.chains.rpc import chain_id_of
from orchestrator.cli.common import resolve_config, running_pid
from orchestrator.manifest import load_manifest
from orchestrator.summary import service_rows, table
from services.common.faults import FaultBook


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
    config = resolve_config(args)
    pid = running_pid(config)
    if pid is None:
        print("No devnet is running (start one with `devnet up`).")
        return 1
    manifest = load_manifest(config.state.manifest)
    rows = []
    healthy = True
    for chain in manifest.chains:
        ok = chain_id_of(chain.rpc_url) == chain.chain_id
        healthy &= ok
        rows.append([chain.name, chain.chain_id, chain.rpc_url, "up" if ok else "DOWN"])
    print(f"Devnet running (pid {pid})")
    print(table(["chain", "chain id", "RPC URL", "state"], rows))
    services = [(name, url, probe_service(url)) for name, url in service_rows(manifest)]
    if services:
        print()
        print(table(["service", "URL", "state"], [[name, url, state.label()] for name, url, state in services]))
        healthy &= all(state.healthy for _, _, state in services)
    active = FaultBook(config.state.run).active()
    if active:  # a paused process answers nothing: say why
        print()
        print(table(["fault", "target", "since", "ends"], [
            [f"#{f.id} {f.kind}", f.target, time.strftime("%H:%M:%S", time.localtime(f.started_at)),
             "at heal" if f.until is None else f"in {max(0.0, f.until - time.time()):.1f}s"] for f in active]))
    return 0 if healthy else 1
