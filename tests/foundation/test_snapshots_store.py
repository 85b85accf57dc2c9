"""Snapshot store checks that need no devnet: the mnemonic at load, the temporary name at save,
and a listing that survives one unreadable snapshot."""

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from orchestrator.keys import dev_accounts
from orchestrator.snapshots import store

OTHER_MNEMONIC = "abandon " * 11 + "about"


def fake_snapshot(root: Path, name: str, config, accounts: list[str]) -> None:
    directory = store.snapshots_root(root) / name
    directory.mkdir(parents=True)
    chains = [{"name": c.name, "chain_id": c.chain_id, "block": 1, "hash": "0x"} for c in config.chains]
    meta = {"created": 0, "guardians": config.guardians.count, "chains": chains, "accounts": accounts}
    (directory / "meta.json").write_text(json.dumps(meta))


def test_a_snapshot_of_another_mnemonic_is_refused(tmp_path, ports_config):
    config = replace(ports_config, state_dir=str(tmp_path / "state"))
    own = [k.address for k in dev_accounts(config.mnemonic, 3)]
    other = [k.address for k in dev_accounts(OTHER_MNEMONIC, 3)]
    fake_snapshot(config.state.root, "mine", config, own)
    fake_snapshot(config.state.root, "theirs", config, other)
    store.check_topology(config, store.lookup(config.state.root, "mine"))
    with pytest.raises(store.SnapshotError, match="another mnemonic"):
        store.check_topology(config, store.lookup(config.state.root, "theirs"))


def test_saving_x_keeps_a_snapshot_named_x_partial(tmp_path, monkeypatch):
    root = store.snapshots_root(tmp_path)
    (root / "x.partial").mkdir(parents=True)
    (root / "x.partial" / "meta.json").write_text(json.dumps({"created": 0, "chains": []}))
    contract = SimpleNamespace(model_dump=lambda **_: {"address": "0x1"})
    manifest = SimpleNamespace(
        chains=[], contracts={"C": contract}, run_dir=tmp_path / "run",
        guardians=SimpleNamespace(members=[]), instance_id="i", accounts=[],
    )  # fmt: skip
    store.save(manifest, root / "x")  # type: ignore[arg-type]
    assert sorted(s.name for s in store.listing(tmp_path)) == ["x", "x.partial"]


def test_list_names_a_corrupt_snapshot_and_lists_the_others(tmp_path):
    root = store.snapshots_root(tmp_path / "state")
    for name in ("good", "bad"):
        (root / name).mkdir(parents=True)
    (root / "good" / "meta.json").write_text(json.dumps({"created": 0, "chains": [{"name": "hub", "block": 3}]}))
    (root / "bad" / "meta.json").write_text('{"created": 0, "chai')
    unreadable: list[str] = []
    assert [s.name for s in store.listing(tmp_path / "state", unreadable)] == ["good"]
    assert len(unreadable) == 1 and "'bad'" in unreadable[0]
    proc = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", "snapshot", "list", "--state-dir", str(tmp_path / "state")],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("good ") and "hub@3" in proc.stdout
    assert "'bad'" in proc.stderr and "Traceback" not in proc.stderr
