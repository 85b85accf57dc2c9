"""Re-export of services.governance.tx (moved with services.governance.client)."""

from services.governance.tx import ChainTxError, TxSender, create2_address, revert_reason  # noqa: F401
