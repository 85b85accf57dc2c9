"""Where the repository is, for every process (services and orchestrator alike): the one definition."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS_DIR = REPO_ROOT / "contracts" / "out"
