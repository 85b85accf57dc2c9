"""The devnet instance id: fresh on every `devnet up`, set in every chain's registry before services start.

    detail = bind(config, manifest)     # sets StateRootRegistry.setInstance(id) on every chain,
                                        # adds manifest["instance_id"] = "0x<64 hex>"

Attestations are EIP-712 signed under a domain salted with this id (docs/PROTOCOL.md), so
signatures, proofs and slashing evidence of one run are worthless in the next, cached state
included: the id is drawn here, not stored with the state.
"""

from __future__ import annotations

import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from eth_hash.auto import keccak

from orchestrator import keys
from orchestrator.chains import rpc
from orchestrator.config import ChainConfig, DevnetConfig
from services.common.tx import Signer

SET_INSTANCE = keccak(b"setInstance(bytes32)")[:4]


class InstanceError(RuntimeError):
    """setInstance failed on a chain; the message names it."""


def new_instance_id() -> bytes:
    return secrets.token_bytes(32)


def bind(config: DevnetConfig, manifest: dict[str, Any], instance_id: bytes | None = None) -> str:
    """Set a fresh (or the given) instance id on every chain's registry and record it in `manifest`."""
    instance_id = instance_id or new_instance_id()
    registry = manifest["contracts"]["StateRootRegistry"]["address"]
    signer = Signer(keys.deployer_key().private_key)
    with ThreadPoolExecutor(max_workers=len(config.chains)) as pool:
        list(pool.map(lambda c: _set_instance(c, signer, registry, instance_id), config.chains))
    manifest["instance_id"] = "0x" + instance_id.hex()
    return f"{manifest['instance_id'][:14]}… on {len(config.chains)} chains"


def _set_instance(chain: ChainConfig, signer: Signer, registry: str, instance_id: bytes, timeout: float = 30.0) -> None:
    url = chain.rpc_url
    nonce = int(str(rpc(url, "eth_getTransactionCount", [signer.address, "pending"])), 16)
    gas_price = int(str(rpc(url, "eth_gasPrice")), 16)
    raw, tx_hash = signer.sign_1559(chain.chain_id, nonce, registry, SET_INSTANCE + instance_id, 100_000,
                                    2 * gas_price + 10**9, 10**9)
    rpc(url, "eth_sendRawTransaction", ["0x" + raw.hex()])
    deadline = time.monotonic() + timeout
    while (receipt := rpc(url, "eth_getTransactionReceipt", [tx_hash])) is None:
        if time.monotonic() > deadline:
            raise InstanceError(f"chain {chain.name}: setInstance not mined after {timeout:.0f}s")
        # interval-mined chains: do not wait for the next block
        rpc(url, "evm_mine")
        time.sleep(0.01)
    if int(receipt["status"], 16) != 1:  # type: ignore[index]
        raise InstanceError(f"chain {chain.name}: setInstance reverted (tx {tx_hash})")
