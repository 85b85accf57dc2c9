"""What every governance module shares: the error type, chain clients, contracts, transactions."""

from __future__ import annotations

from typing import Any

from eth_utils import to_checksum_address
from web3 import Web3

from services.common import nonces
from services.common.manifest import Key, Manifest
from services.governance.tx import ChainTxError, TxSender


class GovernanceError(ValueError):
    """Bad input (unknown chain, contract, role, proposal) or a refused transaction; one line for the CLI."""


def deployer_key(manifest: Manifest) -> Key:
    """The bootstrap key: ADMIN on the hub manager while `keep_bootstrap_admin` (the default)."""
    if manifest.keys.deployer is None:
        raise GovernanceError("the manifest has no deployer key")
    return manifest.keys.deployer


def web3_for(manifest: Manifest, chain: str | int) -> Web3:
    """A web3 client of `chain` (name or id)."""
    return Web3(Web3.HTTPProvider(chain_of(manifest, chain).rpc_url, request_kwargs={"timeout": 30}))


def chain_of(manifest: Manifest, chain: str | int) -> Any:
    """The manifest entry of `chain` (name or id); GovernanceError if unknown."""
    try:
        return manifest.chain(chain)
    except KeyError as exc:
        raise GovernanceError(str(exc.args[0])) from None


def contract_on(manifest: Manifest, chain: str | int, name: str) -> Any:
    """The manifest contract `name` on `chain`."""
    try:
        return web3_for(manifest, chain).eth.contract(
            address=to_checksum_address(manifest.address(name)), abi=manifest.abi(name)
        )
    except KeyError as exc:
        raise GovernanceError(f"{exc.args[0]} (deploy governance first)") from None


def send_tx(manifest: Manifest, chain: str | int, fn: Any, key: str, label: str) -> Any:
    """Send `fn` signed by `key`; its receipt, or GovernanceError naming the contract error."""
    try:
        return TxSender(web3_for(manifest, chain), key, nonces.lock_dir(manifest)).send(fn, label)
    except ChainTxError as exc:
        raise GovernanceError(str(exc)) from None


def checksum(text: str) -> str:
    """`text` as a checksummed address; GovernanceError if it is none."""
    try:
        return to_checksum_address(text)
    except ValueError:
        raise GovernanceError(f"{text!r} is not a 0x address") from None
