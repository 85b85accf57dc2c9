"""The guardian process: one WebSocket per chain, newHeads subscription, sign, serve.

For every head it receives it signs the block `confirmations` below it (the
head itself with confirmations 0) and stores the signature (services.guardian.follower:
message blocks at once, other blocks at most every IDLE_SIGN seconds; measured in
`bench.py latency`, signing only message blocks at once took ~30% of each guardian's CPU
off the two cores the whole devnet shares). Every new signature is pushed at once to the
live feed's connections, so a relayer holds a message block's quorum before it would have
asked for it (measured: delivery p50 5.30 against 5.74 ms, 5 alternating pairs). A request for a
block it has not signed yet is served on demand: once the block is at
confirmations depth, it is fetched, signed and stored; with `?wait=S` the
request waits up to S seconds for that (a long poll, so a relayer asking for a
block the guardian has not heard of yet gets it the moment it exists).

HTTP (127.0.0.1:<port of the manifest's guardian url>):
  GET  /health
  GET  /v1/attestations/{chain_id}/{block}[?wait=S]   -> one attestation (404 if not signable yet)
  GET  /v1/attestations/{chain_id}/latest
  GET  /v1/attestations?after=SEQ&limit=N[&chain_id=C]  -> feed of everything signed, by seq
  POST /v1/test/equivocate/{chain_id}/{block}[?wait=S] -> only with --allow-equivocation-for-tests:
       signs a conflicting root for an already signed block (slashing tests)
  GET  /openapi.json                                    -> all of the above, typed (services.guardian.openapi)
WebSocket (same port):
  /v1/attestations/live   every signature made from now on, one attestation (as by-block) a message
Every number in a path or query is bounded (block, chain id, seq: 0..2**63-1, SQLite's
INTEGER): anything else is a 4xx with the common error body (services.common.error_body), never a 5xx.

Signatures are made under the EIP-712 domain salted with the manifest's `instance_id`
(services.common.attest.Domain); the guardian refuses to start without one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path
from typing import Any

from eth_hash.auto import keccak

from services.common import bloom
from services.common.abi_types import event_topic
from services.common.attest import AttestationSigner, Domain
from services.common.http import App, HttpError, Request, invalid
from services.common.manifest import Manifest
from services.common.openapi import MAX_INT, publish
from services.common.rpc import RpcError, hexbytes
from services.guardian.follower import ChainFollower
from services.guardian.openapi import FEED_LIMIT, FEED_LIMIT_MAX, WAIT_MAX, guardian_document
from services.guardian.recall import recall
from services.guardian.store import Signed, SignedStore

log = logging.getLogger("guardian")

LIVE_QUEUE = 1024  # signatures a slow live-feed connection may lag behind before it misses some


def bounded(name: str, value: int) -> int:
    """`value` if it fits 0..MAX_INT, else a 422 with the reason."""
    if not 0 <= value <= MAX_INT:
        raise invalid("path", name, f"must be between 0 and {MAX_INT}, got {value}")
    return value


class Guardian:
    def __init__(self, manifest: Manifest, index: int, db_path: Path, allow_equivocation: bool = False):
        self.manifest = manifest
        self.index = index
        member = next((m for m in manifest.guardians.members if m.index == index), None)
        if member is None:
            raise SystemExit(
                f"guardian index {index} is not in the manifest "
                f"(members: {[m.index for m in manifest.guardians.members]})"
            )
        self.member = member
        self.private_key = member.private_key
        if manifest.instance_id is None:
            raise SystemExit("the manifest has no instance_id (contracts not deployed?): run `devnet up`")
        self.domain = Domain(manifest.instance_id)
        self.signer = AttestationSigner(member.private_key, self.domain)
        self.address = self.signer.address
        self.confirmations = manifest.guardians.confirmations
        self.allow_equivocation = allow_equivocation
        self.store = SignedStore(db_path, self.domain.instance_id)
        if self.store.dropped:
            log.warning("dropped %d signature(s) of another devnet instance from %s", self.store.dropped, db_path)
        # the logs-bloom bits of a gateway MessageSent: blocks that may hold one are signed at once
        self.message_bits = (
            bloom.topic_bits([event_topic(manifest.abi("MetalayerGateway"), "MessageSent")])
            if "MetalayerGateway" in manifest.contracts
            else []
        )
        self.followers = {c.chain_id: ChainFollower(self, c) for c in manifest.chains}
        self.started_at = time.time()
        self.refusals = 0
        self.listeners: set[asyncio.Queue[str]] = set()  # live feed connections (GET /v1/attestations/live)
        self.instance_errors: dict[int, str] = {}  # chain -> why its registry is not bound to our instance

    def sign_block(
        self, chain_id: int, number: int, block_hash: bytes, state_root: bytes, message_block: bool = False
    ) -> Signed:
        """Sign (chain, block) once. A second, different root for it is refused, forever.
        `message_block`: its bloom may hold a gateway message (the live feed says so)."""
        stored = self.store.get(chain_id, number)
        if stored is not None:
            if stored.state_root != state_root or stored.block_hash != block_hash:
                self.refusals += 1
                log.error(
                    "refusing to sign a second root for chain %d block %d (signed 0x%s, now 0x%s)",
                    chain_id,
                    number,
                    stored.state_root.hex(),
                    state_root.hex(),
                )
            return stored
        signature = self.signer.sign(chain_id, number, block_hash, state_root)
        signed = self.store.put_once(chain_id, number, block_hash, state_root, signature)
        self._announce(signed, message_block)
        return signed

    def _announce(self, signed: Signed, message_block: bool) -> None:
        """Push a new signature to every live feed connection (a full one misses it: it can ask).
        `message_block` lets a relayer check those at once and the others only if it needs them."""
        if not self.listeners:
            return
        line = json.dumps(self.json(signed) | {"message_block": message_block}, separators=(",", ":"))
        for queue in self.listeners:
            if not queue.full():
                queue.put_nowait(line)

    async def live(self, receive: Any, send: Any) -> None:
        """WebSocket: every signature made from now on, one JSON attestation per message, as it is
        made: a relayer then holds a message block's quorum before it would have asked for it."""
        if (await receive())["type"] != "websocket.connect":
            return
        await send({"type": "websocket.accept"})
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=LIVE_QUEUE)
        self.listeners.add(queue)
        gone = asyncio.ensure_future(receive())  # clients send nothing: the next message is the close
        nxt: asyncio.Future[str] | None = None
        try:
            while True:
                nxt = asyncio.ensure_future(queue.get())
                await asyncio.wait({nxt, gone}, return_when=asyncio.FIRST_COMPLETED)
                if not nxt.done():
                    return
                await send({"type": "websocket.send", "text": nxt.result()})
        finally:
            self.listeners.discard(queue)
            gone.cancel()
            if nxt is not None:
                nxt.cancel()

    def follower(self, chain_id: int) -> ChainFollower:
        f = self.followers.get(chain_id)
        if f is None:
            raise HttpError(404, f"unknown chain id {chain_id} (known: {', '.join(map(str, self.followers))})")
        return f

    async def start(self) -> None:
        await asyncio.gather(*(f.connect() for f in self.followers.values()))
        registry = self.manifest.contracts.get("StateRootRegistry")
        if registry is not None:  # before any head is signed: what we signed before stays signed
            await recall(self.store, self.address, registry.address, {c: f.rpc for c, f in self.followers.items()})
        await asyncio.gather(*(f.start() for f in self.followers.values()))
        await self._check_instance()
        log.info(
            "guardian %d (%s) following %s, confirmations %d, instance %s",
            self.index,
            self.address,
            ", ".join(f"{c.name}@{c.ws_url}" for c in self.manifest.chains),
            self.confirmations,
            self.manifest.instance_id,
        )

    async def _check_instance(self) -> None:
        """Every registry must be bound to the manifest's instance, else our signatures verify nowhere."""
        registry = self.manifest.contracts.get("StateRootRegistry")
        if registry is None:
            return
        call = {"to": registry.address, "data": "0x" + keccak(b"instanceId()")[:4].hex()}
        for cid, f in self.followers.items():
            try:
                onchain = hexbytes(await f.rpc.call("eth_call", [call, "latest"]))
            except (RpcError, ConnectionError) as exc:
                self.instance_errors[cid] = f"cannot read instanceId(): {exc}"
                continue
            if onchain != self.domain.instance_id:
                self.instance_errors[cid] = f"registry is bound to instance 0x{onchain.hex()}"
        for cid, err in self.instance_errors.items():
            log.error(
                "chain %d: %s, the manifest says %s: signatures of this guardian will not verify there",
                cid,
                err,
                self.manifest.instance_id,
            )

    async def close(self) -> None:
        for f in self.followers.values():
            if f._signer is not None:
                f._signer.cancel()
        await asyncio.gather(*(f.rpc.close() for f in self.followers.values()), return_exceptions=True)
        self.store.close()

    def json(self, signed: Signed) -> dict[str, Any]:
        return signed.as_json(self.address, self.index)

    async def attestation(self, chain_id: int, number: int, wait: float) -> Signed:
        """The follower's attestation; a chain that fails to answer is a 503, not a crash."""
        follower = self.follower(chain_id)
        try:
            return await follower.attestation(number, wait)
        except (RpcError, ConnectionError, TimeoutError) as exc:
            raise HttpError(503, f"chain {chain_id} did not answer: {exc}") from None

    # ------------------------------------------------------------ HTTP

    def app(self) -> App:
        app = App()
        publish(app, guardian_document(self.index, list(self.followers), self.allow_equivocation))

        @app.get("/health")
        async def health(req: Request) -> tuple[int, Any]:
            chains = {}
            ok = True
            for cid, f in self.followers.items():
                last = self.store.latest(cid)
                connected = f.rpc.connected.is_set()
                ok = ok and connected and f.head >= 0
                chains[str(cid)] = {
                    "name": f.chain.name,
                    "connected": connected,
                    "head": f.head,
                    "last_signed": last.block_number if last else None,
                }
            status = "ok" if ok else "starting"
            if self.instance_errors:
                ok, status = False, "wrong instance"
            return (200 if ok else 503), {
                "status": status,
                "guardian": self.index,
                "address": self.address,
                "confirmations": self.confirmations,
                "chains": chains,
                "signed": self.store.count(),
                "refused_second_roots": self.refusals,
                "uptime": round(time.time() - self.started_at, 3),
                "instance_id": self.manifest.instance_id,
                "instance_errors": {str(c): e for c, e in self.instance_errors.items()},
            }

        app.websocket("/v1/attestations/live")(self.live)

        @app.get("/v1/attestations/{chain_id:int}/latest")
        async def latest(req: Request) -> tuple[int, Any]:
            cid = bounded("chain_id", req.params["chain_id"])
            self.follower(cid)
            last = self.store.latest(cid)
            if last is None:
                raise HttpError(404, f"nothing signed yet for chain {cid}")
            return 200, self.json(last)

        @app.get("/v1/attestations/{chain_id:int}/{block:int}")
        async def by_block(req: Request) -> tuple[int, Any]:
            cid, number = bounded("chain_id", req.params["chain_id"]), bounded("block", req.params["block"])
            wait = req.query_float("wait", 0.0, 0.0, WAIT_MAX)
            return 200, self.json(await self.attestation(cid, number, wait))

        @app.get("/v1/attestations")
        async def feed(req: Request) -> tuple[int, Any]:
            after = req.query_int("after", 0, 0, MAX_INT)
            limit = req.query_int("limit", FEED_LIMIT, 1, FEED_LIMIT_MAX)
            cid = req.query_int("chain_id", -1, 0, MAX_INT) if "chain_id" in req.query else None
            rows = self.store.feed(after, limit, cid)
            return 200, {
                "guardian": self.index,
                "signer": self.address,
                "attestations": [r.as_json(self.address) | {"forced": r.forced} for r in rows],
                "next": rows[-1].seq if rows else after,
                "store": self.store.store_id,  # seqs are this store's: another store starts again at 1
            }

        if self.allow_equivocation:

            @app.post("/v1/test/equivocate/{chain_id:int}/{block:int}")
            async def equivocate(req: Request) -> tuple[int, Any]:
                """TEST ONLY: sign a second, conflicting root for a block (to be slashed)."""
                cid, number = bounded("chain_id", req.params["chain_id"]), bounded("block", req.params["block"])
                honest = await self.attestation(cid, number, req.query_float("wait", 5.0, 0.0, WAIT_MAX))
                fake_root = keccak(b"equivocation" + honest.state_root)
                forced = self.store.add_forced(
                    cid,
                    number,
                    honest.block_hash,
                    fake_root,
                    self.signer.sign(cid, number, honest.block_hash, fake_root),
                )
                log.warning(
                    "TEST ONLY: equivocated on chain %d block %d (root 0x%s besides 0x%s)",
                    cid,
                    number,
                    fake_root.hex(),
                    honest.state_root.hex(),
                )
                return 200, {"honest": self.json(honest), "conflicting": self.json(forced)}

        return app
