"""WsRpc against a real anvil: pipelined calls, errors, subscriptions across a node restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from orchestrator.chains.anvil import start_chains
from orchestrator.config import ChainConfig
from orchestrator.services.procs import port_in_use
from services.common.rpc import RpcError, WsRpc, hexint


def _free_port(start: int = 13400) -> int:
    port = start
    while port_in_use(port):
        port += 1
    return port


def test_calls_errors_and_resubscribe_after_restart(tmp_path: Path):
    chain = ChainConfig(name="solo", chain_id=31337, port=_free_port())

    async def scenario() -> None:
        group = start_chains([chain], tmp_path / "logs")
        rpc = WsRpc(chain.ws_url, name="solo")
        heads: list[int] = []
        reconnected = asyncio.Event()

        async def on_reconnect() -> None:
            reconnected.set()

        try:
            await rpc.connect()
            rpc.on_reconnect = on_reconnect
            numbers = await asyncio.gather(*(rpc.call("eth_chainId") for _ in range(50)))
            assert {hexint(n) for n in numbers} == {31337}
            with pytest.raises(RpcError):
                await rpc.call("no_such_method")
            await rpc.subscribe(["newHeads"], lambda h: heads.append(hexint(h["number"])))
            await rpc.call("evm_mine")
            await asyncio.sleep(0.2)
            assert heads == [1]
            group.stop()  # the node goes away ...
            await asyncio.sleep(0.3)
            assert not rpc.connected.is_set()
            group = start_chains([chain], tmp_path / "logs")  # ... and comes back (fresh chain)
            await asyncio.wait_for(reconnected.wait(), 10)
            await rpc.call("evm_mine")
            await asyncio.sleep(0.2)
            assert heads[-1] == 1 and len(heads) == 2  # the subscription was renewed
        finally:
            await rpc.close()
            group.stop()

    asyncio.run(scenario())
