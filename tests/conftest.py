"""Fixtures shared by every test directory."""

import pytest

from orchestrator.config import DevnetConfig, default_config
from orchestrator.pytest_plugin import free_port_offset


def free_config(start: int = 1500) -> DevnetConfig:
    """The default topology moved to a range of ports nobody is using right now."""
    base = default_config()
    return base.with_port_offset(free_port_offset(base, start=start))


@pytest.fixture
def ports_config() -> DevnetConfig:
    return free_config()
