"""One chain as the solver sees it: the common ChainLink plus a lock around spending and rewinds.

Fills and rebalances draw on the same inventory, so one spender of a chain's inventory runs at a
time (`spend_lock`); sending, nonces, receipts and lost-transaction detection are the ChainLink's.
A chain that goes back (evm_revert, anvil_reorg, a restart from its last state dump) mines new
blocks at heights the scanner already read: `rescan(cursor)` moves the scan cursor back below the
lowest of them, so the orders opened in them are seen (they were missed until the chain passed the
old cursor: never, on a quiet chain).
"""

from __future__ import annotations

import asyncio
from typing import Any

from services.common.chain import ChainLink
from services.common.manifest import Chain
from services.common.rpc import hexint
from services.common.tx import Signer


class SolverChain(ChainLink):
    min_balance = 10 * 10**18  # gas money for the solver key
    top_up = 1_000 * 10**18
    receipt_timeout = 30.0

    def __init__(self, chain: Chain, signer: Signer):
        super().__init__(chain, signer, role="solver")
        self.spend_lock = asyncio.Lock()  # one spender of this chain's inventory at a time
        self.rewound_to: int | None = None  # the lowest height mined again since the last rescan
        self.on_regress = lambda number: self._rewound(number + 1)  # reconnected: nothing above `number`

    def _on_head(self, header: dict[str, Any]) -> None:
        number = hexint(header["number"])
        if number <= self.head:  # a height seen before, mined again: the chain went back
            self._rewound(number)
        super()._on_head(header)

    def _rewound(self, height: int) -> None:
        self.rewound_to = height if self.rewound_to is None else min(self.rewound_to, height)

    def rescan(self, cursor: int) -> int:
        """The scan cursor, moved back below any height mined again since the last call."""
        height, self.rewound_to = self.rewound_to, None
        return cursor if height is None else min(cursor, height - 1)
