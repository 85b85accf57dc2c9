"""Issue 10: attestations are bound to one `devnet up` (the instance id salts the EIP-712 domain).

Two runs of one devnet from the same cached state: what was signed and proven in the first is
refused in the second, and a guardian's honest signatures of one block in both runs are not
equivocation evidence.
"""

from __future__ import annotations

from pathlib import Path

import httpx
from web3.exceptions import ContractCustomError

from services.protocol import Attestation, Message, fetch_message_proofs, recover_signer
from tests.conftest import free_config
from tests.e2e.conftest import Net


def _guardian_attestation(net: Net, index: int, chain: str, block: int) -> tuple[Attestation, bytes]:
    cid = net.manifest.chain(chain).chain_id
    doc = httpx.get(f"{net.guardian_url(index)}/v1/attestations/{cid}/{block}", params={"wait": 5}, timeout=10).json()
    return Attestation(cid, block, doc["block_hash"], doc["state_root"]), bytes.fromhex(doc["signature"][2:])


def _error_name(exc: ContractCustomError) -> str:
    """The custom error's name (e.g. "NotGuardian"), from the project's ABIs."""
    from services.common.abi import Abi, describe_error
    from services.protocol import load_abi

    data = exc.data if isinstance(exc.data, str) else str(exc.args[0])
    abis = [Abi(load_abi(n)) for n in ("MetalayerGateway", "StateRootRegistry", "GuardianStaking")]
    return describe_error(data, abis).split("(")[0]


def test_signatures_proofs_and_evidence_of_a_previous_up_are_refused(tmp_path: Path):
    config = free_config(3700, state_dir=tmp_path / "s")
    with Net.start(config, relayer=False) as first:
        sent = first.send("rollup-a", "rollup-b", b"sent in the first run only")
        messages = [Message(sent.source, sent.destination, sent.nonce, sent.sender, sent.recipient, sent.payload)]
        signed = [_guardian_attestation(first, i, "rollup-a", sent.block) for i in (0, 1)]
        att = signed[0][0]
        assert signed[1][0] == att
        account_proof, storage_proofs = fetch_message_proofs(
            first.w3["rollup-a"], first.addresses["MetalayerGateway"], messages, sent.block
        )
        first_instance = first.manifest.instance_id

    with Net.start(config, relayer=False) as second:
        assert second.manifest.instance_id != first_instance
        gateway = second.contract("rollup-b", "MetalayerGateway")
        replay = gateway.functions.attestAndDeliverBatch(
            att.as_tuple(), [s for _, s in signed], account_proof, [m.as_tuple() for m in messages], storage_proofs
        )
        try:
            replay.call({"from": second.account(9)})
            raise AssertionError("a previous run's attestation was accepted")
        except ContractCustomError as exc:
            assert _error_name(exc) == "NotGuardian"
        assert not second.is_delivered(sent)

        # guardian 0 signs the same (chain, block) in this run: another root (the registry holds
        # another instance id), but evidence across runs is refused and nobody is slashed
        while second.w3["rollup-a"].eth.block_number < sent.block:
            second.w3["rollup-a"].provider.make_request("evm_mine", [])
        now, sig_now = _guardian_attestation(second, 0, "rollup-a", sent.block)
        assert now.state_root != att.state_root
        guardian = second.manifest.guardians.members[0].address
        assert recover_signer(now, sig_now, second.manifest.instance_id) == guardian
        staking = second.contract("hub", "GuardianStaking")
        try:
            evidence = staking.functions.slash(att.as_tuple(), signed[0][1], now.as_tuple(), sig_now)
            evidence.call({"from": second.account(9)})
            raise AssertionError("cross-run evidence was accepted")
        except ContractCustomError as exc:
            assert _error_name(exc) == "SignerMismatch"
        assert staking.functions.stakeOf(guardian).call()[3] is False


def test_a_guardian_whose_manifest_names_another_instance_reports_it(net: Net, tmp_path: Path):
    """Its signatures would verify nowhere: /health says so (503) instead of looking fine."""
    import json
    import socket
    import sys
    import time

    from orchestrator.services import procs

    doc = json.loads(Path(net.devnet.manifest_path).read_text())
    doc["instance_id"] = "0x" + "13" * 32
    stale = tmp_path / "manifest.json"
    stale.write_text(json.dumps(doc))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = procs.spawn(
        [
            sys.executable,
            "-m",
            "services.guardian",
            "--index",
            "0",
            "--manifest",
            str(stale),
            "--port",
            str(port),
            "--db",
            str(tmp_path / "g.sqlite"),
        ],
        tmp_path / "guardian.log",
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        deadline = time.monotonic() + 20
        health: dict = {}
        status = 0
        while time.monotonic() < deadline and not health.get("instance_errors"):
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                status, health = r.status_code, r.json()
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        assert status == 503 and health["status"] == "wrong instance", health
        assert set(health["instance_errors"]) == {str(c.chain_id) for c in net.manifest.chains}
        assert net.manifest.instance_id[2:] in next(iter(health["instance_errors"].values()))
    finally:
        procs.stop(proc)
