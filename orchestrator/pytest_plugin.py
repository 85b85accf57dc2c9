"""pytest plugin (entry point `metalayer_devnet`): `devnet` and `clean_devnet` fixtures.

    def test_roundtrip(devnet):                     # session-wide devnet: state carries over
        msg = devnet.send("rollup-a", "rollup-b", "hello")
        devnet.wait_delivered(msg)

    @pytest.mark.devnet(manual_relay=True, block_time=1)
    def test_step_by_step(clean_devnet):            # the same devnet, reset to its clean point first
        ...

The devnet starts once per session, on ports that are free (so a `make devnet`
running on the default ports is left alone), from cached state when possible,
and is always stopped at the end of the session, even when tests fail.
Options: `--devnet-config PATH`, `--devnet-block-time N`, `--devnet-manual-relay`
(no relayer for the whole session). The `devnet` marker sets per test: `manual_relay`
(relayer stopped during the test), `block_time` (interval mining during the test), `clean`
(reset first, as `clean_devnet` does). A failing test's report carries the relayer's and the
guardians' log lines written during that test. docs/TESTING.md has the details.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

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


LOG_MARKS = pytest.StashKey[tuple[object, dict[str, int]]]()  # (DevnetHandle, log sizes at test start)
MARKER = (
    "devnet(manual_relay=False, block_time=None, clean=False): per-test devnet settings "
    "(relayer stopped, interval mining, reset to the clean point first)"
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)


MARKER_OPTIONS = ("block_time", "clean", "manual_relay")


def marker_problem(args: tuple[object, ...], options: dict[str, object]) -> str | None:
    """Why the `devnet` marker's options are wrong, or None: a typo (`blocktime=1`) would
    otherwise be ignored silently, and a wrong type fail deep inside the devnet."""
    if args:
        return f"options are keywords, e.g. devnet(manual_relay=True); got {', '.join(map(repr, args))}"
    for key, value in options.items():
        if key not in MARKER_OPTIONS:
            return f"unknown option {key!r} (known: {', '.join(MARKER_OPTIONS)})"
        if key in ("clean", "manual_relay") and not isinstance(value, bool):
            return f"{key} must be True or False, got {value!r}"
        if key == "block_time" and value is not None and not _seconds(value):
            return f"block_time must be a number of seconds >= 0 or None, got {value!r}"
    return None


def _seconds(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < float("inf")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """A misused marker fails its test in one line before any fixture (so before a devnet starts)."""
    for marker in item.iter_markers("devnet"):
        problem = marker_problem(marker.args, dict(marker.kwargs))
        if problem is not None:
            pytest.fail(f"devnet marker: {problem}", pytrace=False)


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
def devnet(request: pytest.FixtureRequest) -> Iterator[DevnetHandle]:
    from orchestrator.testing import DevnetHandle

    base = load_config(request.config.getoption("--devnet-config"))
    block_time = request.config.getoption("--devnet-block-time")
    if block_time is not None:
        base = base.with_block_time(block_time or None)
    manual = bool(request.config.getoption("--devnet-manual-relay"))
    with (
        tempfile.TemporaryDirectory(prefix="devnet-") as tmp,
        DevnetHandle.start(isolated_config(base, Path(tmp)), relayer=not manual) as handle,
    ):
        handle.mark_clean()
        yield handle


@pytest.fixture
def clean_devnet(devnet: DevnetHandle) -> DevnetHandle:
    """The session's devnet, reset to its clean point before the test (see `_devnet_per_test`)."""
    return devnet


@pytest.fixture(autouse=True)
def _devnet_per_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """For tests that use the devnet: reset when asked, apply the marker, note where the logs are."""
    names = request.fixturenames
    if "devnet" not in names and "clean_devnet" not in names:
        yield
        return
    handle = request.getfixturevalue("devnet")
    marker = request.node.get_closest_marker("devnet")
    options = dict(marker.kwargs) if marker else {}
    manual = bool(options.get("manual_relay", False))
    # marks first: the services' restart lines of this test's reset belong to its report
    request.node.stash[LOG_MARKS] = (handle, handle.log_marks())
    if ("clean_devnet" in names or options.get("clean")) and handle.dirty:
        handle.reset(relayer=not manual)
    if manual:
        handle.pause_relayer()
    if options.get("block_time") is not None:
        handle.set_block_time(float(options["block_time"]))
    try:
        yield
    finally:
        handle.dirty = True
        if options.get("block_time") is not None:
            handle.set_block_time(None)
        if manual:
            handle.resume_relayer()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    found = item.stash.get(LOG_MARKS, None)
    if found is None or not report.failed or report.when != "call":
        return report
    handle, marks = found
    try:
        logs = handle.logs_since(marks)  # type: ignore[attr-defined]
    except OSError as exc:
        logs = {"devnet": f"logs unavailable: {exc}"}
    for name, text in logs.items():
        report.sections.append((f"devnet log: {name}", text))
    return report
