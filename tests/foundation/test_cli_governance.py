"""`devnet roles`, `devnet gov`, `devnet time` through the real CLI against a detached devnet.

One devnet for the module (services running: role changes and rollup actions travel as messages),
started with an empty state cache (fresh deployment), and restarted at the end from the cache it
wrote: both ways roles + governance are deployed and every registry is bound to the run's instance.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from web3 import Web3
from web3.exceptions import ContractCustomError

from orchestrator.config import ConfigError, parse_config, to_toml
from orchestrator.deploy.governance import params_of
from services.common import manifest as models
from services.governance.args import GovernanceArgError, coerce
from tests.conftest import free_config

GOVERNANCE = (
    "CrosschainAccessManager",
    "RoleExecutor",
    "GovernanceExecutor",
    "EraVoteLock",
    "MetalayerGovernor",
    "RestrictedCounter",
)
ROLLUPS = ("rollup-a", "rollup-b")
FEE_SIG = "setFeeConfig((uint128,uint128,uint16,uint16,uint16,address,address))"
PERIOD = 60  # [governance] voting_period (seconds) in the module's devnet.toml


def devnet(workdir: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", *args], cwd=workdir, capture_output=True, text=True, timeout=timeout
    )


def ok(workdir: Path, *args: str) -> Any:
    done = devnet(workdir, *args)
    assert done.returncode == 0, f"devnet {' '.join(args)}: {done.stderr}"
    return json.loads(done.stdout) if "--json" in args else done.stdout


def one_line_error(workdir: Path, *args: str) -> str:
    done = devnet(workdir, *args)
    assert done.returncode == 1, done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


class Cli:
    def __init__(self, workdir: Path, up_output: str) -> None:
        self.workdir, self.up_output = workdir, up_output
        self.manifest = models.load(workdir / "state" / "manifest.json")
        self.w3 = {c.name: Web3(Web3.HTTPProvider(c.rpc_url)) for c in self.manifest.chains}

    def c(self, chain: str, name: str) -> Any:
        return self.w3[chain].eth.contract(address=self.manifest.address(name), abi=self.manifest.abi(name))


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    workdir = tmp_path_factory.mktemp("cli-gov")
    config = replace(free_config(start=5100), state_dir=str(workdir / "state"))
    (workdir / "devnet.toml").write_text(to_toml(config) + f"\n[governance]\nvoting_period = {PERIOD}\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DEVNET_CACHE_DIR", str(workdir / "cache"))  # empty: the first `up` deploys everything
        try:
            yield Cli(workdir, ok(workdir, "up", "--detach"))
        finally:
            devnet(workdir, "down")


def test_up_deploys_roles_and_governance_and_hands_over(cli: Cli) -> None:
    assert all(name in cli.manifest.contracts for name in GOVERNANCE)
    assert "roles + governance: EraVoteLock, MetalayerGovernor on the hub only" in cli.up_output
    assert f"period {PERIOD} s" in cli.up_output
    assert "roles + governance (6 contracts)" in (cli.workdir / "state" / "logs" / "devnet.log").read_text()
    assert cli.manifest.governance["voting_period"] == PERIOD  # type: ignore[attr-defined]
    governor, executor = cli.manifest.address("MetalayerGovernor"), cli.manifest.address("GovernanceExecutor")
    instance = bytes.fromhex(cli.manifest.instance_id[2:])  # type: ignore[index]
    deployer = cli.manifest.keys.deployer.address  # type: ignore[union-attr]
    for chain in ("hub", *ROLLUPS):
        registry = cli.c(chain, "StateRootRegistry")
        assert registry.functions.owner().call() == (governor if chain == "hub" else executor)
        assert registry.functions.instanceBinder().call() == deployer
        assert registry.functions.instanceId().call() == instance


def test_the_governance_table_is_validated_and_round_trips() -> None:
    config = parse_config({"governance": {"voting_period": 7, "keep_bootstrap_admin": False}})
    assert params_of(config).voting_period == 7 and not params_of(config).keep_bootstrap_admin
    assert params_of(parse_config({})).voting_period == 600  # defaults (seconds)
    assert parse_config(tomllib.loads(to_toml(config))) == config
    for table, message in (
        ({"voting_perod": 7}, "unknown key"),
        ({"voting_period": "7"}, "expected a non-negative int"),
        ({"quorum_percent": 101}, "quorum_percent <= 100"),
        (3, "governance"),
    ):
        with pytest.raises(ConfigError, match=message):
            parse_config({"governance": table})


def test_action_arguments_are_typed_by_the_signature() -> None:
    address = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    fees = coerce(FEE_SIG, [json.dumps([1e12, "0x10", 5000, 3000, 2000, address, address.lower()])])
    assert fees == [(10**12, 16, 5000, 3000, 2000, address, address)]
    assert coerce("setGuardians(address[],uint256)", [[address], "2"]) == [[address], 2]
    assert coerce("setParams(uint256,bool,bytes32)", ["1000e18", "true", "0x" + "ab" * 32])[0] == 1000 * 10**18
    assert coerce("pause()", []) == []
    for signature, args, message in (
        ("f(uint8)", ["256"], "out of range"),
        ("f(uint256)", ["1.5e0"], "not a whole number"),
        ("f(bool)", ["maybe"], "true or false"),
        ("f(address[2])", [[address]], "needs 2 items"),
        ("f(uint256)", [], "takes 1 argument"),
        ("f(uint256", ["1"], "bad function signature"),
        ("f((uint8,bool))", ["[1]"], "has 2 fields"),
    ):
        with pytest.raises(GovernanceArgError, match=message):
            coerce(signature, args)


def _can_increment(cli: Cli, chain: str, account: str) -> bool:
    try:
        cli.c(chain, "RestrictedCounter").functions.increment().call({"from": account})
        return True
    except ContractCustomError:
        return False


def test_a_role_granted_on_the_hub_works_on_both_rollups_until_revoked(cli: Cli) -> None:
    account = cli.manifest.accounts[4]
    assert not any(_can_increment(cli, c, account.address) for c in ROLLUPS)
    granted = ok(cli.workdir, "roles", "grant", "DAPP_OPERATOR", account.address, "--wait", "--json")
    assert granted["role"] == 1 and len(granted["messages"]) == len(ROLLUPS)
    shown = ok(cli.workdir, "roles", "show", account.address, "--json")
    assert all(shown["chains"][c]["DAPP_OPERATOR"] for c in ("hub", *ROLLUPS)) and shown["pending"] == {}
    assert "DAPP_OPERATOR" in ok(cli.workdir, "roles", "show", account.address)
    for chain in ROLLUPS:
        w3, counter = cli.w3[chain], cli.c(chain, "RestrictedCounter")
        tx = counter.functions.increment().build_transaction(
            {"from": account.address, "nonce": w3.eth.get_transaction_count(account.address)}
        )
        signed = w3.eth.account.sign_transaction(tx, account.private_key)
        assert w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(signed.raw_transaction)).status == 1
        assert counter.functions.count().call() == 1
    ok(cli.workdir, "roles", "revoke", "DAPP_OPERATOR", account.address, "--wait")
    assert not any(_can_increment(cli, c, account.address) for c in ("hub", *ROLLUPS))


def test_a_proposal_lifecycle_through_the_cli_changes_fees_everywhere(cli: Cli) -> None:
    ok(cli.workdir, "gov", "delegate", "--account", "1")
    cfg = list(cli.c("hub", "MetalayerGateway").functions.feeConfig().call())
    cfg[0], cfg[1] = 555 * 10**12, 7
    action = ["--action", f"all:MetalayerGateway:{FEE_SIG}", json.dumps(cfg)]
    proposed = ok(cli.workdir, "gov", "propose", "cheaper messages", *action, "--account", "1", "--json")
    pid = str(proposed["id"])
    assert proposed["chains"] == ["hub", *ROLLUPS]
    assert ok(cli.workdir, "gov", "show", pid, "--json")["state"] == "Pending"
    ok(cli.workdir, "time", "advance", "2s")  # past the voting delay (1 s), well inside the period
    assert ok(cli.workdir, "gov", "vote", pid, "for", "--account", "1", "--json")["weight"] > 0
    ok(cli.workdir, "time", "advance", f"{PERIOD * 12}s", "--blocks", str(PERIOD + 1))
    assert ok(cli.workdir, "gov", "show", pid, "--json")["state"] == "Succeeded"
    ok(cli.workdir, "gov", "execute", pid, "--account", "2")
    deadline_polls = 300
    while deadline_polls and not all(c["executed"] for c in ok(cli.workdir, "gov", "show", pid, "--json")["chains"]):
        deadline_polls -= 1
    status = ok(cli.workdir, "gov", "show", pid, "--json")
    assert status["state"] == "Executed" and all(c["executed"] for c in status["chains"]), status
    for chain in ("hub", *ROLLUPS):
        assert list(cli.c(chain, "MetalayerGateway").functions.feeConfig().call())[:2] == cfg[:2]


def test_bad_input_is_one_line_and_a_non_zero_exit(cli: Cli) -> None:
    someone = cli.manifest.accounts[5].address
    assert "unknown role 'NOPE'" in one_line_error(cli.workdir, "roles", "grant", "NOPE", someone)
    for role in (str(2**64), "-5"):  # a uint64: checked before web3 (whose refusal was 14 lines)
        assert "role id must be 0..2^64-1" in one_line_error(cli.workdir, "roles", "grant", role, someone)
    assert "not a 0x address" in one_line_error(cli.workdir, "roles", "show", "0x12")
    assert "--account '99'" in one_line_error(
        cli.workdir, "roles", "grant", "DAPP_OPERATOR", someone, "--account", "99"
    )
    # a dev account is no admin of the hub manager: the contract's error, named
    assert "AccessManagerUnauthorizedAccount" in one_line_error(
        cli.workdir, "roles", "grant", "DAPP_OPERATOR", someone, "--account", "3"
    )
    assert "bad function signature" in one_line_error(
        cli.workdir, "gov", "propose", "x", "--action", "hub:EraToken:mint("
    )
    assert "argument 1" in one_line_error(
        cli.workdir, "gov", "propose", "x", "--action", "hub:EraToken:pause(bool)", "maybe"
    )
    assert "unknown chain" in one_line_error(
        cli.workdir, "gov", "propose", "x", "--action", "mars:EraToken:f(uint8)", "1"
    )
    assert "EraVoteLock exists on the hub only" in one_line_error(
        cli.workdir, "gov", "propose", "x", "--action", "rollup-b:EraVoteLock:setMinLockDuration(uint64)", "1"
    )
    assert "no proposal 12345" in one_line_error(cli.workdir, "gov", "show", "12345")
    assert "bad proposal id" in one_line_error(cli.workdir, "gov", "vote", "abc", "for")
    assert "bad duration" in one_line_error(cli.workdir, "time", "advance", "soon")
    assert "between 0 and" in one_line_error(cli.workdir, "time", "advance", "-5")
    assert "at least one --action" in one_line_error(cli.workdir, "gov", "propose", "nothing")


def test_a_cached_up_rebinds_every_registry_to_a_new_instance(cli: Cli) -> None:
    """Last in the module: restarts the devnet from the state cache the first `up` wrote."""
    before = cli.manifest.instance_id
    ok(cli.workdir, "down")
    out = ok(cli.workdir, "up", "--detach")
    assert (
        "roles + governance (6 contracts), from cached state"
        in (cli.workdir / "state" / "logs" / "devnet.log").read_text()
    )
    again = Cli(cli.workdir, out)
    assert again.manifest.instance_id != before and all(n in again.manifest.contracts for n in GOVERNANCE)
    for chain in ("hub", *ROLLUPS):
        registry = again.c(chain, "StateRootRegistry")
        assert registry.functions.instanceId().call() == bytes.fromhex(again.manifest.instance_id[2:])  # type: ignore[index]
        assert registry.functions.owner().call() != again.manifest.keys.deployer.address  # type: ignore[union-attr]
