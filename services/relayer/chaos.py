"""Faults `devnet chaos` asks of the relayer (delay, drop, duplicate), read on every batch.

The devnet writes `<run_dir>/chaos.json` (services/common/faults.py); without that file
this costs one failed `open` per batch.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from services.common.faults import relayer_controls


class DeliveryDropped(RuntimeError):
    """`devnet chaos drop`: this delivery is lost; the batch is retried like any failed one."""


async def before_batch(run_dir: Path) -> None:
    controls = relayer_controls(run_dir)
    if "delay" in controls:  # in steps, so a heal ends the hold at once
        until = time.monotonic() + float(controls["delay"].get("seconds", 0.0))
        while time.monotonic() < until and "delay" in relayer_controls(run_dir):
            await asyncio.sleep(0.1)
        controls = relayer_controls(run_dir)
    if "drop" in controls:
        raise DeliveryDropped("chaos: delivery dropped (devnet chaos drop)")


def duplicate(run_dir: Path) -> bool:
    return "duplicate" in relayer_controls(run_dir)
