"""The depth miner: with instant mining and `guardians.confirmations > 0`, a lone message would
wait forever for blocks nobody mines. This mines one empty block on such a chain only while
a message of its gateway (`MessageCommitted`) is fewer than `confirmations` blocks deep, or a
finalized one fewer than 2 x confirmations (its delivery needs a root `confirmations` newer than
its block, signed once that root's block is itself `confirmations` deep); so it stops by itself
once the newest message has its depth (it never mines to attest the blocks it mined).
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.chains.rpc import rpc
from services.common.abi import Abi
from services.protocol import load_abi


@dataclass
class DepthMiner:
    gateway: str
    confirmations: int
    mined: int = 0  # empty blocks mined so far (all chains)

    def __post_init__(self) -> None:
        self.topic = Abi(load_abi("MetalayerGateway")).topic("MessageCommitted")

    def step(self, rpc_url: str, head: int) -> bool:
        """Mine one block if a message on this chain is still shallower than it needs."""
        if self.confirmations <= 0:
            return False
        since = max(0, head - 2 * self.confirmations + 1)
        logs = rpc(
            rpc_url,
            "eth_getLogs",
            [{"address": self.gateway, "topics": [self.topic], "fromBlock": hex(since), "toBlock": hex(head)}],
            timeout=1.0,
        )
        if not any(head - int(lg["blockNumber"], 16) < self._depth(lg) for lg in logs):
            return False
        rpc(rpc_url, "anvil_mine", ["0x1"], timeout=1.0)
        self.mined += 1
        return True

    def _depth(self, log: dict) -> int:
        """Blocks a message must be below the head: `uint8 finality` is MessageCommitted's last word."""
        data = log["data"][2:]
        finalized = len(data) >= 320 and int(data[256:320], 16) != 0
        return self.confirmations * (2 if finalized else 1)
