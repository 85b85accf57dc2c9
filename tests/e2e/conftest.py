"""End-to-end fixtures: a real devnet (chains, contracts, guardians, relayer, API) on free ports.

`net` (session) is shared by the tests that leave the guardian set intact; tests that
stop services restart them before they return. `fresh_net` builds a separate devnet for a
test that changes the network for good (slashing removes a guardian).

Nothing here relays: messages move only through the relayer process.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from orchestrator import keys
from orchestrator.config import default_config
from orchestrator.testing import DevnetHandle
from services.protocol import load_abi
from tests.conftest import free_config, wait_for


class Net(DevnetHandle):
    """The fixture's DevnetHandle plus what only these tests need."""

    @property
    def relayer_url(self) -> str:
        return f"http://127.0.0.1:{self.manifest.relayer.port}"

    def relayer_health(self) -> dict[str, Any]:
        try:
            return httpx.get(f"{self.relayer_url}/health", timeout=2).json()
        except (httpx.HTTPError, ValueError):
            return {"chains": {}}

    def guardian_url(self, i: int) -> str:
        return self.manifest.guardians.members[i].url

    def account(self, i: int) -> str:
        return self.manifest.accounts[i].address

    def transact(self, chain: str, fn: Any, account: int = 9) -> Any:
        tx = fn.transact({"from": self.account(account)})
        receipt = self.w3[chain].eth.wait_for_transaction_receipt(tx, timeout=30)
        assert receipt.status == 1, f"transaction {tx.hex()} reverted"
        return receipt

    def transact_as_owner(self, chain: str, fn: Any, prepaid: int = 10**18) -> Any:
        """`fn` sent by the deployer (owner of the contracts), after account 9 prepays its fees."""
        owner = keys.deployer_key().address
        gw = self.contract(chain, "MetalayerGateway")
        self.transact(chain, self.contract(chain, "EraToken").functions.approve(gw.address, prepaid))
        self.transact(chain, gw.functions.depositFees([owner], [prepaid]))
        self.w3[chain].provider.make_request("anvil_impersonateAccount", [owner])
        tx = fn.transact({"from": owner})
        receipt = self.w3[chain].eth.wait_for_transaction_receipt(tx, timeout=30)
        assert receipt.status == 1, f"transaction {tx.hex()} reverted"
        return receipt

    def deploy(self, chain: str, name: str, *args: Any, account: int = 9) -> Any:
        from services.protocol import load_artifact

        art = load_artifact(name)
        factory = self.w3[chain].eth.contract(abi=art["abi"], bytecode=art["bytecode"])
        receipt = self.transact(chain, factory.constructor(*args), account)
        return self.contract(chain, name, receipt.contractAddress)

    def wait_for(self, what: str, pred: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1) -> Any:
        return wait_for(what, pred, timeout, interval)

    def delivered_counts(self, dst: str) -> Counter[str]:
        """MessageDelivered events per message id on the destination gateway (exactly-once check)."""
        from services.common.abi import Abi

        topic = Abi(load_abi("MetalayerGateway")).topic("MessageDelivered")
        logs = self.w3[dst].eth.get_logs(
            {
                "address": self.manifest.address("MetalayerGateway"),
                "topics": [topic],
                "fromBlock": 0,
                "toBlock": "latest",
            }
        )
        return Counter("0x" + bytes(lg["topics"][1]).hex() for lg in logs)


def _start_net(
    tmp: Path, start_offset: int, relayer_args: tuple[str, ...] = (), block_time: float | None = None
) -> Net:
    base = default_config().with_block_time(block_time)
    config = free_config(start_offset, base, tmp / "state")
    return Net.start(config, guardian_args=("--allow-equivocation-for-tests",), relayer_args=relayer_args)


@pytest.fixture(scope="session")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    with _start_net(tmp_path_factory.mktemp("e2e"), 3000) as n:
        yield n


@pytest.fixture
def fresh_net(tmp_path: Path) -> Iterator[Net]:
    with _start_net(tmp_path, 3500) as n:
        yield n


@pytest.fixture
def root_posting_net(tmp_path: Path) -> Iterator[Net]:
    with _start_net(tmp_path, 3500, relayer_args=("--root-post-interval", "0.3")) as n:
        yield n


@pytest.fixture
def interval_net(tmp_path: Path) -> Iterator[Net]:
    """Every chain mining a block per second (deployed under automine, then switched)."""
    with _start_net(tmp_path, 3500, block_time=1.0) as n:
        yield n


@pytest.fixture
def guardians_restored(net: Net) -> Iterator[Net]:
    """Restarts any guardian a test stopped, so the next test finds the full set."""
    yield net
    for name in net.supervisor.names():
        if name.startswith("guardian-"):
            net.supervisor.start_service(name)
