"""Where a contract lands when deployed through anvil's predeployed CREATE2 deployer (EIP-1014).

The core, intents and governance deployments and the governance client all compute it here.
"""

from __future__ import annotations

from eth_typing import ChecksumAddress
from eth_utils import keccak, to_checksum_address

CREATE2_FACTORY = "0x4e59b44847b379578588920ca78fbf26c0b4956c"  # anvil's deterministic deployer


def create2_address(init_code: bytes, salt: bytes) -> ChecksumAddress:
    digest = keccak(b"\xff" + bytes.fromhex(CREATE2_FACTORY[2:]) + salt + keccak(init_code))
    return to_checksum_address(digest[12:])
