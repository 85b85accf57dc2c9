"""Revert reasons decoded from every ABI the devnet knows, for the relayer, API and CLI.

Known errors come from, in order: ABIs handed in (the relayer's contracts), the project's
compiled artifacts (contracts/out), OpenZeppelin's shipped ABIs (node_modules/@openzeppelin/
contracts/build/contracts) and any extra artifact folders configured by the user (Foundry
`out/` — `out/<File>.sol/<Contract>.json` — and Hardhat `artifacts/` —
`artifacts/contracts/<File>.sol/<Contract>.json` — both carry an `"abi"` list; a bare ABI
list in a .json file works too). Folders are read lazily, on the first selector the
handed-in ABIs do not know, because a devnet usually decodes nothing.

    decoder = ErrorDecoder([gateway_abi], extra_dirs=["~/my-dapp/out"])
    decoder.describe("0x6811ca2b")      # "InvalidRecipientReturn()"
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from services.common.abi import Abi, describe_error

log = logging.getLogger("errors")

REPO_ROOT = Path(__file__).resolve().parents[2]
PROJECT_OUT = REPO_ROOT / "contracts" / "out"
OPENZEPPELIN_ABIS = REPO_ROOT / "contracts" / "node_modules" / "@openzeppelin" / "contracts" / "build" / "contracts"
_SKIP_PARTS = {"build-info", "cache", "node_modules", ".git"}
# Errors a contract builds with abi.encodeWithSignature instead of declaring them, so no ABI
# lists them (the gateway's verdict on a recipient that returns the wrong value).
UNDECLARED = Abi([{"type": "error", "name": "InvalidRecipientReturn", "inputs": []}])


def artifact_files(folder: Path) -> Iterator[Path]:
    """Every contract artifact under a Foundry `out/`, Hardhat `artifacts/` or flat folder."""
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob("*.json")):
        rel = path.relative_to(folder).parts
        if path.name.endswith(".dbg.json") or _SKIP_PARTS.intersection(rel[:-1]):
            continue
        yield path


def error_entries(path: Path) -> list[dict[str, Any]]:
    """The `error` entries of one artifact (or bare ABI) file; none if it is not one."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    abi = doc.get("abi") if isinstance(doc, dict) else doc
    if not isinstance(abi, list):
        return []
    return [e for e in abi if isinstance(e, dict) and e.get("type") == "error" and "name" in e]


def folder_errors(folders: Iterable[Path]) -> Abi:
    entries: list[dict[str, Any]] = []
    for folder in folders:
        for path in artifact_files(folder):
            entries += error_entries(path)
    try:
        return Abi(entries)
    except Exception:
        log.warning("an artifact under %s has a malformed error entry; decoding file by file", list(folders))
        good = []
        for e in entries:
            try:
                Abi([e])
                good.append(e)
            except Exception:
                continue
        return Abi(good)


class ErrorDecoder:
    def __init__(
        self,
        abis: Iterable[Abi] = (),
        extra_dirs: Iterable[str | Path] = (),
        include_project: bool = True,
        base: Path = REPO_ROOT,
    ):
        self.abis = [*abis, UNDECLARED]
        dirs = [PROJECT_OUT, OPENZEPPELIN_ABIS] if include_project else []
        for d in extra_dirs:
            p = Path(d).expanduser()
            dirs.append(p if p.is_absolute() else base / p)
        self.dirs = dirs
        self._folders: Abi | None = None

    def known(self, selector: bytes) -> bool:
        return any(selector in a.errors for a in self.abis)

    def describe(self, data: str | bytes | None) -> str:
        """`Name(args)`, an Error(string) text, `Panic(0x..)`, or the hex when nothing knows it."""
        raw = bytes.fromhex(data[2:] if data.startswith("0x") else data) if isinstance(data, str) else data
        if raw and len(raw) >= 4 and not self.known(raw[:4]) and self._folders is None:
            self._folders = folder_errors(self.dirs)
        abis = self.abis + ([self._folders] if self._folders is not None else [])
        return describe_error(raw, abis)
