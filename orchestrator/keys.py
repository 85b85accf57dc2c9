"""The devnet's deterministic keys: dev accounts from the mnemonic, and service keys.

Service keys (deployer, guardians, relayer) are derived from fixed labels so every
devnet, native or in Docker, has the same addresses. They are devnet-only secrets.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.common import fastimport

fastimport.install()  # before eth_account: skips ~0.7 s of BLS tables we never use

from eth_account import Account  # noqa: E402
from eth_utils import keccak  # noqa: E402

Account.enable_unaudited_hdwallet_features()


@dataclass(frozen=True)
class Key:
    address: str
    private_key: str  # 0x-prefixed hex

    def as_dict(self) -> dict[str, str]:
        return {"address": self.address, "private_key": self.private_key}


def _from_label(label: str) -> Key:
    private_key = "0x" + keccak(text=label).hex()
    return Key(Account.from_key(private_key).address, private_key)


def deployer_key() -> Key:
    return _from_label("metalayer-devnet/deployer")


def relayer_key() -> Key:
    return _from_label("metalayer-devnet/relayer")


def guardian_key(index: int) -> Key:
    return _from_label(f"metalayer-devnet/guardian/{index}")


def dev_accounts(mnemonic: str, count: int) -> list[Key]:
    """anvil's funded accounts for this mnemonic (m/44'/60'/0'/0/i)."""
    keys = []
    for i in range(count):
        acct = Account.from_mnemonic(mnemonic, account_path=f"m/44'/60'/0'/0/{i}")
        keys.append(Key(acct.address, "0x" + acct.key.hex().removeprefix("0x")))
    return keys
