"""Shared fixtures for the contract tests: real anvil chains, real compiled contracts.

One devnet (hub + rollup-a + rollup-b, deployed by orchestrator.deployer) per test session on
ports offset by 2200; every test runs inside an anvil snapshot of all chains that is reverted
afterwards, so tests are isolated yet the chains start and deploy only once.

`net` gives:
    net.w3[name], net.chain_id[name], net.c(name, "MetalayerGateway")    # web3 contract objects
    net.transact(chain, fn, sender) -> receipt   (sender: address; anvil impersonation)
    net.revert_error(chain, fn, sender) -> custom error name the call reverts with
    net.send_message(src, dst, recipient, payload, sender) -> (Message, receipt)
    net.attest(src, dst, block, guardians=(0, 1)) -> Attestation stored on dst
    net.instance_id, net.signatures(att, guardians) -> signatures under this devnet's instance
    net.deliver(src, dst, msg, block=None) -> receipt    (plays the relayer by hand)
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Iterator, Sequence

import pytest
from eth_utils import function_abi_to_4byte_selector, to_checksum_address
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.logs import DISCARD

from orchestrator import instance, keys
from orchestrator.chains.anvil import start_chains
from orchestrator.build.compiler import compile_contracts
from orchestrator.config import default_config
from orchestrator.deploy.deployer import deploy
from services.protocol import (
    Attestation,
    Message,
    encode_evm,
    fetch_message_proofs,
    sign_attestation,
)
from tests.conftest import free_config

PORT_OFFSET = 2200
DEV = keys.dev_accounts(default_config().mnemonic, 10)
DEPLOYER = keys.deployer_key().address


class Net:
    def __init__(self, config: Any, artifacts: dict[str, Any], contracts: dict[str, str], instance_id: str) -> None:
        self.config = config
        self.instance_id = instance_id  # the attestation domain's salt, set on every registry
        self.artifacts = artifacts
        self.addr = contracts
        self.w3 = {c.name: Web3(Web3.HTTPProvider(c.rpc_url, request_kwargs={"timeout": 30})) for c in config.chains}
        self.chain_id = {c.name: c.chain_id for c in config.chains}
        self.names = [c.name for c in config.chains]
        self._errors: dict[bytes, str] = {}
        for art in artifacts.values():
            for item in art.abi:
                if item.get("type") == "error":
                    self._errors[function_abi_to_4byte_selector(item)] = item["name"]
        self._impersonated: set[tuple[str, str]] = set()

    # contracts ---------------------------------------------------------

    def c(self, chain: str, name: str, address: str | None = None) -> Any:
        return self.w3[chain].eth.contract(address=address or self.addr[name], abi=self.artifacts[name].abi)

    def deploy(self, chain: str, name: str, *args: Any, sender: str | None = None) -> Any:
        w3 = self.w3[chain]
        factory = w3.eth.contract(abi=self.artifacts[name].abi, bytecode=self.artifacts[name].bytecode)
        sender = sender or DEV[9].address
        tx = factory.constructor(*args).transact({"from": sender})
        receipt = w3.eth.wait_for_transaction_receipt(tx)
        assert receipt.status == 1
        return self.c(chain, name, receipt.contractAddress)

    # transactions ------------------------------------------------------

    def _impersonate(self, chain: str, sender: str) -> None:
        key = (chain, sender.lower())
        if key not in self._impersonated:
            self.w3[chain].provider.make_request("anvil_impersonateAccount", [sender])
            self.w3[chain].provider.make_request("anvil_setBalance", [sender, hex(10**24)])
            self._impersonated.add(key)

    def transact(self, chain: str, fn: Any, sender: str, gas: int | None = None) -> Any:
        sender = to_checksum_address(sender)
        if sender not in {k.address for k in DEV}:
            self._impersonate(chain, sender)
        params: dict[str, Any] = {"from": sender}
        if gas is not None:
            params["gas"] = gas
        tx = fn.transact(params)
        receipt = self.w3[chain].eth.wait_for_transaction_receipt(tx)
        assert receipt.status == 1, f"transaction reverted: {tx.hex()}"
        return receipt

    def revert_error(self, chain: str, fn: Any, sender: str | None = None, value: int = 0) -> str:
        """Name of the custom error `fn` reverts with (eth_call), or the revert message."""
        try:
            fn.call({"from": to_checksum_address(sender or DEV[0].address), "value": value})
        except ContractCustomError as exc:
            data = exc.data if isinstance(exc.data, str) else str(exc.args[0])
            raw = bytes.fromhex(data.removeprefix("0x"))
            return self._errors.get(raw[:4], "0x" + raw[:4].hex())
        except ContractLogicError as exc:
            return str(exc.message or exc)
        raise AssertionError("call did not revert")

    def decode_error(self, data: bytes) -> str:
        return self._errors.get(bytes(data[:4]), "0x" + bytes(data[:4]).hex())

    # protocol helpers --------------------------------------------------

    def send_message(
        self, src: str, dst: str, recipient: str, payload: bytes, sender: str | None = None
    ) -> tuple[Message, Any]:
        sender = sender or DEV[0].address
        gw = self.c(src, "MetalayerGateway")
        receipt = self.transact(src, gw.functions.sendMessage(encode_evm(self.chain_id[dst], recipient), payload, []), sender)
        return self.messages_in(src, receipt)[0], receipt

    def messages_in(self, src: str, receipt: Any) -> list[Message]:
        gw = self.c(src, "MetalayerGateway")
        sent = gw.events.MessageSent().process_receipt(receipt, errors=DISCARD)
        committed = gw.events.MessageCommitted().process_receipt(receipt, errors=DISCARD)
        return [Message.from_events(s.args, c.args) for s, c in zip(sent, committed)]

    def attestation(self, src: str, block: int | None = None) -> Attestation:
        w3 = self.w3[src]
        blk = w3.eth.get_block(block if block is not None else "latest")
        return Attestation.from_block(self.chain_id[src], blk)

    def signatures(self, att: Attestation, guardians: Sequence[int] = (0, 1)) -> list[bytes]:
        return [sign_attestation(att, keys.guardian_key(i).private_key, self.instance_id) for i in guardians]

    def attest(self, src: str, dst: str, block: int | None = None, guardians: Sequence[int] = (0, 1)) -> Attestation:
        att = self.attestation(src, block)
        reg = self.c(dst, "StateRootRegistry")
        self.transact(dst, reg.functions.submitAttestation(att.as_tuple(), self.signatures(att, guardians)), DEV[5].address)
        return att

    def proofs(self, src: str, messages: Sequence[Message], block: int) -> tuple[list[bytes], list[list[bytes]]]:
        return fetch_message_proofs(self.w3[src], self.addr["MetalayerGateway"], messages, block)

    def deliver(self, src: str, dst: str, msg: Message, block: int | None = None) -> Any:
        """Play the relayer: attest the source block on dst, fetch proofs, deliverMessage."""
        att = self.attest(src, dst, block)
        account_proof, storage_proofs = self.proofs(src, [msg], att.block_number)
        gw = self.c(dst, "MetalayerGateway")
        return self.transact(
            dst, gw.functions.deliverMessage(msg.as_tuple(), att.block_number, account_proof, storage_proofs[0]), DEV[5].address
        )

    def era_supply(self) -> int:
        return sum(self.c(n, "EraToken").functions.totalSupply().call() for n in self.names)

    def snapshot(self) -> dict[str, str]:
        return {n: self.w3[n].provider.make_request("evm_snapshot", [])["result"] for n in self.names}

    def revert(self, snap: dict[str, str]) -> None:
        for n, sid in snap.items():
            assert self.w3[n].provider.make_request("evm_revert", [sid])["result"] is True


@pytest.fixture(scope="session")
def devnet_config() -> Any:
    return free_config(PORT_OFFSET)


@pytest.fixture(scope="session")
def _chains(devnet_config: Any) -> Iterator[Any]:
    with tempfile.TemporaryDirectory(prefix="ml-contracts-") as tmp:
        with start_chains(devnet_config.chains, Path(tmp)) as group:
            yield group


@pytest.fixture(scope="session")
def artifacts() -> dict[str, Any]:
    return compile_contracts().artifacts


@pytest.fixture(scope="session")
def deployed(_chains: Any, devnet_config: Any, artifacts: dict[str, Any]) -> Any:
    return deploy(devnet_config, log=lambda _m: None, artifacts=artifacts)


@pytest.fixture(scope="session")
def _net(deployed: Any, devnet_config: Any, artifacts: dict[str, Any]) -> Net:
    # what `devnet up` does after deploying
    instance_id = instance.bind_registry(devnet_config, deployed.contracts["StateRootRegistry"])
    return Net(devnet_config, artifacts, deployed.contracts, instance_id)


@pytest.fixture
def net(_net: Net) -> Iterator[Net]:
    """The session devnet, reverted to its deployed state after the test."""
    snap = _net.snapshot()
    try:
        yield _net
    finally:
        _net.revert(snap)
        _net._impersonated.clear()
