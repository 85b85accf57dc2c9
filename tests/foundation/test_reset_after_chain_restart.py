"""A reset after a chain was restarted (its anvil no longer knows the checkpoint's snapshot ids),
and after a reset that failed: the next test still gets a clean devnet and working services."""

from dataclasses import replace

import httpx
import pytest

from orchestrator.snapshots.checkpoint import ResetError
from orchestrator.testing import DevnetHandle
from tests.foundation.test_fixture_isolation import run_inner

KILLED_CHAIN = """
import time

def count(devnet):
    return devnet.contract("rollup-b", "CrossChainCounter").functions.count().call()

def test_kills_a_chain(clean_devnet):
    sent = clean_devnet.send("rollup-a", "rollup-b", (1).to_bytes(32, "big"))
    clean_devnet.wait_delivered(sent, timeout=30)
    clean_devnet.chaos("kill", "rollup-a")
    records = clean_devnet.devnet.chain_supervisor.records
    deadline = time.monotonic() + 30
    while records["rollup-a"].restarts == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert records["rollup-a"].restarts == 1

def test_clean_after_the_restart(clean_devnet):
    assert count(clean_devnet) == 0
    sent = clean_devnet.send("rollup-a", "rollup-b", (1).to_bytes(32, "big"))
    clean_devnet.wait_delivered(sent, timeout=30)
    assert count(clean_devnet) == 1

def test_clean_again(clean_devnet):
    assert count(clean_devnet) == 0
    sent = clean_devnet.send("rollup-b", "rollup-a", "back")
    clean_devnet.wait_delivered(sent, timeout=30)

def test_plain_devnet_still_delivers(devnet):
    sent = devnet.send("rollup-a", "rollup-b", "plain")
    devnet.wait_delivered(sent, timeout=30)
"""


def test_clean_devnet_after_a_chain_was_killed(tmp_path):
    proc = run_inner(tmp_path, KILLED_CHAIN)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "4 passed" in proc.stdout


def test_a_failed_reset_resumes_the_services_and_the_next_restores_everything(tmp_path, ports_config):
    config = replace(ports_config, state_dir=str(tmp_path / "state"))
    with DevnetHandle.start(config) as handle:
        handle.mark_clean()
        pids = handle.supervisor.pids()
        first = handle.send("rollup-a", "rollup-b", "before")
        handle.wait_delivered(first, timeout=30)
        handle.checkpoint.ids["rollup-b"] = "0x7777"  # a snapshot id the chain does not know
        with pytest.raises(ResetError, match="rollup-b"):
            handle.reset()
        assert handle.checkpoint.broken
        for name in ("relayer", "guardian-0"):  # resumed, not left suspended
            url = handle.supervisor.services[name].spec.health_url
            assert httpx.get(url, timeout=5).status_code == 200, name

        handle.reset()  # every chain from its dump, every service restarted
        assert not handle.checkpoint.broken
        assert handle.supervisor.pids()["relayer"] != pids["relayer"]
        assert not handle.is_delivered(first)
        second = handle.send("rollup-a", "rollup-b", "after")
        assert (second.nonce, second.block) == (first.nonce, first.block)
        handle.wait_delivered(second, timeout=30)
        handle.reset()  # and back to the cheap path
        assert not handle.checkpoint.broken and not handle.is_delivered(second)
