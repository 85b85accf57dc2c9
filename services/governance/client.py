"""What `devnet roles ...`, `devnet gov ...` and `devnet time advance` call (and the API can too).

    grant_role(manifest, "DAPP_OPERATOR", account)           # on the hub; mirrored to every rollup
    role_status(manifest, account)                           # per chain, with pending propagation
    pid = propose(manifest, [Action("rollup-a", "MetalayerGateway", "setFeeConfig(...)", [cfg])], "why", key)
    vote(manifest, pid, FOR, key); advance_time(manifest, blocks=60); execute(manifest, pid, key)
    proposal_status(manifest, pid)                           # hub state, votes, each chain's execution

`manifest` is a services.common.manifest.Manifest with the governance contracts in it
(orchestrator.governance_deploy.write_into_manifest, or `devnet up`). `key` is a 0x private key (the CLI maps
`--account N` to a dev account; role changes default to the deployer, the bootstrap hub admin).
How actions become the governor's operations: services.governance.actions (re-exported here).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address
from web3.logs import DISCARD

from services.common.manifest import Manifest
from services.governance.actions import Action, check_targets, encode_call, every_chain, proposal_operations
from services.governance.plumbing import GovernanceError, deployer_key
from services.governance.plumbing import chain_of as _chain
from services.governance.plumbing import checksum as _address
from services.governance.plumbing import contract_on as _contract
from services.governance.plumbing import send_tx as _send
from services.governance.plumbing import web3_for as _w3
from services.governance.roles import ROLE_NAMES, member_key
from services.governance.tx import TxSender

__all__ = [
    "ABSTAIN",
    "AGAINST",
    "FOR",
    "Action",
    "GovernanceError",
    "advance_time",
    "check_targets",
    "delegate",
    "deployer_key",
    "encode_call",
    "every_chain",
    "execute",
    "grant_role",
    "lock",
    "parse_duration",
    "pending_role_messages",
    "proposal_operations",
    "proposal_status",
    "propose",
    "revoke_role",
    "role_id",
    "role_status",
    "vote",
    "voting_power",
]

AGAINST, FOR, ABSTAIN = 0, 1, 2
STATES = ("Pending", "Active", "Canceled", "Defeated", "Succeeded", "Queued", "Expired", "Executed")
SECONDS_PER_BLOCK = 12  # `advance_time` mines one block per 12 s of advanced time unless told otherwise,
MAX_DEFAULT_BLOCKS = 600  # but no more than this (anvil mines ~10k blocks/s; a week would be 50k)


def role_id(role: str | int) -> int:
    """A role by name (ADMIN, DAPP_OPERATOR, PUBLIC) or number (a uint64, as AccessManager takes it)."""
    if isinstance(role, str) and role.upper() in ROLE_NAMES:
        return ROLE_NAMES[role.upper()]
    try:
        value = role if isinstance(role, int) else int(role, 0)
    except ValueError:
        raise GovernanceError(f"unknown role {role!r} (known: {', '.join(ROLE_NAMES)}, or a number)") from None
    if not 0 <= value < 2**64:  # checked here: web3 would refuse it with a many-line MismatchedABI
        raise GovernanceError(f"role id must be 0..2^64-1, got {role}")
    return value


# ---------------------------------------------------------------- roles


def grant_role(
    manifest: Manifest, role: str | int, account: str, key: str | None = None, execution_delay: int = 0
) -> list[str]:
    """Grant on the hub manager; returns the ids of the messages that carry it to the rollups."""
    manager = _contract(manifest, "hub", "CrosschainAccessManager")
    receipt = _send(
        manifest,
        "hub",
        manager.functions.grantRole(role_id(role), _address(account), execution_delay),
        key or deployer_key(manifest).private_key,
        "grantRole",
    )
    return _mirrored_ids(manager, receipt)


def revoke_role(manifest: Manifest, role: str | int, account: str, key: str | None = None) -> list[str]:
    """Revoke on the hub manager; returns the ids of the messages that carry it to the rollups."""
    manager = _contract(manifest, "hub", "CrosschainAccessManager")
    receipt = _send(
        manifest,
        "hub",
        manager.functions.revokeRole(role_id(role), _address(account)),
        key or deployer_key(manifest).private_key,
        "revokeRole",
    )
    return _mirrored_ids(manager, receipt)


def _mirrored_ids(manager: Any, receipt: Any) -> list[str]:
    events = manager.events.RoleChangeMirrored().process_receipt(receipt, errors=DISCARD)
    return ["0x" + bytes(e.args.sendId).hex() for e in events]


def role_status(manifest: Manifest, account: str, roles: Sequence[str | int] | None = None) -> dict[str, Any]:
    """Per chain: {role: member?} ("chains") and the version of the last change applied ("versions");
    "behind": {rollup: [roles whose newest hub change it has not applied]}; "pending": message ids."""
    account = _address(account)
    wanted = [r for r in (roles or ROLE_NAMES) if role_id(r) != ROLE_NAMES["PUBLIC"]]
    chains: dict[str, dict[str, bool]] = {}
    versions: dict[str, dict[str, int]] = {}
    for chain in manifest.chains:
        manager = _contract(manifest, chain.name, "CrosschainAccessManager")
        chains[chain.name] = {str(r): bool(manager.functions.hasRole(role_id(r), account).call()[0]) for r in wanted}
        versions[chain.name] = {
            str(r): int(manager.functions.settingVersion(member_key(role_id(r), account)).call()) for r in wanted
        }
    hub = versions[manifest.hub.name]
    behind = {c: [r for r, v in held.items() if v < hub[r]] for c, held in versions.items()}
    return {
        "account": account,
        "chains": chains,
        "versions": versions,
        "behind": {c: late for c, late in behind.items() if late},
        "pending": pending_role_messages(manifest),
    }


def pending_role_messages(manifest: Manifest) -> dict[str, list[str]]:
    """Role changes sent by the hub manager that a rollup's RoleExecutor has not executed yet."""
    manager = _contract(manifest, "hub", "CrosschainAccessManager")
    pending: dict[str, list[str]] = {}
    for event in manager.events.RoleChangeMirrored().get_logs(from_block=0):
        chain = _chain(manifest, int(event.args.destinationChainId)).name
        send_id = bytes(event.args.sendId)
        if not _contract(manifest, chain, "RoleExecutor").functions.executed(send_id).call():
            pending.setdefault(chain, []).append("0x" + send_id.hex())
    return pending


