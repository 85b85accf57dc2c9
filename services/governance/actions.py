"""Proposal actions: `(chain, contract, signature, args)` turned into the governor's operations.

An action on the hub is a plain call by the governor; actions on a rollup are sent, one message
per chain (an ERC-7579 batch when there are several), through the governor's `relayCrosschain`
to that rollup's GovernanceExecutor. `check_targets` refuses, before anything is sent, an action
whose contract has no code on its chain (a hub-only contract named on a rollup, a wrong address):
the executor would refuse it too (`TargetHasNoCode`), after the vote.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi import encode as abi_encode
from eth_abi.grammar import parse as parse_abi_type
from eth_utils import function_signature_to_4byte_selector, to_checksum_address

from services.common.manifest import Manifest
from services.governance.plumbing import GovernanceError, chain_of, checksum, web3_for
from services.protocol.erc7930 import encode_evm

MODE_SINGLE = bytes(32)
MODE_BATCH = b"\x01" + bytes(31)


@dataclass(frozen=True)
class Action:
    """One call of a proposal: `contract` is a manifest name or a 0x address on `chain`."""

    chain: str | int
    contract: str
    signature: str  # e.g. "setGuardians(address[],uint256)"
    args: Sequence[Any] = ()


def encode_call(signature: str, args: Sequence[Any]) -> bytes:
    """Selector + ABI-encoded `args` for a signature such as "setFeeConfig((uint128,uint128,...))"."""
    try:
        name_end = signature.index("(")
        params = signature[name_end:]
        types = [] if params == "()" else [c.to_type_str() for c in parse_abi_type(params).components]
        return function_signature_to_4byte_selector(signature) + abi_encode(types, list(args))
    except Exception as exc:  # eth_abi raises several unrelated types for bad input
        raise GovernanceError(f"cannot encode {signature} with {list(args)!r}: {exc}") from None


def _target(manifest: Manifest, contract: str) -> str:
    if contract.startswith("0x"):
        return checksum(contract)
    try:
        return to_checksum_address(manifest.address(contract))
    except KeyError as exc:
        raise GovernanceError(str(exc.args[0])) from None


def proposal_operations(manifest: Manifest, actions: Sequence[Action]) -> tuple[list[str], list[int], list[bytes]]:
    """The governor's (targets, values, calldatas) for `actions`: hub calls, then one relay per rollup."""
    if not actions:
        raise GovernanceError("a proposal needs at least one action")
    hub = manifest.hub
    governor = _target(manifest, "MetalayerGovernor")
    targets: list[str] = []
    calldatas: list[bytes] = []
    per_rollup: dict[int, list[tuple[str, bytes]]] = {}
    for action in actions:
        chain = chain_of(manifest, action.chain)
        call = (_target(manifest, action.contract), encode_call(action.signature, action.args))
        if chain.chain_id == hub.chain_id:
            targets.append(call[0])
            calldatas.append(call[1])
        else:
            per_rollup.setdefault(chain.chain_id, []).append(call)
    gateway = _target(manifest, "MetalayerGateway")
    executor = _target(manifest, "GovernanceExecutor")
    for chain_id, calls in per_rollup.items():
        if len(calls) == 1:
            mode, execution = MODE_SINGLE, bytes.fromhex(calls[0][0][2:]) + bytes(32) + calls[0][1]
        else:
            mode, execution = MODE_BATCH, abi_encode(["(address,uint256,bytes)[]"], [[(t, 0, d) for t, d in calls]])
        relay = encode_call(
            "relayCrosschain(address,bytes,bytes32,bytes)", [gateway, encode_evm(chain_id, executor), mode, execution]
        )
        targets.append(governor)
        calldatas.append(relay)
    return targets, [0] * len(targets), calldatas


def every_chain(manifest: Manifest, contract: str, signature: str, args: Sequence[Any]) -> list[Action]:
    """The same call on every chain (e.g. setFeeConfig on every gateway)."""
    return [Action(c.name, contract, signature, args) for c in manifest.chains]


def check_targets(manifest: Manifest, actions: Sequence[Action]) -> None:
    """GovernanceError (one line) for an action whose contract has no code on its chain."""
    gov = getattr(manifest, "governance", None) or {}
    hub_only = set(gov.get("hub_only", ()))
    for action in actions:
        chain = chain_of(manifest, action.chain)
        if chain.chain_id != manifest.hub.chain_id and action.contract in hub_only:
            raise GovernanceError(f"{action.contract} exists on the hub only: an action on {chain.name} cannot call it")
        target = to_checksum_address(_target(manifest, action.contract))
        if not web3_for(manifest, chain.name).eth.get_code(target):
            raise GovernanceError(
                f"{chain.name} has no contract at {target} ({action.contract}): the call would do nothing"
            )
