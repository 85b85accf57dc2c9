"""`clean_devnet` and the `devnet` marker, used as a user's suite uses them (an inner pytest run),
and the reset under them: services suspended and resumed in place, later messages delivered once."""

import os
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from web3.exceptions import TransactionNotFound

from orchestrator.testing import DevnetHandle
from services.solver.planner import IntentRequest, plan_intent
from tests.conftest import wait_for

REPO = Path(__file__).resolve().parents[2]

# Ten tests, each changes the state (a delivered message, a mined block, an account nonce);
# each must still start from the same state as the first.
TEN_CLEAN = textwrap.dedent(
    """
    import json, os, pytest
    from pathlib import Path

    SEEN = Path(os.environ["SEEN_FILE"])

    def state(devnet):
        counter = devnet.contract("rollup-b", "CrossChainCounter")
        return {
            "count": counter.functions.count().call(),
            "blocks": {c.name: devnet.w3[c.name].eth.block_number for c in devnet.manifest.chains},
            "nonce": devnet.w3["rollup-a"].eth.get_transaction_count(devnet.accounts[0].address),
        }

    @pytest.mark.parametrize("n", range(10))
    def test_each_sees_the_clean_state(clean_devnet, n):
        before = state(clean_devnet)
        with SEEN.open("a") as f:
            f.write(json.dumps(before) + "\\n")
        sent = clean_devnet.send("rollup-a", "rollup-b", (n + 1).to_bytes(32, "big"))
        clean_devnet.wait_delivered(sent, timeout=30)
        assert state(clean_devnet)["count"] == before["count"] + n + 1
    """
)

MARKED = textwrap.dedent(
    """
    import time, pytest
    from orchestrator.testing import DeliveryFailed

    @pytest.mark.devnet(manual_relay=True)
    def test_manual_in_one_test(clean_devnet):
        a = clean_devnet.send("rollup-a", "hub", "from a")
        b = clean_devnet.send("rollup-b", "hub", "0x0102")
        assert b.payload == bytes([1, 2]) and a.payload == b"from a"
        time.sleep(1.0)
        assert not clean_devnet.is_delivered(a)        # the relayer is stopped for this test
        clean_devnet.relay([a, b])                     # two source chains in one call
        assert clean_devnet.is_delivered(a) and clean_devnet.is_delivered(b)
        with pytest.raises(DeliveryFailed, match=r"AlreadyDelivered\\(901, "):
            clean_devnet.relay(a)

    def test_relayer_back_in_the_next(clean_devnet):
        sent = clean_devnet.send("rollup-a", "hub", "auto")
        clean_devnet.wait_delivered(sent, timeout=30)

    @pytest.mark.devnet(block_time=0)
    def test_block_time_zero_is_instant_mining(clean_devnet):
        for chain in ("hub", "rollup-a"):
            w3 = clean_devnet.w3[chain]
            assert w3.provider.make_request("anvil_getAutomine", [])["result"] is True
    """
)

FAILING = textwrap.dedent(
    """
    def test_passes_first(clean_devnet):
        sent = clean_devnet.send("rollup-a", "rollup-b", b"")
        clean_devnet.wait_delivered(sent, timeout=30)
        print("FIRST " + sent.id)

    def test_fails_with_logs(clean_devnet):
        import time
        sent = clean_devnet.send("rollup-a", "rollup-b", b"")
        clean_devnet.wait_delivered(sent, timeout=30)
        # delivered on chain first; the relayer records (and logs) it from the receipt a moment later
        deadline = time.monotonic() + 10
        while (clean_devnet.trace(sent.id) or {}).get("status") != "delivered" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert False, "deliberate failure " + sent.id
    """
)


