"""The compiler: solc-js path, deployable bytecode, and the cache."""

import json

import pytest
from web3 import Web3

from orchestrator.build import compiler
from orchestrator.chains.anvil import start_chains

SOURCE = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Adder} from "./lib/Adder.sol";

contract Counter is Ownable {
    uint256 public count;
    event Bumped(uint256 count);
    constructor() Ownable(msg.sender) {}
    function bump(uint256 by) external onlyOwner { count = Adder.add(count, by); emit Bumped(count); }
}
"""
LIB = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;
library Adder { function add(uint256 a, uint256 b) internal pure returns (uint256) { return a + b; } }
"""


@pytest.fixture
def project(tmp_path):
    src = tmp_path / "src"
    (src / "lib").mkdir(parents=True)
    (src / "Counter.sol").write_text(SOURCE)
    (src / "lib" / "Adder.sol").write_text(LIB)
    return src, tmp_path / "out"


def test_collects_relative_and_openzeppelin_imports(project):
    src, _ = project
    sources = compiler.collect_sources(src)
    assert "src/Counter.sol" in sources and "src/lib/Adder.sol" in sources
    assert "@openzeppelin/contracts/access/Ownable.sol" in sources
    assert "@openzeppelin/contracts/utils/Context.sol" in sources  # imported by Ownable, relatively


def test_solcjs_bytecode_deploys_and_runs_on_anvil(project, tmp_path, ports_config):
    src, out = project
    result = compiler.compile_contracts(src, out)
    assert not result.cached
    assert result.compiler.startswith("solcjs-")
    counter = result.artifacts["Counter"]
    assert counter.bytecode.startswith("0x") and len(counter.bytecode) > 100
    on_disk = json.loads((out / "Counter.json").read_text())
    assert on_disk["bytecode"] == counter.bytecode

    config = ports_config
    with start_chains(config.chains[:1], tmp_path / "logs") as chains:
        w3 = Web3(Web3.HTTPProvider(chains["hub"].rpc_url))
        owner = w3.eth.accounts[0]
        contract = w3.eth.contract(abi=counter.abi, bytecode=counter.bytecode)
        receipt = w3.eth.wait_for_transaction_receipt(contract.constructor().transact({"from": owner}))
        deployed = w3.eth.contract(address=receipt["contractAddress"], abi=counter.abi)
        w3.eth.wait_for_transaction_receipt(deployed.functions.bump(41).transact({"from": owner}))
        w3.eth.wait_for_transaction_receipt(deployed.functions.bump(1).transact({"from": owner}))
        assert deployed.functions.count().call() == 42
        assert w3.eth.get_code(deployed.address).hex().removeprefix("0x") == counter.deployed_bytecode[2:]
        # onlyOwner is real: another account gets OwnableUnauthorizedAccount (selector 0x118cdaa7)
        stranger = w3.eth.accounts[1]
        with pytest.raises(Exception, match="0x118cdaa7"):
            deployed.functions.bump(1).transact({"from": stranger})


def test_cache_hit_is_fast_and_invalidated_by_a_change(project):
    src, out = project
    first = compiler.compile_contracts(src, out)
    second = compiler.compile_contracts(src, out)
    assert second.cached
    assert second.seconds < 0.5
    assert second.artifacts["Counter"] == first.artifacts["Counter"]
    (src / "lib" / "Adder.sol").write_text(LIB.replace("a + b", "b + a"))
    third = compiler.compile_contracts(src, out)
    assert not third.cached


def test_compile_error_is_reported(project):
    src, out = project
    (src / "Broken.sol").write_text("pragma solidity ^0.8.27; contract Broken { function f( }")
    with pytest.raises(compiler.CompileError, match="Broken.sol"):
        compiler.compile_contracts(src, out)


def test_missing_import_is_reported(project):
    src, out = project
    (src / "Bad.sol").write_text('pragma solidity ^0.8.27; import "@nope/Missing.sol"; contract Bad {}')
    with pytest.raises(compiler.CompileError, match="cannot resolve import '@nope/Missing.sol'"):
        compiler.compile_contracts(src, out)


def test_without_sources_the_shipped_artifacts_are_loaded(project, tmp_path):
    """The Docker image's mode: contracts/out without contracts/src and without a compiler."""
    src, out = project
    compiled = compiler.compile_contracts(src, out)
    shipped = compiler.compile_contracts(tmp_path / "no-src", out)
    assert shipped.cached and shipped.compiler == "precompiled"
    assert shipped.artifacts == compiled.artifacts
    with pytest.raises(compiler.CompileError, match="no contract sources and no artifacts"):
        compiler.compile_contracts(tmp_path / "no-src", tmp_path / "empty-out")
