"""Deterministic solver keys (devnet only), derived like the other service keys (orchestrator/keys.py):
private key = keccak256("metalayer-devnet/solver/{index}"), the same key on every chain."""

from __future__ import annotations

from dataclasses import dataclass

from eth_keys import keys
from eth_utils import keccak


@dataclass(frozen=True)
class SolverKey:
    index: int
    address: str
    private_key: str  # 0x-prefixed hex


def solver_key(index: int) -> SolverKey:
    if index < 0:
        raise ValueError(f"solver index must be >= 0, got {index}")
    secret = keccak(text=f"metalayer-devnet/solver/{index}")
    address = keys.PrivateKey(secret).public_key.to_checksum_address()
    return SolverKey(index, address, "0x" + secret.hex())
