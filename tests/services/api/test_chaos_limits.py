"""POST /v1/chaos refuses a reorg the chain cannot undergo with a 422 and a reason, and records
nothing (it used to answer 202 to any depth up to 10,000; the warden then failed it)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from orchestrator.chains.rpc import rpc
from services.api.app import create_app
from services.common.faults import MAX_REORG_DEPTH, FaultBook
from services.common.manifest import load
from tests.services.api.test_routes import assert_error


def test_a_reorg_deeper_than_the_chain_or_the_maximum_is_a_422(chains_only, tmp_path):
    config, manifest_path = chains_only
    manifest = load(manifest_path)
    rollup = config.chain("rollup-a")
    rpc(rollup.rpc_url, "anvil_mine", ["0x3"])  # height 3
    with TestClient(create_app(manifest, tmp_path / "relayer.sqlite"), raise_server_exceptions=False) as client:

        def reorg(**body):
            return client.post("/v1/chaos", json={"kind": "reorg", **body})

        err = assert_error(reorg(target="rollup-a", depth=4), 422, "invalid_request", "deeper than rollup-a's height 3")
        assert err["details"][0]["loc"] == ["body", "depth"]
        assert_error(reorg(target="rollup-a", depth=MAX_REORG_DEPTH + 1), 422, "invalid_request", "depth")
        assert_error(reorg(target="hub"), 422, "invalid_request", "height 0")  # depth 1 by default
        assert_error(reorg(target="relayer", depth=1), 422, "invalid_request", "unknown chain 'relayer'")
        assert FaultBook(manifest.run_dir).all() == []  # nothing requested of the warden
        ok = reorg(target="rollup-a", depth=3)
        assert ok.status_code == 202 and ok.json()["args"] == {"depth": 3}
