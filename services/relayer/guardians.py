"""Asking the guardians for signatures, all at once, and stopping at a quorum.

For (chain, block) every guardian is asked in parallel (with a long poll so a
guardian that has not seen the block yet answers the moment it does). Each
answer is checked locally: the signature must recover to that guardian, and
only guardians of the destination registry's current set count. The first
`threshold` signatures that agree on (blockHash, stateRoot) form the quorum.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass

import aiohttp

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


class NoQuorum(RuntimeError):
    pass


class GuardianPool:
    def __init__(self, urls: list[str], domain: attest.Domain, wait: float = 2.0):
        self.urls = urls
        self.domain = domain
        self.wait = wait
        # the asks, on the latency path of every delivery: a lean keep-alive client (http_get.py)
        self._getter = JsonGetter()
        # everything else (the equivocation stage's feed reads): aiohttp
        self._client: aiohttp.ClientSession | None = None
        self._cache: OrderedDict[tuple[int, int], dict[tuple[bytes, bytes], dict[str, bytes]]] = OrderedDict()
        self._asking: dict[tuple[int, int, str], asyncio.Future[None]] = {}
        self.down: dict[str, str] = {}
        # signers of roots the watchtower flagged: counted only for a root the relayer read from
        # the source itself (`vouch`), so they can never carry a forgery but do not stall the network
        self.distrusted: set[str] = set()
        self._vouched: OrderedDict[tuple[int, int], tuple[bytes, bytes]] = OrderedDict()

    @property
    def client(self) -> aiohttp.ClientSession:
        if self._client is None:
            self._client = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.wait + 3.0, sock_connect=1.0),
                connector=aiohttp.TCPConnector(limit=64, ttl_dns_cache=None),
            )
        return self._client

    async def close(self) -> None:
        await self._getter.close()
        if self._client is not None:
            await self._client.close()

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
        return [
            (Attestation(chain_id, block, bh, sr), sig)
            for (bh, sr), sigs in self._cache.get((chain_id, block), {}).items()
            for sig in sigs.values()
        ]

    async def ask_all(self, chain_id: int, block: int, wait: float) -> None:
        """Ask every guardian for (chain, block) now; answers land in the cache (`known`)."""
        await asyncio.gather(*(self._ask(url, chain_id, block, wait) for url in self.urls))

    def cached(self, chain_id: int, block: int, guardians: set[str], threshold: int) -> Quorum | None:
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
            status, doc = await self._getter.get(
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
        try:
            att = Attestation(chain_id, block, doc["block_hash"], doc["state_root"])
            sig = bytes.fromhex(doc["signature"][2:])
        except (KeyError, TypeError, ValueError):
            return  # not an attestation: this guardian does not count
        try:
            signer = attest.recover(self.domain.digest(chain_id, block, att.block_hash, att.state_root), sig)
        except Exception:
            return
        if signer.lower() != str(doc.get("signer", signer)).lower():
            return
        self._remember(chain_id, block, att, signer, sig)

    async def quorum(
        self, chain_id: int, block: int, guardians: set[str], threshold: int, wait: float | None = None
    ) -> Quorum:
        """The first `threshold` agreeing signatures of current guardians for (chain, block).

        Every guardian is asked at once; answers that arrive after the quorum is reached are
        not cancelled (that would drop a keep-alive connection) but cached, for the next
        destination that needs the same block. Concurrent callers share requests in flight.
        """
        hit = self.cached(chain_id, block, guardians, threshold)
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