def run_inner(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    test_file = tmp_path / "test_inner.py"
    test_file.write_text(source)
    env = {**os.environ, "SEEN_FILE": str(tmp_path / "seen.jsonl")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-rA", str(test_file)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_ten_function_scoped_tests_see_the_same_clean_state(tmp_path):
    import json

    proc = run_inner(tmp_path, TEN_CLEAN)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    seen = [json.loads(line) for line in (tmp_path / "seen.jsonl").read_text().splitlines()]
    assert len(seen) == 10
    assert all(s == seen[0] for s in seen), seen


def test_marker_per_test_typed_errors_and_str_payloads(tmp_path):
    proc = run_inner(tmp_path, MARKED)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "3 passed" in proc.stdout


def test_failing_test_report_has_that_tests_service_logs(tmp_path):
    proc = run_inner(tmp_path, FAILING)
    assert proc.returncode == 1, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "1 failed, 1 passed" in proc.stdout
    out = proc.stdout
    failure = out.split("test_fails_with_logs", 1)[1]
    assert "deliberate failure" in failure
    # the guardians restarted at this test's reset: their lines are this test's
    assert "devnet log: guardian-0" in failure and "guardian 0 (" in failure, failure[:4000]
    relayer = failure.split("devnet log: relayer", 1)[1].split("devnet log:", 1)[0]
    assert "delivered 1 message(s) rollup-a -> rollup-b" in relayer, relayer[:3000]
    # only this test's lines: the first test's delivery is not in them
    assert relayer.count("delivered 1 message(s)") == 1, relayer[:3000]


def guardian_attestation(handle, index: int, chain: str, block: int) -> dict:
    url = handle.manifest.guardians.members[index].url
    return httpx.get(f"{url}/v1/attestations/{handle.chain(chain).chain_id}/{block}?wait=5", timeout=10).json()


def test_messages_after_a_reset_are_delivered_once_by_the_same_processes(tmp_path, ports_config):
    config = replace(ports_config, state_dir=str(tmp_path / "state"))
    with DevnetHandle.start(config) as handle:
        handle.mark_clean()
        pids = handle.supervisor.pids()
        first = handle.send("rollup-a", "rollup-b", "before the reset")
        handle.wait_delivered(first, timeout=30)

        handle.reset()
        assert handle.supervisor.pids() == pids  # suspended and resumed in place, not restarted
        assert not handle.is_delivered(first)  # the destination went back too
        second = handle.send("rollup-a", "rollup-b", "after the reset")
        assert (second.nonce, second.block) == (first.nonce, first.block)  # the same numbers, mined again
        assert second.id != first.id
        handle.wait_delivered(second, timeout=30)
        # the guardians signed the block mined again, not the one they saw before the reset
        block = handle.w3["rollup-a"].eth.get_block(second.block)
        for i in range(config.guardians.count):
            assert guardian_attestation(handle, i, "rollup-a", second.block)["block_hash"] == "0x" + block.hash.hex()

        handle.reset()
        third = handle.send("rollup-a", "rollup-b", "after the reset")  # the very message again: same id
        assert third.id == second.id
        handle.wait_delivered(third, timeout=30)  # the relayer's queue came back without it
        time.sleep(1.0)  # a duplicate delivery would land within the relayer's next rounds
        assert handle.receive_counts("rollup-b").get(third.id) == 1
        assert handle.trace(third.id)["status"] == "delivered"
        assert handle.supervisor.pids() == pids


def test_reset_drops_pooled_transactions_and_restarts_what_did_not_answer(tmp_path, ports_config):
    config = replace(ports_config, state_dir=str(tmp_path / "state"))
    with DevnetHandle.start(config) as handle:
        handle.mark_clean()
        w3 = handle.w3["rollup-a"]
        sender = handle.accounts[1].address
        nonce = w3.eth.get_transaction_count(sender)
        handle.set_block_time(60)  # nothing mined for a minute: the transaction waits in the pool
        tx = w3.eth.send_transaction({"from": sender, "to": handle.accounts[2].address, "value": 1})
        handle.supervisor.stop_service("guardian-1")  # a service that cannot answer its suspend
        pids = handle.supervisor.pids()

        handle.reset(relayer=False)  # the chains mine at once again: a pooled transaction would land now
        time.sleep(0.5)
        with pytest.raises(TransactionNotFound):
            w3.eth.get_transaction(tx)
        assert w3.eth.get_transaction_count(sender) == nonce
        after = handle.supervisor.pids()
        assert "relayer" not in after  # manual relaying: the relayer stays stopped
        assert "guardian-1" in after and after["guardian-0"] == pids["guardian-0"]
        sent = handle.send("rollup-a", "hub", "by hand")
        handle.relay(sent)  # every guardian answers and signs what the chain holds now
        assert handle.is_delivered(sent)

        handle.reset()
        assert "relayer" in handle.supervisor.pids()
        sent = handle.send("rollup-a", "hub", "relayed")
        handle.wait_delivered(sent, timeout=30)


def open_intent(handle: DevnetHandle, recipient: str) -> None:
    """A 10-USDC intent rollup-a -> rollup-b from dev account 1, through the planner's transactions."""
    plan = plan_intent(
        handle.manifest,
        IntentRequest("rollup-a", "rollup-b", "USDC", "10", recipient, sender=handle.accounts[1].address),
    )
    assert plan.route == "solver", plan.reason
    for tx in plan.transactions:
        w3 = handle.w3[tx["chain"]]
        sent = w3.eth.send_transaction({"from": tx["from"], "to": tx["to"], "data": tx["data"], "gas": tx["gas"]})
        assert w3.eth.wait_for_transaction_receipt(sent, timeout=30).status == 1, tx["description"]


def test_an_intent_after_a_reset_is_filled_by_the_same_solver(tmp_path, ports_config):
    config = replace(ports_config, state_dir=str(tmp_path / "state"))
    with DevnetHandle.start(config) as handle:
        handle.mark_clean()
        pids = handle.supervisor.pids()
        usdc_b = handle.contract("rollup-b", "USDC")
        recipient = handle.accounts[5].address
        before = usdc_b.functions.balanceOf(recipient).call()
        open_intent(handle, recipient)
        wait_for("the first fill", lambda: usdc_b.functions.balanceOf(recipient).call() == before + 10 * 10**6)

        handle.reset()  # the solver comes back on its restored store: its cursor is before the intent
        assert handle.supervisor.pids() == pids  # solver-0 included: suspended and resumed in place
        assert usdc_b.functions.balanceOf(recipient).call() == before
        open_intent(handle, recipient)  # its Open lands at a block number the solver had scanned
        wait_for(
            "the fill after the reset", lambda: usdc_b.functions.balanceOf(recipient).call() == before + 10 * 10**6
        )
