"""What `devnet up` prints: live stage lines and the summary table read from the manifest."""

from __future__ import annotations

import sys
from typing import Any, Sequence, TextIO

from orchestrator.config import guardian_name
from services.common.manifest import Manifest


def stage_line(stage: str, detail: str, seconds: float) -> str:
    return f"  \u2713 {stage:<10} {detail:<60} {seconds:6.2f}s"


def print_stage(stage: str, detail: str, seconds: float, out: TextIO = sys.stdout) -> None:
    print(stage_line(stage, detail, seconds), file=out, flush=True)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        if n == 0:
            lines.append("  " + "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render_summary(manifest: Manifest, accounts_shown: int = 3) -> str:
    parts = ["", "Chains"]
    parts.append(
        table(
            ["name", "chain id", "role", "RPC URL", "WebSocket URL", "blocks"],
            [
                [c.name, c.chain_id, c.role, c.rpc_url, c.ws_url, f"every {c.block_time}s" if c.block_time else "instant"]
                for c in manifest.chains
            ],
        )
    )
    if manifest.contracts:
        parts += ["", "Contracts (same address on every chain)"]
        parts.append(table(["name", "address"], [[n, c.address] for n, c in manifest.contracts.items()]))
    accounts = manifest.accounts
    parts += ["", f"Dev accounts (10000 ETH each; {len(accounts)} in the manifest)"]
    parts.append(
        table(["#", "address", "private key"], [[i, a.address, a.private_key] for i, a in enumerate(accounts[:accounts_shown])])
    )
    if manifest.intents is not None:
        parts += ["", "Intents (ERC-7683; docs/INTENTS.md)"]
        parts.append(table(["what", "address", "detail"], intent_rows(manifest)))
    rows = service_rows(manifest)
    if rows:
        parts += ["", "Services"]
        parts.append(table(["service", "URL"], rows))
    return "\n".join(parts)


def intent_rows(manifest: Manifest) -> list[list[str]]:
    """[what, address, detail]: the token, the two settlers and every solver."""
    intents = manifest.intents
    assert intents is not None
    token = intents.token
    rows = [[token.symbol, token.address, f"{token.decimals} decimals, 1,000,000 per dev account per chain"]]
    rows += [[n, manifest.address(n), "same address on every chain"] for n in ("OriginSettler", "DestinationSettler")
             if n in manifest.contracts]
    rows += [[f"solver-{s.index}", s.address, f"fee {s.fee_bps} bps" + (f", {s.url}" if s.url else ", not running")]
             for s in intents.solvers]
    return rows


def service_rows(manifest: Manifest) -> list[list[str]]:
    """[name, URL] of every service the manifest lists, API first."""
    svc = manifest.services
    rows = [[name, url] for name, url in (("api", svc.api), ("relayer", svc.relayer)) if url]
    rows += [[guardian_name(i), url] for i, url in enumerate(svc.guardians)]
    return rows + [[f"solver-{i}", url] for i, url in enumerate(svc.solvers)]
