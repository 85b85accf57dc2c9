"""Metalayer Devnet orchestrator: the `devnet` CLI, the pytest plugin and what they drive (docs/ARCHITECTURE.md)."""