# ---------------------------------------------------------------- proposals


def propose(manifest: Manifest, actions: Sequence[Action], description: str, key: str) -> int:
    """Submit a proposal on the hub governor; returns its id. Refuses actions on code-less targets."""
    governor = _contract(manifest, "hub", "MetalayerGovernor")
    targets, values, calldatas = proposal_operations(manifest, actions)
    check_targets(manifest, actions)
    receipt = _send(
        manifest, "hub", governor.functions.propose(targets, values, calldatas, description), key, "propose"
    )
    return int(governor.events.ProposalCreated().process_receipt(receipt, errors=DISCARD)[0].args.proposalId)


def vote(manifest: Manifest, proposal_id: int, support: int, key: str, reason: str = "") -> int:
    """Cast a vote (AGAINST 0, FOR 1, ABSTAIN 2); returns the weight counted."""
    if support not in (AGAINST, FOR, ABSTAIN):
        raise GovernanceError(f"support must be 0 (against), 1 (for) or 2 (abstain), not {support}")
    governor = _contract(manifest, "hub", "MetalayerGovernor")
    fn = (
        governor.functions.castVoteWithReason(proposal_id, support, reason)
        if reason
        else governor.functions.castVote(proposal_id, support)
    )
    receipt = _send(manifest, "hub", fn, key, "vote")
    return int(governor.events.VoteCast().process_receipt(receipt, errors=DISCARD)[0].args.weight)


def delegate(manifest: Manifest, key: str, to: str | None = None) -> None:
    """Activate ERA voting power (ERC20Votes): delegate the key's ERA on the hub to itself or `to`."""
    era = _contract(manifest, "hub", "EraToken")
    sender = TxSender(_w3(manifest, "hub"), key)
    _send(manifest, "hub", era.functions.delegate(_address(to) if to else sender.address), key, "delegate")


def lock(manifest: Manifest, amount: int, duration: int, key: str) -> tuple[int, int]:
    """Approve and lock `amount` ERA for `duration` seconds; returns (locked amount, unlock time)."""
    era = _contract(manifest, "hub", "EraToken")
    vote_lock = _contract(manifest, "hub", "EraVoteLock")
    _send(manifest, "hub", era.functions.approve(vote_lock.address, amount), key, "approve ERA")
    receipt = _send(manifest, "hub", vote_lock.functions.lock(amount, duration), key, "lock")
    event = vote_lock.events.Locked().process_receipt(receipt, errors=DISCARD)[0]
    return int(vote_lock.functions.lockOf(event.args.account).call()[0]), int(event.args.unlockTime)


def _proposal_created(manifest: Manifest, proposal_id: int) -> Any:
    governor = _contract(manifest, "hub", "MetalayerGovernor")
    for event in governor.events.ProposalCreated().get_logs(from_block=0):
        if int(event.args.proposalId) == proposal_id:
            return event.args
    raise GovernanceError(f"no proposal {proposal_id} on the hub governor")


def execute(manifest: Manifest, proposal_id: int, key: str) -> list[dict[str, Any]]:
    """Execute a succeeded proposal; returns the messages it sent to rollups."""
    created = _proposal_created(manifest, proposal_id)
    governor = _contract(manifest, "hub", "MetalayerGovernor")
    fn = governor.functions.execute(
        list(created.targets), list(created.values), list(created.calldatas), keccak(text=created.description)
    )
    _send(manifest, "hub", fn, key, "execute")
    return proposal_status(manifest, proposal_id)["chains"]


