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


def fake_manifest(run_dir: Path) -> SimpleNamespace:
    contract = SimpleNamespace(model_dump=lambda **_: {"address": "0x1"})
    return SimpleNamespace(
        chains=[], contracts={"C": contract}, run_dir=run_dir,
        guardians=SimpleNamespace(members=[]), instance_id="i", accounts=[],
    )  # fmt: skip


def test_a_meta_without_the_chain_fields_is_unreadable_not_a_crash(tmp_path):
    root = store.snapshots_root(tmp_path)
    (root / "odd").mkdir(parents=True)
    (root / "odd" / "meta.json").write_text(json.dumps({"chains": [{"x": 1}]}))  # seen: KeyError 'name' / 'created'
    unreadable: list[str] = []
    assert store.listing(tmp_path, unreadable) == [] and "'odd'" in unreadable[0]
    with pytest.raises(store.SnapshotError, match="unreadable"):
        store.lookup(tmp_path, "odd")


def test_concurrent_saves_of_one_name_all_succeed(tmp_path):
    """Seen: four `devnet snapshot save same` at once shared `.same.partial`; two failed with
    'No such file or directory' (and the chains' freeze/thaw interleaved)."""
    import sqlite3
    from concurrent.futures import ThreadPoolExecutor

    run = tmp_path / "run"
    run.mkdir()
    for name in ("relayer", "guardian-0", "guardian-1"):
        db = sqlite3.connect(run / f"{name}.sqlite")
        db.execute("CREATE TABLE t (x BLOB)")
        db.executemany("INSERT INTO t VALUES (?)", [(b"x" * 4000,)] * 300)
        db.commit()
        db.close()
    manifest = fake_manifest(run)
    with ThreadPoolExecutor(8) as pool:
        done = list(pool.map(lambda _: store.save(manifest, store.snapshots_root(tmp_path) / "same"), range(16)))  # type: ignore[arg-type]
    assert len(done) == 16
    assert [s.name for s in store.listing(tmp_path)] == ["same"]
    assert len(store.lookup(tmp_path, "same").databases) == 3


def test_a_full_disk_is_one_clear_line_and_leaves_nothing(tmp_path):
    """Seen (RLIMIT_FSIZE standing in for a full disk): 'error: OSError: [Errno 27] File too large'
    and a `.full.partial` directory left behind."""
    code = (
        "import resource, sys; from pathlib import Path\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (8, 8))\n"
        "from tests.foundation.test_snapshots_store import fake_manifest\n"
        "from orchestrator.snapshots import store\n"
        "root = store.snapshots_root(Path(sys.argv[1]))\n"
        "try:\n"
        "    store.save(fake_manifest(Path(sys.argv[1]) / 'run'), root / 'full')\n"
        "except store.SnapshotError as exc:\n"
        "    print(exc); print(sorted(p.name for p in root.iterdir() if p.is_dir()))\n"
    )
    repo = Path(__file__).resolve().parents[2]
    argv = [sys.executable, "-c", code, str(tmp_path)]
    proc = subprocess.run(argv, cwd=repo, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    message, left = proc.stdout.splitlines()
    assert message.startswith("cannot write snapshot 'full'") and "File too large" in message
    assert left == "[]"


def test_list_json_is_one_document(tmp_path):
    """Seen: `devnet snapshot list --json` was 'unrecognized arguments: --json'."""
    root = store.snapshots_root(tmp_path / "state")
    (root / "good").mkdir(parents=True)
    meta = {"created": 5, "chains": [{"name": "hub", "chain_id": 900, "block": 3, "hash": "0x"}]}
    (root / "good" / "meta.json").write_text(json.dumps(meta))
    argv = [
        sys.executable,
        "-m",
        "orchestrator.cli",
        "snapshot",
        "list",
        "--json",
        "--state-dir",
        str(tmp_path / "state"),
    ]
    proc = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    [snap] = json.loads(proc.stdout)["snapshots"]
    assert snap["name"] == "good" and snap["created"] == 5 and snap["chains"][0]["block"] == 3
    assert snap["directory"] == str(root / "good")


def test_an_empty_list_says_where_it_looked(tmp_path):
    """Seen: from another directory, with the devnet stopped, `snapshot list` said only 'No
    snapshots.' though the devnet's folder held some: it had looked in ./.devnet, unsaid."""
    argv = [sys.executable, "-m", "orchestrator.cli", "snapshot", "list"]
    proc = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and f"No snapshots in {tmp_path / '.devnet' / 'snapshots'}" in proc.stdout, proc
