"""Where things live in the repository, so every module agrees."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CONTRACTS_DIR = REPO_ROOT / "contracts"
CONTRACTS_SRC = CONTRACTS_DIR / "src"
ARTIFACTS_DIR = CONTRACTS_DIR / "out"
NODE_MODULES = CONTRACTS_DIR / "node_modules"
