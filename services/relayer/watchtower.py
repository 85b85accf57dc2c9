"""Watchtower stage: every root any registry stores, checked against the source chain itself.

Every registry (same address on every chain) logs each stored root with its signers
(`AttestationSubmitted`). Each head of a chain wakes this stage, which reads the new logs and
checks the attested block against the source: against the header the source itself announced
for that height (newHeads), when it matches; else by asking the source for the block:

    same hash and state root           ok
    no such block                      flagged `ahead` (re-checked each round: once the block
                                       exists with other contents the flag becomes `forged`)
    another hash or state root         flagged `forged`
    a hash this relayer saw at that height before a rewind: `rewound` (counted, not flagged)

A flag is logged (one ERROR line: chain, block, signers), stored in the queue, shown on
`/health`, and acted on: its block is never used to attest deliveries (a later block proves the
same commitments), its signers are distrusted (GuardianPool: left out of quorums unless the relayer
read the attested block from the source itself), and evidence is searched for each signer — its
signature of another root for the same (chain, block) in other registries' logs, the guardians'
feeds (queue), the relayer's quorum cache (a delivery that reverted `ConflictingRoot` carried the
real root's signatures) and, for `forged`, each guardian's `/v1/attestations/{chain}/{block}`.
Evidence goes to `GuardianStaking.slash` on the hub through the equivocation stage's submission
path; the hub's removal messages then reach every chain.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from services.common import bloom
from services.common.rpc import RpcError, hexint
from services.protocol.attestation import Attestation
from services.protocol.evidence import ATTESTATION_SUBMITTED_TOPIC, StoredRoot, equivocations
from services.relayer.context import Context
from services.relayer.equivocation import EquivocationWatcher

log = logging.getLogger("relayer")

LOG_RANGE = 2000  # blocks per eth_getLogs while catching up
SUBMITTED_BITS = bloom.topic_bits([ATTESTATION_SUBMITTED_TOPIC])
ROUND = 0.25  # s between rounds when no head arrives (re-checks of `ahead`, evidence searches)
EVIDENCE_RETRY = 2.0  # s between evidence searches for a flag whose signers are not all slashed
GUARDIAN_WAIT = 1.0  # s a guardian may hold a signature request of the watchtower
CURSOR_SAVE = 1.0  # s: a cursor over blocks without roots is written at most this often (a restart
# re-reads those few blocks; writing it on every head of every chain cost a SQLite write each)
SEEN_PER_CHAIN = 8192  # header hashes remembered per chain (to tell a rewind from a forgery)
DONE = ("slashed", "rejected")


def _hex(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def _topic(n: int) -> str:
    return "0x" + n.to_bytes(32, "big").hex()


def evidence_doc(att: Attestation, sig: bytes) -> dict[str, Any]:
    """One side of slash evidence in the equivocation stage's (JSON) form."""
    return {
        "chain_id": att.chain_id,
        "block_number": att.block_number,
        "block_hash": _hex(att.block_hash),
        "state_root": _hex(att.state_root),
        "signature": _hex(sig),
    }


@dataclass
class Flag:
    registry_chain: int
    root: StoredRoot
    kind: str  # ahead | forged
    tx: str | None
    mined_at: float | None
    detected_at: float
    real_hash: str | None = None
    next_search: float = 0.0
    slashed: set[str] = field(default_factory=set)

    @property
    def key(self) -> tuple[int, int, int]:
        return (self.registry_chain, self.root.attestation.chain_id, self.root.attestation.block_number)

    def record(self) -> dict[str, Any]:
        att = self.root.attestation
        return {
            "registry_chain": self.registry_chain,
            "chain_id": att.chain_id,
            "block": att.block_number,
            "block_hash": _hex(att.block_hash),
            "state_root": _hex(att.state_root),
            "signers": list(self.root.signers),
            "kind": self.kind,
            "tx": self.tx,
            "real_hash": self.real_hash,
            "mined_at": self.mined_at,
        }


