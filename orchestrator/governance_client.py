"""Re-export of services.governance.client (moved there: the API uses it and services never import
the orchestrator). `from orchestrator import governance_client as gc` keeps working."""

from services.governance.client import (  # noqa: F401 - the public names, explicitly
    ABSTAIN,
    AGAINST,
    FOR,
    STATES,
    Action,
    GovernanceError,
    advance_time,
    delegate,
    deployer_key,
    encode_call,
    every_chain,
    execute,
    grant_role,
    lock,
    parse_duration,
    pending_role_messages,
    proposal_operations,
    proposal_status,
    propose,
    revoke_role,
    role_id,
    role_status,
    vote,
    voting_power,
)
