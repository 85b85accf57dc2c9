"""Code shared by the guardian, relayer and API services."""
