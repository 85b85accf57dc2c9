"""Proven cross-chain reads: a contract on rollup-b acts on a rollup-a ERC20 balance in one call."""

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from web3.exceptions import ContractCustomError

from orchestrator.config import to_toml
from orchestrator.reads import ReadError
from services.protocol.slots import erc20_balance_slot, erc7201_slot, mapping_slot

NOBODY = "0x000000000000000000000000000000000000dEaD"


@pytest.fixture(scope="module")
def gate(net):
    token = net.addresses["EraToken"]
    return net.deploy(
        "rollup-b", "RemoteBalanceGate", net.addresses["MetalayerGateway"], net.chain("rollup-a").chain_id, token, 1
    )


def test_slot_math_matches_the_token_and_ozs_namespace(net):
    token = net.contract("rollup-a", "EraToken")
    holder = net.account(0)
    raw = net.w3["rollup-a"].eth.get_storage_at(token.address, erc20_balance_slot(holder))
    assert int.from_bytes(raw, "big") == token.functions.balanceOf(holder).call() > 0
    assert (
        erc7201_slot("openzeppelin.storage.ERC20").hex()
        == "52c63247e1f47db19d5ce0460030c497f067ca4cebf71ba98eeadabe20bace00"
    )
    assert mapping_slot(holder, 0) == erc20_balance_slot(holder)


def test_contract_reads_a_nonzero_balance_against_a_root_attested_on_demand(net, gate):
    token = net.addresses["EraToken"]
    holder = net.account(0)
    balance = net.contract("rollup-a", "EraToken").functions.balanceOf(holder).call()
    registry = net.contract("rollup-b", "StateRootRegistry")
    got = net.read("rollup-a", token, erc20_balance=holder, on="rollup-b")
    assert got.value == balance and got.verified_locally and got.verified_onchain, got.onchain_error
    assert registry.functions.rootAt(net.chain("rollup-a").chain_id, got.block).call() == got.state_root
    # the same block again: the root is there, nothing to attest
    again = net.read("rollup-a", token, erc20_balance=holder, block=got.block, on="rollup-b")
    assert not again.attested_now and again.value == balance
    proofs = (got.block, got.account_proof, got.storage_proof)
    assert gate.functions.remoteBalance(holder, *proofs).call() == balance
    net.transact("rollup-b", gate.functions.join(*proofs), account=0)
    assert gate.functions.members(holder).call() == balance
    # another holder's slot with these proofs does not pass
    with pytest.raises(ContractCustomError):
        gate.functions.join(*proofs).call({"from": net.account(1)})


def test_zero_balance_is_proven_by_exclusion(net, gate):
    got = net.read("rollup-a", net.addresses["EraToken"], erc20_balance=NOBODY, on="rollup-b")
    assert got.value == 0 and got.verified_locally  # py-trie checks the exclusion proof
    assert got.verified_onchain, got.onchain_error  # the gateway's CalldataTrie proves the exclusion
    proofs = (got.block, got.account_proof, got.storage_proof)
    assert gate.functions.remoteBalance(NOBODY, *proofs).call() == 0
    with pytest.raises(ContractCustomError):  # InsufficientRemoteBalance(NOBODY, 0, 1)
        gate.functions.join(*proofs).call({"from": NOBODY})


@pytest.mark.parametrize("whose", ["an account that does not exist", "an account without storage"])
def test_any_slot_of_an_account_without_storage_reads_zero(net, whose):
    account = "0x" + "ab" * 20 if whose.startswith("an account that") else net.account(5)
    got = net.read("rollup-a", account, slot=7, on="rollup-b")
    assert got.value == 0 and got.verified_locally  # the account proof shows it absent / storage empty
    assert got.verified_onchain, got.onchain_error  # and so does the gateway
    # the same proofs do not pass for an account that has storage
    gw = net.contract("rollup-b", "MetalayerGateway")
    fn = gw.functions.verifyStorage(
        net.chain("rollup-a").chain_id,
        got.block,
        net.addresses["EraToken"],
        (7).to_bytes(32, "big"),
        got.account_proof,
        got.storage_proof,
    )
    with pytest.raises(ContractCustomError):  # InvalidAccountProof
        fn.call()


