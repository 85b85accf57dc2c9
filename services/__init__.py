"""Metalayer devnet off-chain services: guardian, relayer, api, and their shared protocol helpers."""
