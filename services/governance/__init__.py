"""Cross-chain roles and ERA governance from the outside: what the CLI and the API call (docs/GOVERNANCE.md).

    services.governance.client   grant/revoke/show roles, propose/vote/lock/execute, time travel
    services.governance.actions  proposal actions -> the governor's operations; code-less targets refused
    services.governance.plumbing the error type, chain clients, contracts, transactions
    services.governance.tx       signed transactions with readable reverts
    services.governance.roles    role ids by name, setting keys (versions of mirrored changes)

It lives among the services because the API uses it, and services never import the orchestrator.
"""