class Watchtower:
    def __init__(self, ctx: Context, equivocation: EquivocationWatcher, interval: float = ROUND):
        self.ctx = ctx
        self.equivocation = equivocation
        self.interval = interval
        self.wake = asyncio.Event()
        self.evidence_due = asyncio.Event()
        self.open: dict[tuple[int, int, int], Flag] = {}
        self.checked = 0
        self.rewound = 0
        self.seen: dict[int, OrderedDict[str, int]] = {cid: OrderedDict() for cid in ctx.links}
        self.cursors: dict[int, int] = {}  # chain -> newest block read (the queue has it, or an older one)
        self._saved_at: dict[int, float] = {}

    # ------------------------------------------------------------ lifecycle

    def saw_head(self, chain_id: int, number: int) -> None:
        """Called on every head: remember its hash (a later rewind is then no forgery) and wake."""
        h = self.ctx.links[chain_id].head_hashes.get(number)
        if h:
            seen = self.seen[chain_id]
            seen[h.lower()] = number
            if len(seen) > SEEN_PER_CHAIN:
                seen.popitem(last=False)
        self.wake.set()

    def restore(self) -> None:
        """Flags of a previous run keep their signers distrusted and their blocks unused."""
        for f in self.ctx.queue.flags():
            self._act_on(f["chain_id"], f["block"], f["signers"])

    async def run(self) -> None:
        self.restore()
        while True:
            self.wake.clear()
            for cid in self.ctx.links:
                try:
                    await self.scan(cid)
                except (RpcError, ConnectionError, TimeoutError) as exc:
                    log.warning("watchtower: reading %s's registry failed (%s)", self.ctx.links[cid].name, exc)
                except Exception:
                    log.exception("watchtower: %s", self.ctx.links[cid].name)
            try:
                await self.recheck_ahead()
            except (RpcError, ConnectionError, TimeoutError) as exc:
                log.warning("watchtower: re-checking flags failed (%s)", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self.interval)

    # ------------------------------------------------------------ following registries

    async def scan(self, chain_id: int) -> None:
        link = self.ctx.links[chain_id]
        cursor = self.cursors.get(chain_id)
        if cursor is None:
            cursor = self.ctx.queue.watch_cursor(chain_id)
        cursor = -1 if cursor is None else min(cursor, link.head)  # a rewound chain: read again
        while cursor < link.head:
            to = min(link.head, cursor + LOG_RANGE)
            if link.quiet(cursor + 1, to, SUBMITTED_BITS):  # no root stored in these blocks (blooms)
                logs = []
            else:
                logs = await link.rpc.call(
                    "eth_getLogs",
                    [
                        {
                            "address": self.ctx.registry,
                            "topics": [ATTESTATION_SUBMITTED_TOPIC],
                            "fromBlock": hex(cursor + 1),
                            "toBlock": hex(to),
                        }
                    ],
                )
            for lg in logs:
                await self.check(chain_id, lg)
            self.cursors[chain_id] = cursor = to
            now = time.monotonic()
            if logs or now - self._saved_at.get(chain_id, 0.0) >= CURSOR_SAVE:
                self.ctx.queue.set_watch_cursor(chain_id, to)
                self._saved_at[chain_id] = now

    async def check(self, registry_chain: int, lg: dict[str, Any]) -> str:
        """Check one stored root against its source; flag it if it is not the source's block."""
        try:
            root = StoredRoot.from_log(lg)
        except ValueError:
            return "malformed"
        self.checked += 1
        kind, real = await self.verdict(root)
        if kind == "rewound":
            self.rewound += 1
        if kind in ("ahead", "forged"):
            mined = self.ctx.links[registry_chain].head_arrivals.get(hexint(lg["blockNumber"]))
            flag = Flag(registry_chain, root, kind, lg.get("transactionHash"), mined, time.time(), real)
            self.raise_flag(flag)
        return kind

    async def verdict(self, root: StoredRoot) -> tuple[str, str | None]:
        """(ok | ahead | forged | rewound | unknown chain, the source's hash of that block)."""
        att = root.attestation
        link = self.ctx.links.get(att.chain_id)
        if link is None:
            return "unknown chain", None
        stored_hash = _hex(att.block_hash)
        if link.saw_header(att.block_number, stored_hash, _hex(att.state_root)):
            return "ok", stored_hash  # the source announced this very block (its newHeads): no RPC
        if att.block_number >= 2**63:
            block = None  # no node answers for such a number: nothing that high exists
        else:
            block = await link.rpc.call("eth_getBlockByNumber", [hex(att.block_number), False])
        if block is not None and block["hash"].lower() == stored_hash:
            if block["stateRoot"].lower() == _hex(att.state_root):
                return "ok", block["hash"]
            return "forged", block["hash"]
        if self.seen[att.chain_id].get(stored_hash) == att.block_number:
            return "rewound", block["hash"] if block else None
        return ("forged", block["hash"]) if block is not None else ("ahead", None)

    # ------------------------------------------------------------ flags

    def _act_on(self, chain_id: int, block: int, signers: list[str]) -> None:
        self.ctx.suspect_blocks.add((chain_id, block))
        self.ctx.guardians.distrusted.update(s.lower() for s in signers)

    def raise_flag(self, flag: Flag) -> None:
        att = flag.root.attestation
        self.ctx.queue.flag_root(flag.record(), time.time())
        self._act_on(att.chain_id, att.block_number, list(flag.root.signers))
        self.open[flag.key] = flag
        self.evidence_due.set()
        self.ctx.counters.flagged_roots += 1
        log.error(
            "WATCHTOWER: %s root on %s's registry for %s (%d) block %d: stored hash %s root %s, source has %s; "
            "signed by %s (tx %s)",
            flag.kind.upper(),
            self.ctx.links[flag.registry_chain].name,
            self.ctx.links[att.chain_id].name,
            att.chain_id,
            att.block_number,
            _hex(att.block_hash),
            _hex(att.state_root),
            flag.real_hash or "no such block",
            ", ".join(flag.root.signers),
            flag.tx,
        )

    async def recheck_ahead(self) -> None:
        """A root of a block the source did not have: once the block exists, is it the same?"""
        for flag in list(self.open.values()):
            if (
                flag.kind != "ahead"
                or flag.root.attestation.block_number > self.ctx.links[flag.root.attestation.chain_id].head
            ):
                continue
            kind, real = await self.verdict(flag.root)
            if kind != "ahead":
                flag.kind, flag.real_hash, flag.next_search = kind, real, 0.0
                if kind == "forged":
                    self.raise_flag(flag)
                self.evidence_due.set()

    async def run_evidence(self) -> None:
        """Its own loop, so a slow search (guardians, hub transactions) never delays a flag."""
        while True:
            self.evidence_due.clear()
            now = time.time()
            for key, flag in list(self.open.items()):
                if now < flag.next_search:
                    continue
                flag.next_search = now + EVIDENCE_RETRY
                try:
                    await self.find_evidence(flag)
                except (RpcError, ConnectionError, TimeoutError) as exc:
                    log.warning("watchtower: evidence search failed (%s)", exc)
                except Exception:
                    log.exception("watchtower: evidence search")
                if flag.slashed >= {s.lower() for s in flag.root.signers}:
                    self.open.pop(key, None)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.evidence_due.wait(), self.interval)

    # ------------------------------------------------------------ evidence

    async def other_roots(self, chain_id: int, block: int) -> list[tuple[Attestation, bytes]]:
        """Every (attestation, signature) any registry stored for (chain, block)."""
        pairs: list[tuple[Attestation, bytes]] = []
        for link in self.ctx.links.values():
            try:
                logs = await link.rpc.call(
                    "eth_getLogs",
                    [
                        {
                            "address": self.ctx.registry,
                            "topics": [ATTESTATION_SUBMITTED_TOPIC, _topic(chain_id), _topic(block)],
                            "fromBlock": "0x0",
                            "toBlock": "latest",
                        }
                    ],
                )
            except (RpcError, ConnectionError, TimeoutError):
                continue
            for lg in logs:
                with contextlib.suppress(ValueError):
                    stored = StoredRoot.from_log(lg)
                    pairs += [(stored.attestation, sig) for sig in stored.signatures]
        return pairs

    async def signed_elsewhere(self, flag: Flag) -> list[tuple[Attestation, bytes]]:
        att = flag.root.attestation
        chain_id, block = att.chain_id, att.block_number
        if flag.kind == "forged":  # an honest-looking signer may sign the real block when asked
            await self.ctx.guardians.ask_all(chain_id, block, GUARDIAN_WAIT)
        pairs = await self.other_roots(chain_id, block)
        pairs += self.ctx.guardians.known(chain_id, block)
        for row in self.ctx.queue.signed_roots(chain_id, block):
            with contextlib.suppress(ValueError):
                other = Attestation(chain_id, block, row["block_hash"], row["state_root"])
                pairs.append((other, bytes.fromhex(row["signature"].removeprefix("0x"))))
        return pairs

    async def find_evidence(self, flag: Flag) -> None:
        """Slash every signer of the flagged root that also signed another root for its block."""
        pairs = await self.signed_elsewhere(flag)
        for ev in equivocations(flag.root, pairs, self.ctx.instance_id):
            if ev.guardian.lower() in flag.slashed:
                continue
            rec = self.ctx.queue.slash_record(ev.guardian)
            if rec is None or rec["status"] not in DONE:
                await self.equivocation.slash(
                    dict(evidence_doc(ev.a, ev.sig_a), signer=ev.guardian),
                    dict(evidence_doc(ev.b, ev.sig_b), signer=ev.guardian),
                    retry=True,
                )
                rec = self.ctx.queue.slash_record(ev.guardian)
            if rec is not None and rec["status"] in DONE:
                flag.slashed.add(ev.guardian.lower())

    # ------------------------------------------------------------ health

    def status(self) -> dict[str, Any]:
        flags = self.ctx.queue.flags()
        for f in flags:
            f["delay"] = round(f["detected_at"] - f["mined_at"], 3) if f["mined_at"] else None
        return {
            "status": "alert" if flags else "ok",
            "checked": self.checked,
            "rewound": self.rewound,
            "flags": flags,
            "distrusted": sorted(self.ctx.guardians.distrusted),
        }
