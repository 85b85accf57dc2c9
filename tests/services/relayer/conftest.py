"""Fixtures for the relayer's stage tests: a real devnet without a relayer, stages run in-process.

`stage_net` (session): chains, deployed contracts and guardian processes on free ports, but no
relayer process, so each test drives the stages itself. `stages(fn)` builds a fresh `Context`
(its own queue file, connected ChainLinks, loaded guardian sets), runs `await fn(ctx)` and closes
everything.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from web3 import Web3

from orchestrator.testing import DevnetHandle
from services.protocol import load_artifact
from services.relayer.context import Context
from services.relayer.queue import Queue
from tests.conftest import free_config


class StageNet(DevnetHandle):
    def deploy(self, chain: str, name: str, *args: Any, account: int = 9) -> Any:
        art = load_artifact(name)
        w3 = self.w3[chain]
        sender = self.manifest.accounts[account].address
        tx = w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"]).constructor(*args).transact({"from": sender})
        receipt = w3.eth.wait_for_transaction_receipt(tx, timeout=30)
        assert receipt.status == 1
        return self.contract(chain, name, receipt.contractAddress)

    def transact(self, chain: str, fn: Any, account: int = 9) -> Any:
        tx = fn.transact({"from": self.manifest.accounts[account].address})
        receipt = self.w3[chain].eth.wait_for_transaction_receipt(tx, timeout=30)
        assert receipt.status == 1
        return receipt

    def chain_id(self, name: str) -> int:
        return self.manifest.chain(name).chain_id

    def is_delivered_on(self, dst: str, src: str, nonce: int) -> bool:
        gw = self.contract(dst, "MetalayerGateway")
        return bool(gw.functions.isDelivered(self.chain_id(src), nonce).call())


@pytest.fixture(scope="session")
def stage_net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StageNet]:
    config = free_config(3800, state_dir=tmp_path_factory.mktemp("relayer-stages") / "state")
    with StageNet.start(config, relayer=False) as net:
        # Fund the relayer key now and mine past it: a ChainLink's top-up (anvil_setBalance)
        # rewrites the head block's state in place, so a message in that block could never
        # be proven against the root the guardians signed.
        for w3 in net.w3.values():
            w3.provider.make_request("anvil_setBalance", [net.manifest.keys.relayer.address, hex(10**24)])
            w3.provider.make_request("evm_mine", [])
        yield net


async def open_context(manifest: Any, db: Path) -> Context:
    ctx = Context.build(manifest, Queue(db))
    await asyncio.gather(*(link.start() for link in ctx.links.values()))
    await asyncio.gather(*(ctx.load_set(cid) for cid in ctx.links))
    return ctx


async def close_context(ctx: Context) -> None:
    await ctx.guardians.close()
    await asyncio.gather(*(link.rpc.close() for link in ctx.links.values()), return_exceptions=True)
    ctx.queue.close()


@pytest.fixture
def stages(stage_net: StageNet, tmp_path: Path) -> Callable[[Callable[[Context], Awaitable[Any]]], Any]:
    def run(fn: Callable[[Context], Awaitable[Any]]) -> Any:
        async def main() -> Any:
            ctx = await open_context(stage_net.manifest, tmp_path / "relayer.sqlite")
            try:
                return await fn(ctx)
            finally:
                await close_context(ctx)

        return asyncio.run(main())

    return run


def checksum(address: str) -> str:
    return Web3.to_checksum_address(address)
