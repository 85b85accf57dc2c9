"""The relayer: gateway logs in, proven deliveries out, nothing lost or doubled.

Per chain (ChainLink): a WebSocket with a newHeads subscription. Every head
wakes that chain's scanner, which reads gateway + registry logs from the
stored cursor to the head (eth_getLogs), pairs MessageSent/MessageCommitted
into messages, and stores them together with the new cursor in one SQLite
transaction. That wakes the worker of each destination chain.

Per destination (worker): ready messages are grouped by source chain (up to
`max_batch`); for a batch the attested block is the newest block among its
messages (a commitment never goes away, so a later root proves earlier
messages). A quorum of guardian signatures and one eth_getProof for all the
batch's slots are fetched in parallel, then one transaction
`attestAndDeliverBatch` stores the root and delivers. The batch is marked
`submitted` (with its tx hash) before broadcast; the receipt's
MessageDelivered / MessageFailed events settle each message.

Also: an equivocation watcher (guardian feeds -> GuardianStaking.slash on the
hub), optional interval root posting that skips chains whose newest blocks are
all the relayer's own, and /health with queue stats.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from eth_hash.auto import keccak

from services.common import attest
from services.common.abi import Abi, describe_error
from services.common.http import App, HttpError, Request
from services.common.manifest import Manifest
from services.common.rpc import RpcError, hexbytes, hexint
from services.common.tx import Signer
from services.protocol.attestation import Attestation, recover_signer
from services.protocol.messages import commitment_slot
from services.protocol.proofs import parse_proof
from services.relayer.chain import ChainLink
from services.relayer.guardians import GuardianPool, NoQuorum
from services.relayer.queue import Queue

log = logging.getLogger("relayer")

LOG_RANGE = 2000          # blocks per eth_getLogs while catching up
INFLIGHT_PER_DST = 4      # concurrent batches per destination chain (instant mining)
INFLIGHT_PER_DST_INTERVAL = 16  # with a block time, batches wait for the next block together
QUORUM_RETRY_MAX = 2.0    # seconds between attempts while no quorum is reachable
FAIL_RETRY_MAX = 10.0     # seconds between attempts of a message whose recipient reverts


def _proof_matches(proof: Any, state_root: bytes) -> bool:
    """The proof's root nodes hash to the attested state root and to the account's storage root."""
    if not proof.account_proof or keccak(proof.account_proof[0]) != bytes(state_root):
        return False
    return all(keccak(p[0]) == proof.storage_hash for p in proof.storage_proofs.values() if p)


def _crash_if_failed(task: asyncio.Task[Any]) -> None:
    """A core loop that died would silently stop relaying: exit instead, so the supervisor
    restarts the process, which resumes from its durable queue."""
    if task.cancelled() or task.exception() is None:
        return
    log.critical("%s died: %r; exiting so the supervisor restarts the relayer", task.get_name(), task.exception())
    os._exit(70)


def _all_project_errors(manifest: Manifest) -> Abi:
    """Custom errors of every compiled contract of the project, so a recipient's revert reads
    `Refused(42)` rather than hex when its contract is one of ours (examples, test helpers)."""
    dirs = {Path(c.artifact).parent for c in manifest.contracts.values() if c.artifact}
    entries: list[dict[str, Any]] = []
    for d in dirs:
        base = d if d.is_absolute() else Path(__file__).resolve().parents[2] / d
        for path in sorted(base.glob("*.json")):
            try:
                entries += [e for e in json.loads(path.read_text()).get("abi", []) if e.get("type") == "error"]
            except (OSError, ValueError):
                continue
    return Abi(entries)


def _gas_for(batch: list[Any]) -> int:
    return min(15_000_000, 400_000 + sum(250_000 + 64 * len(m["payload"]) for m in batch))


@dataclass
class GuardianSet:
    members: set[str]   # lower-case addresses
    threshold: int


class Relayer:
    def __init__(self, manifest: Manifest, db_path: Path, max_batch: int | None = None,
                 root_post_interval: float | None = None, watch_interval: float = 0.5):
        self.m = manifest
        self.queue = Queue(db_path)
        self.signer = Signer(manifest.keys.relayer.private_key)
        self.links = {c.chain_id: ChainLink(c, self.signer) for c in manifest.chains}
        self.hub_id = manifest.hub.chain_id
        self.gateway = manifest.address("MetalayerGateway")
        self.registry = manifest.address("StateRootRegistry")
        self.staking = manifest.contracts["GuardianStaking"].address if "GuardianStaking" in manifest.contracts else None
        self.gw_abi = Abi(manifest.abi("MetalayerGateway"))
        self.reg_abi = Abi(manifest.abi("StateRootRegistry"))
        self.staking_abi = Abi(manifest.abi("GuardianStaking")) if self.staking else None
        self.error_abis = [a for a in (self.gw_abi, self.reg_abi, self.staking_abi) if a is not None]
        self.error_abis.append(_all_project_errors(manifest))
        self.topics = [self.gw_abi.topic("MessageSent"), self.gw_abi.topic("MessageCommitted"),
                       self.reg_abi.topic("GuardianSetChanged")]
        self._delivered_topic = self.gw_abi.topic("MessageDelivered")
        self._failed_topic = self.gw_abi.topic("MessageFailed")
        self.instance_id = manifest.instance_id or "0x" + "00" * 32  # the attestation domain's salt
        self.guardians = GuardianPool([g.url for g in manifest.guardians.members], attest.Domain(self.instance_id))
        self.sets: dict[int, GuardianSet] = {}
        self.max_batch = max_batch or manifest.relayer.max_batch
        self.root_post_interval = manifest.relayer.root_post_interval if root_post_interval is None else root_post_interval
        self.watch_interval = watch_interval
        self._scan_wake = {cid: asyncio.Event() for cid in self.links}
        self._work_wake = {cid: asyncio.Event() for cid in self.links}
        self._inflight: dict[int, set[str]] = {cid: set() for cid in self.links}
        self._tasks: list[asyncio.Task[Any]] = []
        self.started_at = time.time()
        self.ready = False
        self.counters = {"batches": 0, "delivered": 0, "failed_deliveries": 0, "reverted_txs": 0, "no_quorum": 0,
                         "roots_posted": 0, "slashes": 0}
        self.last_posted: dict[tuple[int, int], int] = {}

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        await asyncio.gather(*(link.start() for link in self.links.values()))
        await asyncio.gather(*(self._load_set(cid) for cid in self.links))
        for cid, link in self.links.items():
            link.on_head = lambda _n, cid=cid: self._scan_wake[cid].set()
        await self._recover_submitted()
        for cid in self.links:
            self._tasks.append(asyncio.create_task(self._scanner(cid), name=f"scan-{cid}"))
            self._tasks.append(asyncio.create_task(self._worker(cid), name=f"deliver-{cid}"))
        self._tasks.append(asyncio.create_task(self._equivocation_watcher(), name="equivocation"))
        if self.root_post_interval > 0:
            self._tasks.append(asyncio.create_task(self._root_poster(), name="roots"))
        for task in self._tasks:
            task.add_done_callback(_crash_if_failed)
        self.ready = True
        log.info("relayer %s on %s; guardians %s", self.signer.address,
                 ", ".join(f"{l.name}({cid})" for cid, l in self.links.items()),
                 ", ".join(self.guardians.urls))

    async def close(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.guardians.close()
        await asyncio.gather(*(l.rpc.close() for l in self.links.values()), return_exceptions=True)
        self.queue.close()

    async def _load_set(self, chain_id: int) -> None:
        link = self.links[chain_id]
        members = self.reg_abi.decode_output("getGuardians", await link.call(self.registry, self.reg_abi.encode("getGuardians")))[0]
        threshold = self.reg_abi.decode_output("threshold", await link.call(self.registry, self.reg_abi.encode("threshold")))[0]
        self.sets[chain_id] = GuardianSet({a.lower() for a in members}, int(threshold))

    # ------------------------------------------------------------ scanning

    async def _scanner(self, chain_id: int) -> None:
        link = self.links[chain_id]
        wake = self._scan_wake[chain_id]
        cursor = self.queue.cursor(chain_id)
        if cursor is None:
            cursor = -1  # a new relayer reads the whole (short) devnet chain
        while True:
            wake.clear()
            head = link.head
            try:
                while cursor < head:
                    to = min(head, cursor + LOG_RANGE)
                    await self._scan_range(chain_id, cursor + 1, to)
                    cursor = to
            except (RpcError, ConnectionError, asyncio.TimeoutError) as exc:
                log.warning("%s: log scan failed (%s); retrying", link.name, exc)
                await asyncio.sleep(0.2)
                continue
            except Exception:  # noqa: BLE001 - never stop scanning; the cursor says where to resume
                log.exception("%s: log scan failed; retrying", link.name)
                await asyncio.sleep(0.5)
                continue
            if link.head > cursor:
                continue
            await wake.wait()

    async def _scan_range(self, chain_id: int, frm: int, to: int) -> None:
        link = self.links[chain_id]
        logs = await link.rpc.call("eth_getLogs", [{
            "address": [self.gateway, self.registry], "topics": [self.topics],
            "fromBlock": hex(frm), "toBlock": hex(to),
        }])
        now = time.time()
        # Hand-decoded (this runs for every message under load; eth_abi + checksumming cost
        # ~1 ms per message): MessageSent gives the payload, MessageCommitted the rest.
        payloads: dict[str, bytes] = {}
        committed: list[dict[str, Any]] = []
        set_changed = False
        registry = self.registry.lower()
        for lg in logs:
            topics = lg["topics"]
            if lg["address"].lower() == registry:
                set_changed = set_changed or topics[0] == self.topics[2]
                continue
            if topics[0] == self.topics[0]:
                data = hexbytes(lg["data"])
                off = int.from_bytes(data[64:96], "big")
                size = int.from_bytes(data[off:off + 32], "big")
                payloads[topics[1]] = data[off + 32:off + 32 + size]
            elif topics[0] == self.topics[1]:
                committed.append(lg)
        rows = []
        for lg in committed:
            send_id = lg["topics"][1]
            payload = payloads.get(send_id)
            if payload is None:
                log.error("%s: MessageCommitted %s without MessageSent", link.name, send_id)
                continue
            data = lg["data"][2:]
            block = hexint(lg["blockNumber"])
            rows.append({
                "id": send_id, "src": chain_id, "dst": int(lg["topics"][2], 16), "nonce": int(data[0:64], 16),
                "sender": "0x" + data[88:128], "recipient": "0x" + data[152:192], "payload": payload,
                "sent_block": block, "sent_block_hash": lg["blockHash"], "sent_tx": lg["transactionHash"],
                "sent_time": link.head_times.get(block), "seen_at": now,
                "mined_at": min(now, link.head_arrivals.get(block, now)),
            })
        new = self.queue.ingest(chain_id, to, rows)
        if set_changed:
            await self._load_set(chain_id)
            log.info("%s: guardian set changed: %d guardians, threshold %d", link.name,
                     len(self.sets[chain_id].members), self.sets[chain_id].threshold)
        dsts = {r["dst"] for r in rows if r["id"] in set(new)}
        for dst in dsts:
            if dst in self._work_wake:
                self._work_wake[dst].set()
            else:
                ids = [r["id"] for r in rows if r["dst"] == dst]
                self.queue.mark_stage(ids, status="invalid", last_error=f"unknown destination chain {dst}")
        if new:
            log.debug("%s: %d new message(s) up to block %d", link.name, len(new), to)

    # ------------------------------------------------------------ delivering

    async def _worker(self, dst: int) -> None:
        wake = self._work_wake[dst]
        inflight = self._inflight[dst]
        limit = INFLIGHT_PER_DST_INTERVAL if self.m.chain(dst).block_time else INFLIGHT_PER_DST
        slots = asyncio.Semaphore(limit)
        while True:
            wake.clear()
            now = time.time()
            try:
                ready = self.queue.ready(dst, now, self.max_batch * limit, exclude=inflight)
            except Exception:  # noqa: BLE001 - e.g. a locked database: try again shortly
                log.exception("%s: reading the queue failed", self.links[dst].name)
                await asyncio.sleep(0.5)
                continue
            by_src: dict[int, list[Any]] = {}
            for r in ready:
                by_src.setdefault(r["src"], []).append(r)
            started = blocked = False
            for src, rows in by_src.items():
                for i in range(0, len(rows), self.max_batch):
                    if slots.locked():
                        blocked = True
                        break
                    batch = rows[i:i + self.max_batch]
                    await slots.acquire()
                    inflight.update(r["id"] for r in batch)
                    started = True
                    asyncio.create_task(self._run_batch(dst, src, batch, slots))
            if started and not blocked:
                continue
            # Woken by new messages, a finished batch (a free slot) or the next retry time.
            nxt = None if blocked else self.queue.next_wakeup(dst)
            timeout = None if nxt is None else max(0.005, nxt - time.time())
            try:
                await asyncio.wait_for(wake.wait(), timeout)
            except asyncio.TimeoutError:
                pass

    def _quorum_wait(self, chain_id: int) -> float:
        """How long guardians may hold a request: until `confirmations` more blocks can exist."""
        conf = self.m.guardians.confirmations
        block_time = self.m.chain(chain_id).block_time or 0.0
        return min(60.0, 2.0 + conf * block_time * 1.5)

    async def _run_batch(self, dst: int, src: int, batch: list[Any], slots: asyncio.Semaphore) -> None:
        ids = [r["id"] for r in batch]
        try:
            await self._deliver(dst, src, batch)
        except NoQuorum as exc:
            self.counters["no_quorum"] += 1
            attempts = max(r["attempts"] for r in batch)
            delay = min(QUORUM_RETRY_MAX, 0.25 * 2 ** min(attempts, 4))
            self.queue.mark_retry(ids, str(exc), time.time() + delay, count_attempt=True)
            log.warning("waiting for guardians: %s (retry in %.2fs)", exc, delay)
        except Exception as exc:  # noqa: BLE001 - one bad batch must not stop the worker
            log.exception("batch %s->%s failed", src, dst)
            self.queue.mark_retry(ids, f"{type(exc).__name__}: {exc}", time.time() + 1.0, count_attempt=True)
        finally:
            self._inflight[dst].difference_update(ids)
            slots.release()
            self._work_wake[dst].set()

    async def _deliver(self, dst: int, src: int, batch: list[Any]) -> None:
        dst_link, src_link = self.links[dst], self.links[src]
        gset = self.sets[dst]
        block = max(r["sent_block"] for r in batch)
        msgs = [(r["src"], r["dst"], r["nonce"], hexbytes(r["sender"]), hexbytes(r["recipient"]), bytes(r["payload"]))
                for r in batch]  # the gateway's Message tuple (addresses as 20 bytes: no checksumming)
        # Messages tried before may have been delivered meanwhile (crash, another relayer): check first.
        if any(r["attempts"] for r in batch):
            delivered = await self._delivered_on_chain(dst, batch)
            if delivered:
                await self._settle_already_delivered(dst, [r for r in batch if r["id"] in delivered])
                msgs = [m for m, r in zip(msgs, batch) if r["id"] not in delivered]
                batch = [r for r in batch if r["id"] not in delivered]
                if not batch:
                    return
        slots = [commitment_slot(hexbytes(r["id"])) for r in batch]
        quorum_task = asyncio.ensure_future(self.guardians.quorum(src, block, gset.members, gset.threshold,
                                                                  wait=self._quorum_wait(src)))
        proof_task = asyncio.ensure_future(src_link.rpc.call(
            "eth_getProof", [self.gateway, ["0x" + s.hex() for s in slots], hex(block)]))
        try:
            quorum = await quorum_task
        except BaseException:
            proof_task.cancel()
            raise
        attested_at = time.time()
        proof = parse_proof(await proof_task, block)
        if not _proof_matches(proof, quorum.attestation.state_root):
            proof = await self._consistent_proof(src_link, slots, block, quorum.attestation.state_root)
        proved_at = time.time()
        sigs = quorum.for_set(gset.members, gset.threshold)
        assert sigs is not None
        data = self.gw_abi.encode(
            "attestAndDeliverBatch", quorum.attestation.as_tuple(), sigs, proof.account_proof,
            msgs, [proof.storage_proof(s) for s in slots],
        )
        ids = [r["id"] for r in batch]

        def durable(tx_hash: str) -> None:
            self.queue.mark_submitted(ids, tx_hash, block, attested_at, proved_at, time.time())

        tx_hash = await dst_link.send(self.gateway, data, _gas_for(batch), before_broadcast=durable)
        self.counters["batches"] += 1
        receipt = await dst_link.receipt(tx_hash)
        if receipt is None:
            raise TimeoutError(f"no receipt for {tx_hash} on {dst_link.name}")
        await self._settle(dst, batch, receipt)

    async def _consistent_proof(self, link: ChainLink, slots: list[bytes], block: int, state_root: bytes) -> Any:
        """Fetch eth_getProof again until it matches the attested root.

        Measured: anvil answers eth_getProof for a block that was just mined, while further
        blocks are being mined, with nodes of another state about 5% of the time (1% when
        asked by block hash). Delivering such a proof only wastes a reverted transaction
        (InvalidAccountProof(INVALID_ROOT)), so it is checked here first.
        """
        for attempt in range(20):
            await asyncio.sleep(0.002 * (attempt + 1))
            proof = parse_proof(await link.rpc.call(
                "eth_getProof", [self.gateway, ["0x" + s.hex() for s in slots], hex(block)]), block)
            if _proof_matches(proof, state_root):
                return proof
        raise RuntimeError(f"{link.name}: eth_getProof at block {block} keeps disagreeing with the attested root")

    async def _settle(self, dst: int, batch: list[Any], receipt: dict[str, Any]) -> None:
        now = time.time()
        ids = [r["id"] for r in batch]
        tx_hash = receipt["transactionHash"]
        block = hexint(receipt["blockNumber"])
        gas = hexint(receipt["gasUsed"])
        if hexint(receipt["status"]) != 1:
            self.counters["reverted_txs"] += 1
            reason = await self._revert_reason(dst, tx_hash, block)
            log.warning("delivery tx %s on %s reverted: %s", tx_hash, self.links[dst].name, reason)
            delivered = await self._delivered_on_chain(dst, batch)
            if delivered:
                await self._settle_already_delivered(dst, [r for r in batch if r["id"] in delivered])
            rest = [i for i in ids if i not in delivered]
            attempts = max(r["attempts"] for r in batch) + 1
            self.queue.mark_retry(rest, f"delivery transaction reverted: {reason}",
                                  now + min(FAIL_RETRY_MAX, 0.25 * 2 ** min(attempts, 6)))
            return
        ok: list[str] = []
        failed: dict[str, str] = {}
        for lg in receipt["logs"]:
            if lg["address"].lower() != self.gateway.lower():
                continue
            topic0 = lg["topics"][0] if lg["topics"] else None
            if topic0 == self._delivered_topic:
                ok.append(lg["topics"][1])
            elif topic0 == self._failed_topic:
                _, args = self.gw_abi.decode_log(lg)  # type: ignore[misc]
                failed[lg["topics"][1]] = describe_error(args["reason"], self.error_abis)
        if ok:
            self.queue.mark_delivered(ok, tx_hash, block, now, gas)
            self.counters["delivered"] += len(ok)
            first_seen = min((r["seen_at"] or now) for r in batch)
            log.info("delivered %d message(s) %s -> %s in %s (block %d, gas %d, %.1f ms after the send was seen)",
                     len(ok), self.links[batch[0]["src"]].name, self.links[dst].name, tx_hash, block, gas,
                     (now - first_seen) * 1000)
        if failed:
            self.counters["failed_deliveries"] += len(failed)
            attempts = {r["id"]: r["attempts"] + 1 for r in batch}
            nxt = {i: now + min(FAIL_RETRY_MAX, 0.5 * 2 ** min(attempts.get(i, 1) - 1, 6)) for i in failed}
            self.queue.mark_failed(failed, nxt, tx_hash, block)
            for i, reason in failed.items():
                log.warning("message %s: recipient reverted: %s (retry in %.1fs)", i, reason, nxt[i] - now)
        missing = [i for i in ids if i not in ok and i not in failed]
        if missing:
            self.queue.unsubmit(missing, "no delivery event in the receipt")

    async def _revert_reason(self, chain_id: int, tx_hash: str, block: int) -> str:
        link = self.links[chain_id]
        try:
            tx = await link.rpc.call("eth_getTransactionByHash", [tx_hash])
            await link.rpc.call("eth_call", [{"from": tx["from"], "to": tx["to"], "data": tx["input"],
                                              "gas": tx["gas"]}, hex(max(0, block - 1))])
            return "reverted (not reproducible by eth_call)"
        except RpcError as exc:
            data = exc.data if isinstance(exc.data, str) else None
            return describe_error(data, self.error_abis) if data else exc.message
        except Exception as exc:  # noqa: BLE001
            return f"unknown ({exc})"

    async def _delivered_on_chain(self, dst: int, batch: list[Any]) -> set[str]:
        link = self.links[dst]
        results = await asyncio.gather(*(
            link.call(self.gateway, self.gw_abi.encode("isDelivered", r["src"], r["nonce"])) for r in batch))
        return {r["id"] for r, res in zip(batch, results) if self.gw_abi.decode_output("isDelivered", res)[0]}

    async def _settle_already_delivered(self, dst: int, rows: list[Any]) -> None:
        """Messages found delivered on chain: record the delivering transaction from its event."""
        link = self.links[dst]
        topic = self.gw_abi.topic("MessageDelivered")
        for r in rows:
            tx, block = None, None
            try:
                logs = await link.rpc.call("eth_getLogs", [{"address": self.gateway, "topics": [topic, r["id"]],
                                                            "fromBlock": "0x0", "toBlock": "latest"}])
                if logs:
                    tx, block = logs[-1]["transactionHash"], hexint(logs[-1]["blockNumber"])
            except RpcError:
                pass
            self.queue.mark_delivered([r["id"]], tx, block, time.time())
            log.info("message %s was already delivered on chain (tx %s)", r["id"], tx)

    async def _recover_submitted(self) -> None:
        """After a crash: settle every batch that was marked submitted, before sending anything."""
        rows = self.queue.submitted()
        by_tx: dict[tuple[int, str], list[Any]] = {}
        for r in rows:
            by_tx.setdefault((r["dst"], r["delivery_tx"]), []).append(r)
        for (dst, tx), batch in by_tx.items():
            link = self.links.get(dst)
            if link is None:
                continue
            receipt = await link.rpc.call("eth_getTransactionReceipt", [tx]) if tx else None
            if receipt is None and tx and await link.rpc.call("eth_getTransactionByHash", [tx]) is not None:
                receipt = await link.receipt(tx, timeout=30)
            if receipt is not None:
                await self._settle(dst, batch, receipt)
            else:
                delivered = await self._delivered_on_chain(dst, batch)
                if delivered:
                    await self._settle_already_delivered(dst, [r for r in batch if r["id"] in delivered])
                self.queue.unsubmit([r["id"] for r in batch if r["id"] not in delivered],
                                    "relayer restarted before its transaction was mined")
        if rows:
            log.info("recovered %d message(s) that were in flight at the last stop", len(rows))

    # ------------------------------------------------------------ equivocation

    async def _equivocation_watcher(self) -> None:
        client = self.guardians.client
        rounds = 0
        while True:
            if rounds % 20 == 0:  # at start, then every ~10 s: evidence not yet on chain (crash, RPC error)
                await self._retry_slashes()
            rounds += 1
            if rounds % 120 == 0:  # keep the evidence table small: recent blocks only
                for cid, link in self.links.items():
                    self.queue.prune_attestations(cid, link.head - 20_000)
            for url in self.guardians.urls:
                try:
                    await self._pull_feed(client, url)
                except (aiohttp.ClientError, asyncio.TimeoutError, ValueError, KeyError):
                    pass
                except Exception:  # noqa: BLE001
                    log.exception("equivocation watcher: %s", url)
            await asyncio.sleep(self.watch_interval)

    async def _retry_slashes(self) -> None:
        for rec in self.queue.slashes():
            if rec["status"] not in ("detected", "failed"):
                continue
            ev = json.loads(rec["evidence"])
            try:
                await self._slash(dict(ev["a"], signer=rec["guardian"]), dict(ev["b"], signer=rec["guardian"]),
                                  retry=True)
            except Exception:  # noqa: BLE001
                log.exception("retrying the slash of %s", rec["guardian"])

    async def _pull_feed(self, client: aiohttp.ClientSession, url: str) -> None:
        while True:
            after = self.queue.feed_cursor(url)
            async with client.get(f"{url}/v1/attestations", params={"after": after, "limit": 1000}) as r:
                if r.status != 200:
                    return
                doc = await r.json()
            atts = doc["attestations"]
            if not atts:
                return
            for a in atts:
                a.setdefault("signer", doc.get("signer"))
            conflicts = self.queue.record_attestations(url, doc["next"], atts)
            for first, second in conflicts:
                await self._slash(first, second)
            if len(atts) < 1000:
                return
            await asyncio.sleep(0)  # let deliveries run between pages

    async def _slash(self, a: dict[str, Any], b: dict[str, Any], retry: bool = False) -> None:
        att_a = Attestation(a["chain_id"], a["block_number"], a["block_hash"], a["state_root"])
        att_b = Attestation(b["chain_id"], b["block_number"], b["block_hash"], b["state_root"])
        sig_a, sig_b = hexbytes(a["signature"]), hexbytes(b["signature"])
        try:
            if recover_signer(att_a, sig_a, self.instance_id) != recover_signer(att_b, sig_b, self.instance_id):
                return
        except Exception:  # noqa: BLE001
            return
        guardian = recover_signer(att_a, sig_a, self.instance_id)
        prev = self.queue.slash_record(guardian)
        if prev is not None and (prev["status"] in ("submitted", "slashed") or not retry):
            return
        evidence = {"a": {k: a[k] for k in ("chain_id", "block_number", "block_hash", "state_root", "signature")},
                    "b": {k: b[k] for k in ("chain_id", "block_number", "block_hash", "state_root", "signature")}}
        log.warning("EQUIVOCATION: guardian %s signed two roots for chain %d block %d: %s and %s",
                    guardian, a["chain_id"], a["block_number"], a["state_root"], b["state_root"])
        self.queue.set_slash(guardian, a["chain_id"], a["block_number"], evidence, "detected")
        if self.staking is None or self.staking_abi is None:
            self.queue.set_slash(guardian, a["chain_id"], a["block_number"], evidence, "failed",
                                 error="no GuardianStaking in the manifest")
            return
        hub = self.links[self.hub_id]
        data = self.staking_abi.encode("slash", att_a.as_tuple(), sig_a, att_b.as_tuple(), sig_b)
        try:
            tx = await hub.send(self.staking, data, 3_000_000)
            receipt = await hub.receipt(tx)
        except Exception as exc:  # noqa: BLE001
            self.queue.set_slash(guardian, a["chain_id"], a["block_number"], evidence, "failed", error=str(exc))
            log.error("slashing %s failed: %s", guardian, exc)
            return
        if receipt is not None and hexint(receipt["status"]) == 1:
            self.counters["slashes"] += 1
            self.queue.set_slash(guardian, a["chain_id"], a["block_number"], evidence, "slashed", tx=tx)
            log.warning("slashed guardian %s on the hub (tx %s)", guardian, tx)
        else:
            reason = await self._revert_reason(self.hub_id, tx, hexint(receipt["blockNumber"])) if receipt else "no receipt"
            # a deterministic revert is final ("rejected"); only RPC failures ("failed") are retried
            status = "slashed" if "AlreadySlashed" in reason else ("rejected" if receipt else "failed")
            self.queue.set_slash(guardian, a["chain_id"], a["block_number"], evidence, status, tx=tx, error=reason)
            log.error("slash transaction for %s: %s", guardian, reason)

    # ------------------------------------------------------------ optional root posting

    async def _root_poster(self) -> None:
        """Every interval, post each chain's newest root to the others, unless nothing but the
        relayer's own transactions happened there since the last post (no self-feeding loop)."""
        while True:
            await asyncio.sleep(self.root_post_interval)
            for src, link in self.links.items():
                try:
                    await self._post_root(src, link)
                except Exception as exc:  # noqa: BLE001
                    log.warning("root posting for %s: %s", link.name, exc)

    async def _post_root(self, src: int, link: ChainLink) -> None:
        head = link.head
        last = min((self.last_posted.get((src, d), -1) for d in self.links if d != src), default=-1)
        if head <= last:
            return
        foreign = False
        for n in range(head, max(last, head - 64), -1):
            blk = await link.rpc.call("eth_getBlockByNumber", [hex(n), False])
            if blk and any(h not in link.own_tx_set for h in blk["transactions"]):
                foreign = True
                break
        if not foreign:
            return
        for dst, dlink in self.links.items():
            if dst == src or self.last_posted.get((src, dst), -1) >= head:
                continue
            gset = self.sets[dst]
            q = await self.guardians.quorum(src, head, gset.members, gset.threshold)
            sigs = q.for_set(gset.members, gset.threshold)
            data = self.reg_abi.encode("submitAttestation", q.attestation.as_tuple(), sigs)
            tx = await dlink.send(self.registry, data, 500_000)
            await dlink.receipt(tx)
            self.last_posted[(src, dst)] = head
            self.counters["roots_posted"] += 1

    # ------------------------------------------------------------ HTTP

    def app(self) -> App:
        app = App()

        @app.get("/health")
        async def health(req: Request) -> tuple[int, Any]:
            chains = {str(cid): {"name": l.name, "connected": l.rpc.connected.is_set(), "head": l.head,
                                 "inflight": len(self._inflight[cid])}
                      for cid, l in self.links.items()}
            ok = self.ready and all(c["connected"] for c in chains.values())
            stats = self.queue.stats()
            for cid, cur in stats.pop("cursors").items():
                if cid in chains:
                    chains[cid]["cursor"] = cur
            return (200 if ok else 503), {
                "status": "ok" if ok else "starting", "address": self.signer.address, "chains": chains,
                "queue": stats, "counters": self.counters,
                "guardians": {u: ("down: " + self.guardians.down[u]) if u in self.guardians.down else "ok"
                              for u in self.guardians.urls},
                "guardian_sets": {str(c): {"members": sorted(s.members), "threshold": s.threshold}
                                  for c, s in self.sets.items()},
                "slashes": self.queue.slashes(), "uptime": round(time.time() - self.started_at, 3),
            }

        @app.get("/v1/messages/{message_id}")
        async def message(req: Request) -> tuple[int, Any]:
            row = self.queue.get(req.params["message_id"].lower())
            if row is None:
                raise HttpError(404, "unknown message id")
            doc = dict(row)
            doc["payload"] = "0x" + bytes(doc["payload"]).hex()
            return 200, doc

        return app

