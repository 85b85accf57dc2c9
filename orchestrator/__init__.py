"""Metalayer Devnet orchestrator: the `devnet` CLI, the pytest plugin, and the parts they drive (docs/ARCHITECTURE.md)."""
