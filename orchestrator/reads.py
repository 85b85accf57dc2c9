"""Proven reads for the CLI, the pytest handle and scripts: which slot, then services.protocol.reads.

slot = resolve_slot(erc20_holder="0xf39f…")               # OZ 5 ERC20 _balances[holder]
slot = resolve_slot(slot="3", mapping_key="0xabc…")        # m[key] for a mapping m at slot 3
got = read(manifest, "rollup-a", token, slot, on="rollup-b")   # -> ProvenRead (value, block, root, proofs)
"""

from __future__ import annotations

from services.common.manifest import Manifest
from services.protocol.reads import ProvenRead, ReadError, StateReader, resolve_slot

__all__ = ["ProvenRead", "ReadError", "read", "resolve_slot"]


def read(
    manifest: Manifest,
    chain: str | int,
    address: str,
    slot: bytes,
    block: int | None = None,
    on: str | int | None = None,
    account: int = 7,
) -> ProvenRead:
    """`slot` of `address` on `chain`, proven on the reading chain `on` (default: another chain, the hub first)."""
    if not 0 <= account < len(manifest.accounts):
        raise ReadError(f"account {account}: the devnet has {len(manifest.accounts)} dev accounts")
    try:
        reader = StateReader(manifest, on, manifest.accounts[account].private_key)
    except KeyError as exc:
        raise ReadError(str(exc.args[0])) from None
    return reader.read(chain, address, slot, block)
