"""Metalayer Devnet orchestrator: config, toolchain, compiler, chains, deployer, services, CLI."""
