"""One chain as the solver sees it: the common ChainLink plus a lock around spending.

Fills and rebalances draw on the same inventory, so one spender of a chain's inventory runs at a
time (`spend_lock`); sending, nonces, receipts and lost-transaction detection are the ChainLink's.
"""

from __future__ import annotations

import asyncio

from services.common.chain import ChainLink
from services.common.manifest import Chain
from services.common.tx import Signer


class SolverChain(ChainLink):
    min_balance = 10 * 10**18  # gas money for the solver key
    top_up = 1_000 * 10**18
    receipt_timeout = 30.0

    def __init__(self, chain: Chain, signer: Signer):
        super().__init__(chain, signer, role="solver")
        self.spend_lock = asyncio.Lock()  # one spender of this chain's inventory at a time
