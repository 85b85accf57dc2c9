"""Revert reasons from every ABI the devnet knows: project, OpenZeppelin, user Foundry/Hardhat builds."""

from __future__ import annotations

import json

from eth_abi import encode
from eth_utils import keccak

from services.common.abi import Abi
from services.common.errors import ErrorDecoder, artifact_files


def selector(sig: str) -> bytes:
    return keccak(text=sig)[:4]


def error_abi(name: str, *types: str) -> list[dict]:
    return [{"type": "error", "name": name, "inputs": [{"name": f"a{i}", "type": t} for i, t in enumerate(types)]}]


def test_project_openzeppelin_and_undeclared_errors_are_known():
    d = ErrorDecoder()
    assert d.describe(selector("InvalidRecipientReturn()")) == "InvalidRecipientReturn()"
    # an OpenZeppelin error no project contract declares: from OZ's shipped ABIs
    data = selector("ERC721NonexistentToken(uint256)") + encode(["uint256"], [7])
    assert d.describe(data) == "ERC721NonexistentToken(7)"
    assert (
        d.describe(
            "0x" + (selector("AlreadyDelivered(uint256,uint256)") + encode(["uint256", "uint256"], [901, 3])).hex()
        )
        == "AlreadyDelivered(901, 3)"
    )
    assert d.describe(None) == "reverted without a reason" and d.describe("0xdeadbeef") == "0xdeadbeef"


def test_user_foundry_and_hardhat_artifacts(tmp_path):
    foundry = tmp_path / "dapp" / "out"
    (foundry / "Vault.sol").mkdir(parents=True)
    (foundry / "Vault.sol" / "Vault.json").write_text(json.dumps({"abi": error_abi("VaultLocked", "uint64")}))
    (foundry / "build-info").mkdir()
    (foundry / "build-info" / "x.json").write_text(json.dumps({"abi": error_abi("Ignored")}))
    hardhat = tmp_path / "hh" / "artifacts"
    (hardhat / "contracts" / "Pool.sol").mkdir(parents=True)
    (hardhat / "contracts" / "Pool.sol" / "Pool.json").write_text(
        json.dumps({"_format": "hh-sol-artifact-1", "abi": error_abi("PoolEmpty", "address")})
    )
    (hardhat / "contracts" / "Pool.sol" / "Pool.dbg.json").write_text(json.dumps({"buildInfo": "x"}))
    (tmp_path / "junk.json").write_text("not json")

    assert [p.name for p in artifact_files(foundry)] == ["Vault.json"]
    d = ErrorDecoder(extra_dirs=[foundry, "hh/artifacts", tmp_path / "missing"], include_project=False, base=tmp_path)
    assert d.describe(selector("VaultLocked(uint64)") + encode(["uint64"], [5])) == "VaultLocked(5)"
    addr = "0x" + "11" * 20
    assert d.describe(selector("PoolEmpty(address)") + encode(["address"], [addr])) == f"PoolEmpty({addr})"
    assert d.describe(selector("Ignored()")).startswith("0x")  # build-info is not an artifact


def test_handed_in_abis_answer_without_reading_folders(tmp_path):
    d = ErrorDecoder([Abi(error_abi("Mine", "uint256"))], include_project=False)
    assert d.describe(selector("Mine(uint256)") + encode(["uint256"], [1])) == "Mine(1)"
    assert d._folders is None  # nothing read from disk for a known selector
