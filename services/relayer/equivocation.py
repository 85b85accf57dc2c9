"""Equivocation stage: guardian feeds -> conflicting signatures -> GuardianStaking.slash on the hub.

Every guardian's signed-attestation feed is pulled in pages; the queue remembers what each
guardian signed, and two different roots signed by one key for one (chain, block) are
submitted as slash evidence. Failed slashes (RPC trouble, crash) are retried from the
queue's record.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from services.common.rpc import hexbytes, hexint
from services.protocol.attestation import Attestation, recover_signer
from services.relayer.context import Context
from services.relayer.settlement import Settlement

log = logging.getLogger("relayer")

FEED_PAGE = 1000
FEED_TIMEOUT = 5.0  # s for one page of a guardian's feed
EVIDENCE_KEYS = ("chain_id", "block_number", "block_hash", "state_root", "signature")


class EquivocationWatcher:
    def __init__(self, ctx: Context, settlement: Settlement, interval: float = 0.5):
        self.ctx = ctx
        self.settlement = settlement
        self.interval = interval

    async def run(self) -> None:
        ctx = self.ctx
        rounds = 0
        while True:
            if rounds % 20 == 0:  # at start, then every ~10 s: evidence not yet on chain (crash, RPC error)
                await self.retry_slashes()
            rounds += 1
            if rounds % 120 == 0:  # keep the evidence table small: recent blocks only
                for cid, link in ctx.links.items():
                    ctx.queue.prune_attestations(cid, link.head - 20_000)
            for url in ctx.guardians.urls:
                try:
                    await self.pull_feed(url)
                except (TimeoutError, OSError, ValueError, KeyError, TypeError):
                    pass
                except Exception:
                    log.exception("equivocation watcher: %s", url)
            await asyncio.sleep(self.interval)

    async def retry_slashes(self) -> None:
        for rec in self.ctx.queue.slashes():
            if rec["status"] not in ("detected", "failed"):
                continue
            ev = json.loads(rec["evidence"])
            try:
                await self.slash(
                    dict(ev["a"], signer=rec["guardian"]), dict(ev["b"], signer=rec["guardian"]), retry=True
                )
            except Exception:
                log.exception("retrying the slash of %s", rec["guardian"])

    async def pull_feed(self, url: str) -> None:
        queue = self.ctx.queue
        while True:
            after = queue.feed_cursor(url)
            status, doc = await self.ctx.guardians.getter.get(
                f"{url}/v1/attestations?after={after}&limit={FEED_PAGE}", timeout=FEED_TIMEOUT
            )
            if status != 200:
                return
            store = str(doc.get("store", ""))
            if after and store != queue.feed_store(url):
                # the guardian's store is not the one the cursor counts in (lost and started again
                # at seq 1): what it signed below the cursor would never be read
                log.warning("%s serves another store (%s): reading its feed from the start", url, store)
                queue.restart_feed(url, store)
                continue
            atts = doc["attestations"]
            if not atts:
                return
            for a in atts:
                a.setdefault("signer", doc.get("signer"))
            for first, second in queue.record_attestations(url, doc["next"], atts, store):
                await self.slash(first, second)
            if len(atts) < FEED_PAGE:
                return
            await asyncio.sleep(0)  # let deliveries run between pages

    async def slash(self, a: dict[str, Any], b: dict[str, Any], retry: bool = False) -> None:
        """Submit two conflicting attestations by one key as slash evidence (once per guardian)."""
        ctx = self.ctx
        att_a = Attestation(a["chain_id"], a["block_number"], a["block_hash"], a["state_root"])
        att_b = Attestation(b["chain_id"], b["block_number"], b["block_hash"], b["state_root"])
        sig_a, sig_b = hexbytes(a["signature"]), hexbytes(b["signature"])
        try:
            if recover_signer(att_a, sig_a, ctx.instance_id) != recover_signer(att_b, sig_b, ctx.instance_id):
                return
        except Exception:
            return
        guardian = recover_signer(att_a, sig_a, ctx.instance_id)
        prev = ctx.queue.slash_record(guardian)
        if prev is not None and (prev["status"] in ("submitted", "slashed") or not retry):
            return
        evidence = {"a": {k: a[k] for k in EVIDENCE_KEYS}, "b": {k: b[k] for k in EVIDENCE_KEYS}}
        log.warning(
            "EQUIVOCATION: guardian %s signed two roots for chain %d block %d: %s and %s",
            guardian,
            a["chain_id"],
            a["block_number"],
            a["state_root"],
            b["state_root"],
        )

        def record(status: str, tx: str | None = None, error: str | None = None) -> None:
            ctx.queue.set_slash(guardian, a["chain_id"], a["block_number"], evidence, status, tx=tx, error=error)

        record("detected")
        if ctx.staking is None or ctx.staking_abi is None:
            record("failed", error="no GuardianStaking in the manifest")
            return
        hub = ctx.links[ctx.hub_id]
        data = ctx.staking_abi.encode("slash", att_a.as_tuple(), sig_a, att_b.as_tuple(), sig_b)
        try:
            tx = await hub.send(ctx.staking, data, 3_000_000)
            receipt = await hub.receipt(tx)
        except Exception as exc:
            record("failed", error=str(exc))
            log.error("slashing %s failed: %s", guardian, exc)
            return
        if receipt is not None and hexint(receipt["status"]) == 1:
            ctx.counters.slashes += 1
            record("slashed", tx=tx)
            log.warning("slashed guardian %s on the hub (tx %s)", guardian, tx)
        else:
            reason = (
                await self.settlement.revert_reason(ctx.hub_id, tx, hexint(receipt["blockNumber"]))
                if receipt
                else "no receipt"
            )
            # a deterministic revert is final ("rejected"); only RPC failures ("failed") are retried
            status = "slashed" if "AlreadySlashed" in reason else ("rejected" if receipt else "failed")
            record(status, tx=tx, error=reason)
            log.error("slash transaction for %s: %s", guardian, reason)