def proposal_status(manifest: Manifest, proposal_id: int) -> dict[str, Any]:
    """State, votes, quorum and, per chain, whether its actions ran ("executed") or are in flight."""
    governor = _contract(manifest, "hub", "MetalayerGovernor")
    created = _proposal_created(manifest, proposal_id)
    state = STATES[governor.functions.state(proposal_id).call()]
    against, for_, abstain = governor.functions.proposalVotes(proposal_id).call()
    snapshot = governor.functions.proposalSnapshot(proposal_id).call()
    current = governor.functions.clock().call()
    return {
        "id": proposal_id,
        "state": state,
        "description": created.description,
        "votes": {"against": against, "for": for_, "abstain": abstain},
        "quorum": governor.functions.quorum(snapshot).call() if snapshot < current else None,
        "snapshot": snapshot,
        "deadline": governor.functions.proposalDeadline(proposal_id).call(),
        "clock": current,
        "chains": _hub_execution(manifest, created, state) + _rollup_executions(manifest, governor, proposal_id),
    }


def _hub_execution(manifest: Manifest, created: Any, state: str) -> list[dict[str, Any]]:
    """The hub's entry when the proposal has hub actions: every operation except a relay to a rollup."""
    relay = function_signature_to_4byte_selector("relayCrosschain(address,bytes,bytes32,bytes)")
    governor = to_checksum_address(manifest.address("MetalayerGovernor"))
    hub_calls = [
        d
        for t, d in zip(created.targets, created.calldatas, strict=True)
        if to_checksum_address(t) != governor or bytes(d)[:4] != relay
    ]
    if not hub_calls:
        return []
    done = state == "Executed"
    hub = manifest.hub
    return [
        {"chain": hub.name, "chain_id": hub.chain_id, "executed": done, "state": "executed" if done else "not executed"}
    ]


def _rollup_executions(manifest: Manifest, governor: Any, proposal_id: int) -> list[dict[str, Any]]:
    """Each message the execution sent: executed by the rollup's executor, failed there, or in flight."""
    out = []
    for chain_id, _executor, send_id in governor.functions.crosschainSends(proposal_id).call():
        name = _chain(manifest, int(chain_id)).name
        done = bool(_contract(manifest, name, "GovernanceExecutor").functions.executed(send_id).call())
        entry = {"chain": name, "chain_id": int(chain_id), "message_id": "0x" + bytes(send_id).hex(), "executed": done}
        out.append({**entry, "state": "executed" if done else _undelivered_state(manifest, name, bytes(send_id))})
    return out


def _undelivered_state(manifest: Manifest, chain: str, message_id: bytes) -> str:
    """ "failed" if the rollup's gateway recorded a failed delivery (MessageFailed), else "in flight"."""
    gateway = _contract(manifest, chain, "MetalayerGateway")
    failed = gateway.events.MessageFailed().get_logs(from_block=0, argument_filters={"messageId": message_id})
    return "failed" if failed else "in flight"


def voting_power(manifest: Manifest, account: str) -> dict[str, int]:
    """Current votes of `account`: delegated ERA, lock weight, and their sum."""
    vote_lock = _contract(manifest, "hub", "EraVoteLock")
    era = _contract(manifest, "hub", "EraToken")
    account = _address(account)
    locked = int(vote_lock.functions.lockedVotes(account).call())
    return {
        "era": int(era.functions.getVotes(account).call()),
        "locked": locked,
        "total": int(vote_lock.functions.getVotes(account).call()),
    }


# ---------------------------------------------------------------- time


def advance_time(manifest: Manifest, seconds: int = 0, blocks: int | None = None) -> dict[str, int]:
    """Move every chain's clock by `seconds` and mine `blocks` (default: one per 12 s, 1..600).

    Every mined block is at least one second after the previous one (the governor's clock is the
    timestamp), so the clock moves by max(seconds, blocks), and mining alone moves it too.
    """
    if seconds < 0 or (blocks is not None and blocks < 1):
        raise GovernanceError("time only moves forward: seconds >= 0, blocks >= 1")
    count = blocks if blocks is not None else min(MAX_DEFAULT_BLOCKS, max(1, math.ceil(seconds / SECONDS_PER_BLOCK)))
    heads: dict[str, int] = {}
    for chain in manifest.chains:
        w3 = _w3(manifest, chain.name)
        if seconds > count:
            w3.provider.make_request("evm_increaseTime", [seconds - count])  # type: ignore[arg-type]
        w3.provider.make_request("anvil_mine", [hex(count), hex(1)])  # type: ignore[arg-type]
        heads[chain.name] = w3.eth.block_number
    return heads


def parse_duration(text: str) -> int:
    """ "90", "90s", "15m", "2h", "7d" -> seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    text = text.strip().lower()
    try:
        if text and text[-1] in units:
            return int(text[:-1]) * units[text[-1]]
        return int(text)
    except ValueError:
        raise GovernanceError(f"bad duration {text!r}: use e.g. 90, 90s, 15m, 2h, 7d") from None
