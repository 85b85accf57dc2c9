"""The `devnet` pytest fixture, used exactly as a user's suite uses it (an inner pytest run)."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.processes import wait_gone

REPO = Path(__file__).resolve().parents[2]

AUTO = textwrap.dedent(
    """
    import json, os
    from pathlib import Path

    def test_message_is_relayed(devnet):
        Path(os.environ["PIDS_FILE"]).write_text(json.dumps(list(devnet.devnet.pids().values())))
        counter = devnet.contract("rollup-b", "CrossChainCounter")
        before = counter.functions.count().call()
        sent = devnet.send("rollup-a", "rollup-b", (5).to_bytes(32, "big"))
        devnet.wait_delivered(sent, timeout=30)
        assert counter.functions.count().call() == before + 5
        assert devnet.chain("rollup-b").rpc_url != "http://127.0.0.1:8547"  # never the user's ports

    def test_fails_on_purpose(devnet):
        assert False, "deliberate failure"
    """
)

MANUAL = textwrap.dedent(
    """
    import time
    import pytest

    def test_step_by_step(devnet):
        assert "relayer" not in devnet.devnet.pids()
        sent = devnet.send("rollup-b", "hub", b"")
        time.sleep(1.0)
        assert not devnet.is_delivered(sent)  # nobody relays in manual mode
        receipt = devnet.relay(sent)
        assert receipt["status"] == 1
        assert devnet.is_delivered(sent)
        from orchestrator.testing import DeliveryFailed
        with pytest.raises(DeliveryFailed, match=r"AlreadyDelivered\\(902, \\d+\\)"):  # a replay reverts, decoded
            devnet.relay(sent)
    """
)


def run_inner(tmp_path: Path, source: str, *options: str) -> tuple[subprocess.CompletedProcess[str], list[int]]:
    test_file = tmp_path / "test_inner.py"
    test_file.write_text(source)
    pids_file = tmp_path / "pids.json"
    env = {**os.environ, "PIDS_FILE": str(pids_file)}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", str(test_file), *options],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    pids = json.loads(pids_file.read_text()) if pids_file.exists() else []
    return proc, pids


def test_fixture_delivers_and_cleans_up_even_after_a_failure(tmp_path):
    proc, pids = run_inner(tmp_path, AUTO)
    assert "1 failed, 1 passed" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert len(pids) >= 8  # 3 chains, 3 guardians, relayer, api
    assert wait_gone(pids), "the fixture left processes behind"


def test_manual_relay_mode(tmp_path):
    proc, _ = run_inner(tmp_path, MANUAL, "--devnet-manual-relay")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]


MISUSED = textwrap.dedent(
    """
    import pytest

    @pytest.mark.devnet(blocktime=1)
    def test_typo(devnet): pass

    @pytest.mark.devnet(block_time="fast")
    def test_not_a_number(devnet): pass

    @pytest.mark.devnet(manual_relay="yes")
    def test_not_a_bool(devnet): pass

    @pytest.mark.devnet(True)
    def test_positional(devnet): pass
    """
)


def test_a_misused_marker_fails_its_test_in_one_line_without_starting_a_devnet(tmp_path):
    """Seen: `blocktime=1` (a typo) and positional options were ignored silently, and
    `block_time="fast"` was a ValueError traceback after the devnet had started."""
    proc, pids = run_inner(tmp_path, MISUSED, "-rE")
    out = proc.stdout
    assert "4 errors" in out and not pids, out[-3000:]
    assert "devnet marker: unknown option 'blocktime' (known: block_time, clean, manual_relay)" in out
    assert "devnet marker: block_time must be a number of seconds >= 0 or None, got 'fast'" in out
    assert "devnet marker: manual_relay must be True or False, got 'yes'" in out
    assert "devnet marker: options are keywords, e.g. devnet(manual_relay=True); got True" in out
    assert "Traceback" not in out and "devnet-" not in out  # no devnet (state dir devnet-*) was started
