"""Fixtures shared by every test directory."""

import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from orchestrator.config import DevnetConfig, default_config
from orchestrator.pytest_plugin import free_port_offset

# The suite's own registry of running devnets (orchestrator/registry.py): a CLI command run by a
# test without --state-dir (e.g. `devnet down` in an empty directory) must never find, and stop,
# a devnet the developer is running next to `make test`. Set at import, before any test starts a
# devnet, so CLI subprocesses inherit it.
os.environ["DEVNET_HOME"] = tempfile.mkdtemp(prefix="devnet-test-home-")


def free_config(
    start: int = 1500, base: DevnetConfig | None = None, state_dir: Path | str | None = None
) -> DevnetConfig:
    """`base` (the default topology) moved to a range of ports nobody is using right now, in its own
    state directory when `state_dir` is given."""
    base = base or default_config()
    config = base.with_port_offset(free_port_offset(base, start=start))
    return config if state_dir is None else replace(config, state_dir=str(state_dir))


# `devnet send` from rollup-a to rollup-b: the start of most CLI sends in the tests
SEND_A_TO_B = ("send", "--from", "rollup-a", "--to", "rollup-b")


def one_error_line(result: subprocess.CompletedProcess) -> str:
    """The CLI's one `error: ...` line of a failed command (and nothing else on stderr)."""
    assert result.returncode != 0, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.fixture
def ports_config() -> DevnetConfig:
    return free_config()


def pytest_unconfigure(config: pytest.Config) -> None:
    import shutil

    shutil.rmtree(os.environ["DEVNET_HOME"], ignore_errors=True)


def wait_for(what: str, pred: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1) -> Any:
    """Poll `pred` until it returns something true (returned), or fail naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)
