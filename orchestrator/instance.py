"""The devnet instance id: fresh on every `devnet up`, set in every chain's registry before services start.

    manifest = bind(config, manifest)   # StateRootRegistry.setInstance(id) on every chain;
                                        # the returned manifest has instance_id = "0x<64 hex>"

Attestations are EIP-712 signed under a domain salted with this id (docs/PROTOCOL.md), so
signatures, proofs and slashing evidence of one run are worthless in the next, cached state
included: the id is drawn here, not stored with the state. The deployer key binds as the
registries' `instanceBinder`, which it stays after governance took ownership (docs/GOVERNANCE.md).
"""

from __future__ import annotations

import secrets
import time
from concurrent.futures import ThreadPoolExecutor

from eth_hash.auto import keccak

from orchestrator import keys
from orchestrator.chains.rpc import RpcError, rpc
from orchestrator.config import ChainConfig, DevnetConfig
from services.common.manifest import Manifest
from services.common.tx import Signer

SET_INSTANCE = keccak(b"setInstance(bytes32)")[:4]


class InstanceError(RuntimeError):
    """setInstance failed on a chain; the message names it."""


def new_instance_id() -> bytes:
    return secrets.token_bytes(32)


def bind(config: DevnetConfig, manifest: Manifest, instance_id: bytes | None = None) -> Manifest:
    """Set a fresh (or the given) instance id on every chain's registry; the manifest that records it."""
    bound = bind_registry(config, manifest.address("StateRootRegistry"), instance_id)
    return manifest.model_copy(update={"instance_id": bound})


def bind_registry(config: DevnetConfig, registry: str, instance_id: bytes | None = None) -> str:
    """Set the id on the registry at `registry` on every chain; returns it as 0x hex."""
    instance_id = instance_id or new_instance_id()
    signer = Signer(keys.deployer_key().private_key)
    with ThreadPoolExecutor(max_workers=min(8, len(config.chains))) as pool:
        list(pool.map(lambda c: _set_instance(c, signer, registry, instance_id), config.chains))
    return "0x" + instance_id.hex()


def describe(manifest: Manifest) -> str:
    return f"{(manifest.instance_id or '')[:14]}… on {len(manifest.chains)} chains"


def _set_instance(chain: ChainConfig, signer: Signer, registry: str, instance_id: bytes, timeout: float = 30.0) -> None:
    url = chain.rpc_url
    data = SET_INSTANCE + instance_id
    nonce = int(str(rpc(url, "eth_getTransactionCount", [signer.address, "pending"])), 16)
    gas_price = int(str(rpc(url, "eth_gasPrice")), 16)
    call = {"from": signer.address, "to": registry, "data": "0x" + data.hex()}
    try:
        gas = int(str(rpc(url, "eth_estimateGas", [call])), 16) * 3 // 2
    except RpcError as exc:
        raise InstanceError(f"chain {chain.name}: setInstance would revert: {exc}") from None
    raw, tx_hash = signer.sign_1559(chain.chain_id, nonce, registry, data, gas, 2 * gas_price + 10**9, 10**9)
    rpc(url, "eth_sendRawTransaction", ["0x" + raw.hex()])
    deadline = time.monotonic() + timeout
    while (receipt := rpc(url, "eth_getTransactionReceipt", [tx_hash])) is None:
        if time.monotonic() > deadline:
            raise InstanceError(f"chain {chain.name}: setInstance not mined after {timeout:.0f}s")
        # interval-mined chains: do not wait for the next block
        rpc(url, "evm_mine")
        time.sleep(0.01)
    if int(receipt["status"], 16) != 1:
        raise InstanceError(f"chain {chain.name}: setInstance reverted (tx {tx_hash})")
