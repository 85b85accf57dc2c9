"""Asking the guardians for signatures, all at once, and stopping at a quorum.

For (chain, block) every guardian is asked in parallel (with a long poll so a
guardian that has not seen the block yet answers the moment it does). Each
answer is checked locally: the signature must recover to that guardian, and
only guardians of the destination registry's current set count. The first
`threshold` signatures that agree on (blockHash, stateRoot) form the quorum.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from services.common import attest
from services.common.http_get import JsonGetter
from services.protocol.attestation import Attestation

log = logging.getLogger("relayer")


@dataclass(frozen=True)
class Quorum:
    attestation: Attestation
    signatures: dict[str, bytes]  # signer -> 65-byte signature

    def for_set(self, guardians: set[str], threshold: int) -> list[bytes] | None:
        sigs = [s for g, s in self.signatures.items() if g.lower() in guardians]
        return sigs[:threshold] if len(sigs) >= threshold else None


PUSH_GRACE = 0.005  # s a quorum waits for pushed signatures of a block guardians push before asking
# signatures of message blocks one guardian's feed may have checked as they come, per second: a
# guardian pushing more (a flood) has the rest kept to be checked only if a quorum needs them
PUSH_CHECKS_PER_S = 1000


class NoQuorum(RuntimeError):
    pass


class GuardianPool:
    def __init__(self, urls: list[str], domain: attest.Domain, wait: float = 2.0):
        self.urls = urls
        self.domain = domain
        self.wait = wait
        # every request to a guardian (asks on the latency path of every delivery, the equivocation
        # stage's feed reads): a lean keep-alive client (http_get.py)
        self.getter = JsonGetter()
        self._cache: OrderedDict[tuple[int, int], dict[tuple[bytes, bytes], dict[str, bytes]]] = OrderedDict()
        self._asking: dict[tuple[int, int, str], asyncio.Future[None]] = {}
        self.down: dict[str, str] = {}
        # signers of roots the watchtower flagged: counted only for a root the relayer read from
        # the source itself (`vouch`), so they can never carry a forgery but do not stall the network
        self.distrusted: set[str] = set()
        self._vouched: OrderedDict[tuple[int, int], tuple[bytes, bytes]] = OrderedDict()
        self.live: set[str] = set()  # guardians whose live feed is connected
        self._arrival = asyncio.Event()  # set (and replaced) whenever a pushed signature lands
        self._listeners: list[asyncio.Task[None]] = []
        # pushed signatures of blocks without messages, checked only if a quorum of them is needed
        self._unchecked: OrderedDict[tuple[int, int], list[tuple[str, dict[str, Any]]]] = OrderedDict()
        self._threshold_hint = 0  # the largest threshold a quorum was asked for (0: none yet)
        self._checks: dict[str, tuple[float, int]] = {}  # guardian url -> (second it counts in, checks)

    def listen(self) -> None:
        """Follow every guardian's live feed: signatures pushed as they are made land in the cache."""
        self._listeners = [asyncio.create_task(self._listen(url), name=f"live-{url}") for url in self.urls]

    async def _listen(self, url: str) -> None:
        ws_url = "ws" + url.removeprefix("http") + "/v1/attestations/live"
        delay = 0.05
        while True:
            opened = None
            try:
                async with connect(ws_url, proxy=None, compression=None, max_size=1 << 16, ping_interval=None) as ws:
                    self.live.add(url)
                    opened = time.monotonic()
                    async for raw in ws:
                        doc = json.loads(raw)
                        if isinstance(doc, dict) and self._take_push(url, doc):
                            ev, self._arrival = self._arrival, asyncio.Event()
                            ev.set()
            except (OSError, TimeoutError, ValueError, WebSocketException) as exc:
                log.debug("live feed of %s: %r", url, exc)
            except Exception:  # never stop following: asks cover the gap meanwhile
                log.exception("live feed of %s", url)
            finally:
                self.live.discard(url)
            # back to the short wait only after a connection that lasted: a guardian that accepts
            # and closes at once must not have the relayer reconnect every 50 ms
            delay = 0.05 if opened is not None and time.monotonic() - opened > 5.0 else delay
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    def _take_push(self, url: str, doc: dict[str, Any]) -> bool:
        """A pushed signature: checked now if its block holds messages (a quorum is about to be
        needed) and it is not one more than a quorum; else kept to be checked only if needed.
        Recovering a signer is most of the relayer's CPU per push."""
        try:
            key = (int(doc["chain_id"]), int(doc["block_number"]))
        except (KeyError, TypeError, ValueError, OverflowError):  # OverflowError: Infinity, 1e400
            return False
        if not doc.get("message_block") or not self._may_check(url):
            held = self._unchecked.setdefault(key, [])
            if len(held) < 4 * len(self.urls):  # a guardian pushing one block over and over fills no memory
                held.append((url, doc))
            if len(self._unchecked) > 2048:
                self._unchecked.popitem(last=False)
            return False
        if self._enough(key, doc):
            return False
        return self._accept(url, doc)

    def _may_check(self, url: str) -> bool:
        """One more pushed signature of `url` may be checked now (PUSH_CHECKS_PER_S)."""
        now = time.monotonic()
        second, used = self._checks.get(url, (now, 0))
        if now - second >= 1.0:
            second, used = now, 0
        self._checks[url] = (second, used + 1)
        return used < PUSH_CHECKS_PER_S

    def _enough(self, key: tuple[int, int], doc: dict[str, Any]) -> bool:
        """The cache already holds a quorum of trusted signatures for the root `doc` names."""
        try:
            root = (bytes.fromhex(doc["block_hash"][2:]), bytes.fromhex(doc["state_root"][2:]))
        except (KeyError, TypeError, ValueError):
            return False
        group = self._cache.get(key, {}).get(root, {})
        trusted = [g for g in group if g.lower() not in self.distrusted]
        return 0 < self._threshold_hint <= len(trusted)

    def _check_unchecked(self, chain_id: int, block: int) -> None:
        for url, doc in self._unchecked.pop((chain_id, block), []):
            self._accept(url, doc)

    async def close(self) -> None:
        for task in self._listeners:
            task.cancel()
        await asyncio.gather(*self._listeners, return_exceptions=True)
        await self.getter.close()

    def _remember(self, chain_id: int, block: int, att: Attestation, signer: str, sig: bytes) -> dict[str, bytes]:
        key = (chain_id, block)
        groups = self._cache.get(key)
        if groups is None:
            groups = self._cache[key] = {}
            if len(self._cache) > 2048:
                self._cache.popitem(last=False)
        group = groups.setdefault((att.block_hash, att.state_root), {})
        group[signer] = sig
        return group

    def vouch(self, chain_id: int, block: int, block_hash: bytes, state_root: bytes) -> None:
        """The relayer read this block from the source: distrusted signers may count for it."""
        self._vouched[(chain_id, block)] = (block_hash, state_root)
        if len(self._vouched) > 2048:
            self._vouched.popitem(last=False)

    def known(self, chain_id: int, block: int) -> list[tuple[Attestation, bytes]]:
        """Every verified signature the pool holds for (chain, block) (slash evidence)."""
        self._check_unchecked(chain_id, block)
        return [
            (Attestation(chain_id, block, bh, sr), sig)
            for (bh, sr), sigs in self._cache.get((chain_id, block), {}).items()
            for sig in sigs.values()
        ]

    async def ask_all(self, chain_id: int, block: int, wait: float) -> None:
        """Ask every guardian for (chain, block) now; answers land in the cache (`known`)."""
        await asyncio.gather(*(self._ask(url, chain_id, block, wait) for url in self.urls))

    def cached(self, chain_id: int, block: int, guardians: set[str], threshold: int) -> Quorum | None:
        self._check_unchecked(chain_id, block)
        for (bh, sr), sigs in self._cache.get((chain_id, block), {}).items():
            if self.distrusted and self._vouched.get((chain_id, block)) != (bh, sr):
                sigs = {g: s for g, s in sigs.items() if g.lower() not in self.distrusted}
            q = Quorum(Attestation(chain_id, block, bh, sr), dict(sigs))
            if q.for_set(guardians, threshold):
                return q
        return None

    async def _ask(self, url: str, chain_id: int, block: int, wait: float) -> None:
        """One guardian's signature for (chain, block), checked and remembered in the cache."""
        try:
            status, doc = await self.getter.get(
                f"{url}/v1/attestations/{chain_id}/{block}?wait={wait}", timeout=wait + 3.0
            )
            if status != 200:
                self.down.pop(url, None)
                return
        except (TimeoutError, OSError, ValueError) as exc:
            self.down[url] = f"{type(exc).__name__}: {exc}"
            return
        finally:
            self._asking.pop((chain_id, block, url), None)
        self.down.pop(url, None)
        if isinstance(doc, dict):
            self._accept(url, dict(doc, chain_id=chain_id, block_number=block))

    def _accept(self, url: str, doc: dict[str, Any]) -> bool:
        """Cache one guardian's signed attestation if its signature recovers to the signer it names."""
        try:
            chain_id, block = int(doc["chain_id"]), int(doc["block_number"])
            att = Attestation(chain_id, block, doc["block_hash"], doc["state_root"])
            sig = bytes.fromhex(doc["signature"][2:])
            signer = attest.recover(self.domain.digest(chain_id, block, att.block_hash, att.state_root), sig)
        except Exception:
            return False  # not an attestation: this guardian does not count
        if signer.lower() != str(doc.get("signer", signer)).lower():
            return False
        self._remember(chain_id, block, att, signer, sig)
        return True

    async def _pushed(self, chain_id: int, block: int, guardians: set[str], threshold: int) -> Quorum | None:
        """The quorum from live feeds, if it lands within PUSH_GRACE."""
        deadline = asyncio.get_running_loop().time() + PUSH_GRACE
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            try:
                await asyncio.wait_for(self._arrival.wait(), left)
            except TimeoutError:
                break
            hit = self.cached(chain_id, block, guardians, threshold)
            if hit is not None:
                return hit
        return None

    async def quorum(
        self,
        chain_id: int,
        block: int,
        guardians: set[str],
        threshold: int,
        wait: float | None = None,
        pushed: bool = False,
    ) -> Quorum:
        """The first `threshold` agreeing signatures of current guardians for (chain, block).

        Every guardian is asked at once; answers that arrive after the quorum is reached are
        not cancelled (that would drop a keep-alive connection) but cached, for the next
        destination that needs the same block. Concurrent callers share requests in flight.
        """
        self._threshold_hint = max(self._threshold_hint, threshold)
        hit = self.cached(chain_id, block, guardians, threshold)
        if hit is not None:
            return hit
        if pushed and len(self.live) >= threshold:
            hit = await self._pushed(chain_id, block, guardians, threshold)
            if hit is not None:
                return hit
        wait = self.wait if wait is None else wait
        tasks = []
        for url in self.urls:
            key = (chain_id, block, url)
            task = self._asking.get(key)
            if task is None:
                task = self._asking[key] = asyncio.ensure_future(self._ask(url, chain_id, block, wait))
            tasks.append(task)
        pending = set(tasks)
        while pending:
            _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            hit = self.cached(chain_id, block, guardians, threshold)
            if hit is not None:
                return hit
        got = {k: len(v) for k, v in self._cache.get((chain_id, block), {}).items()}
        raise NoQuorum(
            f"no quorum for chain {chain_id} block {block}: "
            f"{max(got.values(), default=0)} of {threshold} signatures "
            f"({len(self.down)} guardian(s) unreachable)"
        )
