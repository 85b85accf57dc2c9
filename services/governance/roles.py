"""Role ids of the cross-chain AccessManager, by name (the deployment labels DAPP_OPERATOR)."""

from __future__ import annotations

ADMIN_ROLE = 0
PUBLIC_ROLE = 2**64 - 1
DAPP_OPERATOR_ROLE = 1
ROLE_NAMES = {"ADMIN": ADMIN_ROLE, "DAPP_OPERATOR": DAPP_OPERATOR_ROLE, "PUBLIC": PUBLIC_ROLE}
