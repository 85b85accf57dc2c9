"""The `devnet` command line: one module per command group."""
