"""Compile contracts/src with a pinned solc, cached by a hash of everything that matters.

Two back ends, one input: py-solc-x drives a native solc of the pinned version
when one is installed; otherwise solc-js from npm runs the same standard-JSON
input. Imports are resolved here (OpenZeppelin from contracts/node_modules) and
every source is inlined, so both compilers see byte-identical input and produce
the same bytecode.

A third mode needs no compiler: where the sources are absent but the artifacts
are present (the Docker image ships contracts/out only, compiled on the host
before `docker build`), `compile_contracts` loads the artifacts as they are.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.paths import ARTIFACTS_DIR, CONTRACTS_DIR, CONTRACTS_SRC, NODE_MODULES
from orchestrator.build.toolchain import find_solcjs, pinned_solc_version

SETTINGS: dict[str, Any] = {
    "optimizer": {"enabled": True, "runs": 200},
    "evmVersion": "cancun",
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
}
CACHE_FILE = ".cache-key"
_IMPORT_RE = re.compile(r'(?:^|;)\s*import\s+(?:[^"\';]*\sfrom\s+)?["\']([^"\']+)["\']', re.MULTILINE)


class CompileError(RuntimeError):
    """solc reported errors; the message holds its formatted output."""


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str  # 0x-prefixed creation code
    deployed_bytecode: str


@dataclass(frozen=True)
class CompileResult:
    artifacts: dict[str, Artifact]
    cached: bool
    seconds: float
    compiler: str


# ---------------------------------------------------------------- sources


def collect_sources(src_dir: Path = CONTRACTS_SRC) -> dict[str, str]:
    """Every .sol under src_dir plus everything it imports, keyed by import path."""
    sources: dict[str, str] = {}
    files = sorted(src_dir.rglob("*.sol")) if src_dir.is_dir() else []
    pending = [f"src/{p.relative_to(src_dir).as_posix()}" for p in files]
    roots = {"src/": src_dir}
    while pending:
        key = pending.pop()
        if key in sources:
            continue
        text = _read_source(key, roots)
        sources[key] = text
        for imported in _IMPORT_RE.findall(text):
            pending.append(_resolve_import(key, imported))
    return dict(sorted(sources.items()))


def _read_source(key: str, roots: dict[str, Path]) -> str:
    for prefix, root in roots.items():
        if key.startswith(prefix):
            return (root / key[len(prefix):]).read_text()
    path = NODE_MODULES / key
    if not path.is_file():
        raise CompileError(f"cannot resolve import {key!r} (looked in {NODE_MODULES})")
    return path.read_text()


def _resolve_import(importer: str, imported: str) -> str:
    if not imported.startswith("."):
        return imported
    parts = importer.split("/")[:-1]
    for piece in imported.split("/"):
        if piece == "..":
            parts.pop()
        elif piece != ".":
            parts.append(piece)
    return "/".join(parts)


def standard_input(sources: dict[str, str]) -> dict[str, Any]:
    return {
        "language": "Solidity",
        "sources": {key: {"content": text} for key, text in sources.items()},
        "settings": SETTINGS,
    }


# ---------------------------------------------------------------- compilers


@functools.cache
def _native_solc() -> Any | None:
    """py-solc-x's handle on a native solc of the pinned version, if one is installed.

    Cached: the toolchain check and the compile stage both ask, and the answer
    (a PATH scan by solcx) does not change within one process."""
    try:
        import solcx
    except ImportError:
        return None
    wanted = pinned_solc_version()
    try:
        for version in solcx.get_installed_solc_versions():
            if str(version) == wanted:
                solcx.set_solc_version(version, silent=True)
                return solcx
        solcx.import_installed_solc()
        for version in solcx.get_installed_solc_versions():
            if str(version) == wanted:
                solcx.set_solc_version(version, silent=True)
                return solcx
    except Exception:  # any solcx hiccup means "no usable native solc"
        return None
    return None


def describe_compiler() -> str:
    if _native_solc() is not None:
        return f"native solc {pinned_solc_version()} (py-solc-x)"
    solcjs = find_solcjs()
    return f"solc-js {solcjs.version} (npm)"


def _compile_native(solcx: Any, input_json: dict[str, Any]) -> dict[str, Any]:
    return solcx.compile_standard(input_json, allow_empty=True)


def _compile_solcjs(input_json: dict[str, Any]) -> dict[str, Any]:
    solcjs = find_solcjs()
    proc = subprocess.run(
        [str(solcjs.node), str(CONTRACTS_DIR / "solcjs.cjs")],
        input=json.dumps(input_json),
        capture_output=True,
        text=True,
        cwd=CONTRACTS_DIR,
        timeout=600,
    )
    if proc.returncode != 0:
        raise CompileError(f"solc-js failed (exit {proc.returncode}): {proc.stderr.strip()[:2000]}")
    # solc-js may print a non-JSON line (e.g. an SMT notice) before the JSON document
    start = proc.stdout.find("{")
    if start < 0:
        raise CompileError(f"solc-js printed no JSON: {proc.stdout[:500]!r}")
    return json.loads(proc.stdout[start:])


def compiler_id() -> str:
    native = _native_solc()
    if native is not None:
        return f"native-{pinned_solc_version()}"
    return f"solcjs-{find_solcjs().version}"


def run_compiler(input_json: dict[str, Any]) -> dict[str, Any]:
    native = _native_solc()
    output = _compile_native(native, input_json) if native is not None else _compile_solcjs(input_json)
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise CompileError("\n".join(e.get("formattedMessage", e.get("message", "")) for e in errors))
    return output


# ---------------------------------------------------------------- artifacts


def _cache_key(sources: dict[str, str], compiler: str) -> str:
    h = hashlib.sha256()
    h.update(json.dumps(SETTINGS, sort_keys=True).encode())
    h.update(compiler.encode())
    for key, text in sources.items():
        h.update(key.encode() + b"\0" + text.encode() + b"\0")
    return h.hexdigest()


def _write_artifacts(output: dict[str, Any], out_dir: Path) -> dict[str, Artifact]:
    artifacts: dict[str, Artifact] = {}
    for source_key, contracts in output.get("contracts", {}).items():
        if not source_key.startswith("src/"):
            continue  # library contracts (OpenZeppelin) are not artifacts of ours
        for name, data in contracts.items():
            artifacts[name] = Artifact(
                name=name,
                abi=data["abi"],
                bytecode="0x" + data["evm"]["bytecode"]["object"],
                deployed_bytecode="0x" + data["evm"]["deployedBytecode"]["object"],
            )
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.json"):
        old.unlink()
    for art in artifacts.values():
        doc = {"abi": art.abi, "bytecode": art.bytecode, "deployedBytecode": art.deployed_bytecode}
        (out_dir / f"{art.name}.json").write_text(json.dumps(doc, indent=1))
    return artifacts


def load_artifact(name: str, out_dir: Path = ARTIFACTS_DIR) -> Artifact:
    path = out_dir / f"{name}.json"
    if not path.is_file():
        raise CompileError(f"no artifact {path}: run `devnet compile` first")
    doc = json.loads(path.read_text())
    return Artifact(name=name, abi=doc["abi"], bytecode=doc["bytecode"], deployed_bytecode=doc["deployedBytecode"])


def load_artifacts(out_dir: Path = ARTIFACTS_DIR) -> dict[str, Artifact]:
    return {p.stem: load_artifact(p.stem, out_dir) for p in sorted(out_dir.glob("*.json"))}


def compile_contracts(
    src_dir: Path = CONTRACTS_SRC, out_dir: Path = ARTIFACTS_DIR, force: bool = False
) -> CompileResult:
    """Compile src_dir into out_dir, or reuse out_dir when nothing relevant changed."""
    started = time.perf_counter()
    if not src_dir.is_dir():
        return _precompiled(out_dir, started)
    sources = collect_sources(src_dir)
    compiler = compiler_id()
    key = _cache_key(sources, compiler)
    cache_file = out_dir / CACHE_FILE
    if not force and cache_file.is_file() and cache_file.read_text() == key:
        return CompileResult(load_artifacts(out_dir), True, time.perf_counter() - started, compiler)
    output = run_compiler(standard_input(sources)) if sources else {}
    artifacts = _write_artifacts(output, out_dir)
    cache_file.write_text(key)
    return CompileResult(artifacts, False, time.perf_counter() - started, compiler)


def _precompiled(out_dir: Path, started: float) -> CompileResult:
    artifacts = load_artifacts(out_dir) if out_dir.is_dir() else {}
    if not artifacts:
        raise CompileError(f"no contract sources and no artifacts in {out_dir}: run `devnet compile` in a checkout")
    return CompileResult(artifacts, True, time.perf_counter() - started, "precompiled")
