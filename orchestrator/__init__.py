"""Metalayer Devnet orchestrator: the `devnet` CLI, the pytest plugin and what they drive (docs/ARCHITECTURE.md)."""

from services.common import fastimport

# Before anything imports eth_account/web3 (the CLI, the pytest plugin, scripts): ~0.25 s less per
# process, and the recursion limit stays Python's own (py_ecc raises it to 100000, deep enough for
# json.loads of a file nested that deep to overflow the C stack instead of raising RecursionError).
fastimport.install()
