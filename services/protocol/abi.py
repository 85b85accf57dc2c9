"""ABIs of the compiled contracts (contracts/out/<Name>.json, see docs/PROTOCOL.md).

artifact_path(name) -> Path
load_abi(name) -> list[dict]          # cached
load_artifact(name) -> dict           # {"abi", "bytecode", "deployedBytecode"}
contract(w3, name, address)           # w3.eth.contract(address=..., abi=...) (sync or async web3)
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from eth_utils import to_checksum_address

from services.common.paths import ARTIFACTS_DIR, REPO_ROOT

__all__ = ["ARTIFACTS_DIR", "REPO_ROOT", "artifact_path", "contract", "load_abi", "load_artifact"]


def artifact_path(name: str, out_dir: Path | None = None) -> Path:
    return (out_dir or ARTIFACTS_DIR) / f"{name}.json"


@cache
def load_artifact(name: str, out_dir: Path | None = None) -> dict[str, Any]:
    path = artifact_path(name, out_dir)
    if not path.is_file():
        raise FileNotFoundError(f"no artifact {path}: compile the contracts first (devnet compile)")
    return json.loads(path.read_text())


def load_abi(name: str, out_dir: Path | None = None) -> list[dict[str, Any]]:
    return load_artifact(name, out_dir)["abi"]


def contract(w3: Any, name: str, address: str, out_dir: Path | None = None) -> Any:
    return w3.eth.contract(address=to_checksum_address(address), abi=load_abi(name, out_dir))
