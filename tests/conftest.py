"""Fixtures shared by every test directory."""

import os
import tempfile

import pytest

from orchestrator.config import DevnetConfig, default_config
from orchestrator.pytest_plugin import free_port_offset

# The suite's own registry of running devnets (orchestrator/registry.py): a CLI command run by a
# test without --state-dir (e.g. `devnet down` in an empty directory) must never find, and stop,
# a devnet the developer is running next to `make test`. Set at import, before any test starts a
# devnet, so CLI subprocesses inherit it.
os.environ["DEVNET_HOME"] = tempfile.mkdtemp(prefix="devnet-test-home-")


def free_config(start: int = 1500) -> DevnetConfig:
    """The default topology moved to a range of ports nobody is using right now."""
    base = default_config()
    return base.with_port_offset(free_port_offset(base, start=start))


@pytest.fixture
def ports_config() -> DevnetConfig:
    return free_config()


def pytest_unconfigure(config: pytest.Config) -> None:
    import shutil

    shutil.rmtree(os.environ["DEVNET_HOME"], ignore_errors=True)
