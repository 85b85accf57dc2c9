"""Role ids of the cross-chain AccessManager, by name (the deployment labels DAPP_OPERATOR), and the
keys under which it versions mirrored changes (CrosschainAccessManager.settingVersion)."""

from __future__ import annotations

from eth_abi import encode as abi_encode
from eth_utils import keccak

ADMIN_ROLE = 0
PUBLIC_ROLE = 2**64 - 1
DAPP_OPERATOR_ROLE = 1
ROLE_NAMES = {"ADMIN": ADMIN_ROLE, "DAPP_OPERATOR": DAPP_OPERATOR_ROLE, "PUBLIC": PUBLIC_ROLE}

# CrosschainAccessManager.Setting, in its order: what a mirrored change's version applies to.
MEMBER, LABEL, ROLE_ADMIN, ROLE_GUARDIAN, GRANT_DELAY = range(5)
FUNCTION_ROLE, TARGET_ADMIN_DELAY, TARGET_CLOSED, AUTHORITY = range(5, 9)


def setting_key(kind: int, subject: int, detail: int = 0) -> bytes:
    """CrosschainAccessManager.settingKey: keccak256(abi.encode(uint8 kind, uint256 subject, uint256 detail))."""
    return keccak(abi_encode(["uint8", "uint256", "uint256"], [kind, subject, detail]))


def member_key(role: int, account: str) -> bytes:
    """The setting that grants, revokes and renunciations of `role` for `account` version."""
    return setting_key(MEMBER, role, int(account, 16))
