"""Where every contract lands: CREATE2 through anvil's deployer, same address on every chain.

Constructor arguments are identical on every chain (the deployer address for the
core contracts, the gateway for the examples, plus the deployer as PingPong's owner), so addresses are the same
everywhere and across runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_abi import encode as abi_encode
from eth_utils import keccak

from orchestrator import keys
from orchestrator.build.compiler import Artifact
from services.protocol.create2 import create2_address

SALT = keccak(text="metalayer-devnet/v1")

# Core contracts, deployed on every chain except GuardianStaking (hub only). Constructor arg: owner.
CORE = ("StateRootRegistry", "MetalayerGateway", "EraToken", "GuardianStaking")
EXAMPLES = ("PingPong", "CrossChainCounter")  # constructor args: gateway (PingPong: and owner)
OWNED_EXAMPLES = ("PingPong",)  # its rallies spend its float, so only the owner may start them
HUB_ONLY = ("GuardianStaking",)


def _ctor_types(artifact: Artifact) -> list[str]:
    for item in artifact.abi:
        if item.get("type") == "constructor":
            return [i["type"] for i in item.get("inputs", [])]
    return []


def init_code(artifact: Artifact, args: Sequence[Any]) -> bytes:
    return bytes.fromhex(artifact.bytecode[2:]) + abi_encode(_ctor_types(artifact), list(args))


def plan_addresses(artifacts: dict[str, Artifact]) -> tuple[dict[str, str], dict[str, bytes]]:
    """(name -> address, name -> init code) for every deployed contract."""
    owner = keys.deployer_key().address
    addresses: dict[str, str] = {}
    codes: dict[str, bytes] = {}
    for name in CORE:
        codes[name] = init_code(artifacts[name], [owner])
        addresses[name] = create2_address(codes[name], SALT)
    for name in EXAMPLES:
        args = [addresses["MetalayerGateway"], *([owner] if name in OWNED_EXAMPLES else [])]
        codes[name] = init_code(artifacts[name], args)
        addresses[name] = create2_address(codes[name], SALT)
    return addresses, codes
