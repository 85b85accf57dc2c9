"""What `devnet up` prints: live stage lines and the summary (a table, or a JSON document) from the manifest.

render_summary(manifest)           # the tables `devnet up` prints
summary_doc(manifest, state_dir)   # the same as data (`devnet up --detach --json`), ABIs included
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from orchestrator.config import guardian_name
from orchestrator.paths import ARTIFACTS_DIR, REPO_ROOT

if TYPE_CHECKING:
    from services.common.manifest import Manifest


def stage_line(stage: str, detail: str, seconds: float, mark: str = "\u2713") -> str:
    return f"  {mark} {stage:<10} {detail:<60} {seconds:6.2f}s"


def print_stage(stage: str, detail: str, seconds: float, out: TextIO = sys.stdout, mark: str = "\u2713") -> None:
    print(stage_line(stage, detail, seconds, mark), file=out, flush=True)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _width(cell: str) -> int:
    return len(_ANSI.sub("", cell))  # colour codes take no room on the screen


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(_width(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        padded = (c + " " * (w - _width(c)) for c, w in zip(row, widths, strict=False))
        lines.append("  " + "  ".join(padded).rstrip())
        if n == 0:
            lines.append("  " + "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render_summary(manifest: Manifest, accounts_shown: int = 3) -> str:
    parts = ["", "Chains"]
    parts.append(
        table(
            ["name", "chain id", "role", "RPC URL", "WebSocket URL", "blocks"],
            [
                [
                    c.name,
                    c.chain_id,
                    c.role,
                    c.rpc_url,
                    c.ws_url,
                    f"every {c.block_time}s" if c.block_time else "instant",
                ]
                for c in manifest.chains
            ],
        )
    )
    if manifest.contracts:
        parts += ["", "Contracts (same address on every chain)"]
        parts.append(
            table(
                ["name", "address", "ABI (artifact)"],
                [[n, c.address, artifact_path(n, c.artifact)] for n, c in manifest.contracts.items()],
            )
        )
        gov = getattr(manifest, "governance", None)
        if gov:  # hub-only / rollup-only contracts have code only there (docs/GOVERNANCE.md)
            parts.append(
                f"  roles + governance: {', '.join(gov['hub_only'])} on the hub only, "
                f"{', '.join(gov['rollup_only'])} on rollups only; voting delay {gov['voting_delay']} s, "
                f"period {gov['voting_period']} s, quorum {gov['quorum_percent']}%"
            )
    accounts = manifest.accounts
    parts += ["", f"Dev accounts (10000 ETH each; {len(accounts)} in the manifest)"]
    parts.append(
        table(
            ["#", "address", "private key"],
            [[i, a.address, a.private_key] for i, a in enumerate(accounts[:accounts_shown])],
        )
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
    rows += [
        [n, manifest.address(n), "same address on every chain"]
        for n in ("OriginSettler", "DestinationSettler")
        if n in manifest.contracts
    ]
    rows += [
        [f"solver-{s.index}", s.address, f"fee {s.fee_bps} bps" + (f", {s.url}" if s.url else ", not running")]
        for s in intents.solvers
    ]
    return rows


def service_rows(manifest: Manifest) -> list[list[str]]:
    """[name, URL] of every service the manifest lists, API first."""
    svc = manifest.services
    rows = [[name, url] for name, url in (("api", svc.api), ("relayer", svc.relayer)) if url]
    rows += [[guardian_name(i), url] for i, url in enumerate(svc.guardians)]
    return rows + [[f"solver-{i}", url] for i, url in enumerate(svc.solvers)]


def artifact_path(name: str, artifact: str | None) -> str:
    """The absolute path of a contract's compiled artifact (its ABI is the file's "abi")."""
    path = Path(artifact) if artifact else ARTIFACTS_DIR / f"{name}.json"
    return str(path if path.is_absolute() else (REPO_ROOT / path).resolve())


def summary_doc(manifest: Manifest, state_dir: Path | None = None, pid: int | None = None) -> dict[str, Any]:
    """The summary as data: chains, contracts (address, absolute artifact path, ABI), accounts, services."""
    contracts = {}
    for name, c in manifest.contracts.items():
        try:
            abi = manifest.abi(name)
        except FileNotFoundError:
            abi = None
        contracts[name] = {"address": c.address, "artifact": artifact_path(name, c.artifact), "abi": abi}
    doc: dict[str, Any] = {
        "chains": [c.model_dump(exclude={"path"}) for c in manifest.chains],
        "contracts": contracts,
        "accounts": [a.model_dump() for a in manifest.accounts],
        "services": dict(service_rows(manifest)),
    }
    if state_dir is not None:
        doc["state_dir"] = str(state_dir)
        doc["manifest"] = str(state_dir / "manifest.json")
        doc["logs"] = str(state_dir / "logs")
    if pid is not None:
        doc["pid"] = pid
    return doc
