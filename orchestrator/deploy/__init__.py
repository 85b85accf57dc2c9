"""Deploying the contracts to every chain (CREATE2, planned from on-chain state, gas estimated)."""
