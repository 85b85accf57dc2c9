"""pytest plugin (entry point `metalayer_devnet`): a `devnet` fixture with a running devnet.

    def test_roundtrip(devnet):
        msg = devnet.send("rollup-a", "rollup-b", b"hello")
        devnet.wait_delivered(msg)

The devnet starts once per session, on ports that are free (so a `make devnet`
running on the default ports is left alone), from cached state when possible,
and is always stopped at the end of the session, even when tests fail.
Options: `--devnet-config PATH`, `--devnet-block-time N`, `--devnet-manual-relay`
(no relayer: the test relays step by step with `devnet.relay(...)`).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import pytest

from orchestrator.config import DevnetConfig, load_config
from orchestrator.services import procs

if TYPE_CHECKING:
    from orchestrator.testing import DevnetHandle


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("metalayer-devnet")
    group.addoption("--devnet-config", default=None, help="devnet.toml for the `devnet` fixture")
    group.addoption("--devnet-block-time", type=float, default=None, help="block time for the `devnet` fixture")
    group.addoption("--devnet-manual-relay", action="store_true", help="start the `devnet` fixture without a relayer")


def free_port_offset(config: DevnetConfig, start: int = 100, step: int = 100, tries: int = 50) -> int:
    """The first offset (start, start+step, ...) at which every port of the devnet is free.

    `DEVNET_TEST_PORT_OFFSET` shifts the search, so test runs of several checkouts side by
    side do not race for the same range."""
    start += int(os.environ.get("DEVNET_TEST_PORT_OFFSET", "0"))
    for n in range(tries):
        offset = start + n * step
        if not any(procs.port_in_use(p + offset) for p in config.ports()):
            return offset
    raise RuntimeError("no free port range found for a test devnet")


def isolated_config(base: DevnetConfig, state_dir: Path, cache_dir: Path | None = None) -> DevnetConfig:
    """`base` moved to free ports with its own state directory."""
    from dataclasses import replace

    config = base.with_port_offset(free_port_offset(base))
    return replace(config, state_dir=str(state_dir))


@pytest.fixture(scope="session")
def devnet(request: pytest.FixtureRequest) -> Iterator["DevnetHandle"]:
    from orchestrator.testing import DevnetHandle

    base = load_config(request.config.getoption("--devnet-config"))
    block_time = request.config.getoption("--devnet-block-time")
    if block_time is not None:
        base = base.with_block_time(block_time or None)
    manual = bool(request.config.getoption("--devnet-manual-relay"))
    with tempfile.TemporaryDirectory(prefix="devnet-") as tmp:
        with DevnetHandle.start(isolated_config(base, Path(tmp)), relayer=not manual) as handle:
            yield handle