def read_cli(config: Path, address: str, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """`devnet read --chain rollup-a --address ADDRESS ARGS...` of the devnet `config` describes."""
    cmd = ["read", "--config", str(config), "--chain", "rollup-a", "--address", address, *args]
    return subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", *cmd], capture_output=True, text=True, timeout=timeout
    )


def test_cli_and_api_print_the_same_value_with_its_block(net, tmp_path: Path):
    token, holder = net.addresses["EraToken"], net.account(0)
    balance = net.contract("rollup-a", "EraToken").functions.balanceOf(holder).call()
    config = tmp_path / "devnet.toml"
    config.write_text(to_toml(net.devnet.config))
    cli = read_cli(config, token, "--erc20-balance", holder, "--on", "rollup-b", timeout=120)
    assert cli.returncode == 0, cli.stderr
    first, second = cli.stdout.splitlines()[:2]
    assert first.split()[0] == str(balance)
    assert second.startswith("proven at block ") and "verifyStorage ok" in second
    block = int(second.split()[3])

    api = httpx.get(
        f"{net.api}/v1/read",
        params={"chain": "rollup-a", "address": token, "erc20_balance": holder, "on": "rollup-b", "block": block},
        timeout=60,
    )
    assert api.status_code == 200, api.text
    body = api.json()
    assert int(body["value_int"]) == balance and body["block"] == block and body["verified_onchain"]
    assert not body["attested_now"]  # the CLI attested that block already

    bad = httpx.get(f"{net.api}/v1/read", params={"chain": "rollup-a", "address": "0x12"}, timeout=10)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"
    both = httpx.get(
        f"{net.api}/v1/read",
        params={"chain": "rollup-a", "address": token, "slot": "1", "erc20_balance": holder},
        timeout=10,
    )
    assert both.status_code == 422 and "give neither --slot" in both.text
    unknown = httpx.get(f"{net.api}/v1/read", params={"chain": "nope", "address": token, "slot": "0"}, timeout=10)
    assert unknown.status_code == 422
    same = httpx.get(
        f"{net.api}/v1/read", params={"chain": "rollup-a", "address": token, "slot": "0", "on": "901"}, timeout=10
    )
    assert same.status_code == 422 and "must differ" in same.text
    wrong = read_cli(config, token, timeout=60)
    assert wrong.returncode == 1 and wrong.stderr.startswith("error: give --slot")


def test_read_of_a_missing_block_is_one_error(net):
    with pytest.raises(ReadError, match="has no block"):
        net.read("rollup-a", net.addresses["EraToken"], slot=0, block=10**9, on="rollup-b")


def test_concurrent_api_reads_all_answer(net):
    """Reads that each need a root attested on their reading chain submit it from one account:
    12 at once (mixed chains) used to collide on its nonce (5 x 409 'nonce too low')."""
    from concurrent.futures import ThreadPoolExecutor

    gateway = net.addresses["MetalayerGateway"]
    pairs = [("rollup-a", "hub"), ("rollup-b", "hub"), ("hub", "rollup-a"), ("rollup-a", "rollup-b")]
    for chain in ("hub", "rollup-a", "rollup-b"):  # fresh blocks: roots no registry holds yet
        net.w3[chain].provider.make_request("evm_mine", [])

    def read(i: int) -> int:
        chain, on = pairs[i % len(pairs)]
        params = {"chain": chain, "address": gateway, "slot": str(i), "on": on}
        return httpx.get(f"{net.api}/v1/read", params=params, timeout=60).status_code

    with ThreadPoolExecutor(12) as pool:
        statuses = list(pool.map(read, range(12)))
    assert statuses == [200] * 12
