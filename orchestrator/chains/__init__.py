"""Running anvil chains and talking JSON-RPC to them."""
