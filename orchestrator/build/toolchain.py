"""Find the external tools the devnet runs: anvil and a Solidity compiler.

Anvil comes from the pinned npm package in contracts/node_modules (we start the
platform binary itself, never the node wrapper, whose PID would not stop anvil),
else from PATH for foundryup users. Every failure tells the one command that fixes it.
"""

from __future__ import annotations

import platform
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from orchestrator.paths import CONTRACTS_DIR, NODE_MODULES

SETUP_HINT = "run `make setup` (or `cd contracts && npm install`)"


class ToolchainError(RuntimeError):
    """A required tool is missing; the message names the fix."""


def _npm_platform() -> str:
    system = {"Linux": "linux", "Darwin": "darwin", "Windows": "win32"}.get(platform.system(), platform.system().lower())
    machine = {"x86_64": "amd64", "AMD64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine(), platform.machine()
    )
    return f"{system}-{machine}"


def find_anvil() -> Path:
    """The anvil binary: contracts/node_modules first, then PATH."""
    exe = "anvil.exe" if platform.system() == "Windows" else "anvil"
    bundled = NODE_MODULES / "@foundry-rs" / f"anvil-{_npm_platform()}" / "bin" / exe
    if bundled.is_file():
        return bundled
    on_path = shutil.which("anvil")
    if on_path:
        return Path(on_path)
    raise ToolchainError(f"anvil not found in {bundled.parent} nor on PATH: {SETUP_HINT}")


def anvil_version(anvil: Path) -> str:
    out = subprocess.run([str(anvil), "--version"], capture_output=True, text=True, timeout=30)
    return out.stdout.splitlines()[0].strip() if out.stdout else "unknown"


@dataclass(frozen=True)
class SolcJs:
    """solc-js from npm, driven through `node` (contracts/node_modules/solc)."""

    node: Path
    package_dir: Path
    version: str


def pinned_solc_version() -> str:
    """The solc version pinned in contracts/package.json (also used for a native solc)."""
    import json

    manifest = json.loads((CONTRACTS_DIR / "package.json").read_text())
    return manifest["dependencies"]["solc"]


def find_solcjs() -> SolcJs:
    node = shutil.which("node")
    if node is None:
        raise ToolchainError("node not found on PATH: install Node.js 20+ (e.g. `apt-get install nodejs npm`)")
    package_dir = NODE_MODULES / "solc"
    package_json = package_dir / "package.json"
    if not package_json.is_file():
        raise ToolchainError(f"solc-js not found in {package_dir}: {SETUP_HINT}")
    import json

    version = json.loads(package_json.read_text())["version"]
    return SolcJs(node=Path(node), package_dir=package_dir, version=version)


def find_openzeppelin() -> Path:
    oz = NODE_MODULES / "@openzeppelin" / "contracts"
    if not (oz / "package.json").is_file():
        raise ToolchainError(f"OpenZeppelin Contracts not found in {oz}: {SETUP_HINT}")
    return oz
