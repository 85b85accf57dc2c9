"""What every route needs: the manifest, the relayer queue reader, one HTTP client, JSON-RPC."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
from fastapi import Depends, Request

from services.api.errors import ApiError
from services.api.limits import BoundedCalls
from services.common.manifest import REPO_ROOT, Manifest
from services.relayer.queue import QueueReader


class RpcFailure(RuntimeError):
    """A chain answered with a JSON-RPC error; `data` is its revert data when the call reverted."""

    def __init__(self, message: str, data: Any = None):
        super().__init__(message)
        self.data = data


class Context:
    def __init__(self, manifest: Manifest, queue_path: Path):
        self.manifest = manifest
        self.queue_path = queue_path
        self.queue = QueueReader(queue_path)
        self.started = time.time()
        self.http = httpx.AsyncClient(timeout=2.0, trust_env=False)
        self.names = {c.chain_id: c.name for c in manifest.chains}
        self._account_turns: dict[int, asyncio.Lock] = {}
        self.events_clients = 0
        self.events_ends: list[float] = []  # monotonic deadline of each open event stream
        self.reads = BoundedCalls(manifest.api.reads, "proven reads")

    def account_turn(self, account: int | None) -> contextlib.AbstractAsyncContextManager[Any]:
        """One intent at a time per dev account: its approve + open, or the permit nonce its plan read
        for openFor, must not interleave with another intent of that account (one open reverted:
        its allowance overwritten, its permit nonce spent). Each transaction's nonce is the
        devnet's account lock's business (services/common/nonces.py)."""
        if account is None:
            return contextlib.nullcontext()
        return self._account_turns.setdefault(account, asyncio.Lock())

    @property
    def relayer_url(self) -> str:
        return f"http://127.0.0.1:{self.manifest.relayer.port}"

    async def rpc(self, url: str, method: str, params: list[Any]) -> Any:
        r = await self.http.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        doc = r.json()
        if "error" in doc:
            raise RpcFailure(str(doc["error"].get("message")), doc["error"].get("data"))
        return doc["result"]

    def chain_id(self, value: str, param: str, where: str = "query") -> int:
        try:
            return self.manifest.chain(value).chain_id
        except KeyError:
            known = ", ".join(f"{c.name} ({c.chain_id})" for c in self.manifest.chains)
            raise ApiError(
                422,
                f"{param}: unknown chain {value!r} (known: {known})",
                [{"loc": [where, param], "msg": "unknown chain", "type": "value_error"}],
            ) from None

    def chain_refs(self) -> list[str]:
        return [c.name for c in self.manifest.chains] + [str(c.chain_id) for c in self.manifest.chains]

    def artifact_path(self, contract: str) -> str | None:
        """Absolute path of a contract's compiled artifact, if it exists."""
        entry = self.manifest.contracts.get(contract)
        candidates = [Path(entry.artifact)] if entry and entry.artifact else []
        candidates.append(REPO_ROOT / "contracts" / "out" / f"{contract}.json")
        for p in candidates:
            p = p if p.is_absolute() else REPO_ROOT / p
            if p.is_file():
                return str(p.resolve())
        return None

    async def close(self) -> None:
        self.reads.close()
        await self.http.aclose()


async def get_context(request: Request) -> Context:
    # async: a sync dependency runs on the thread pool, where every route then queued behind slow calls
    context: Context = request.app.state.context
    return context


Ctx = Annotated[Context, Depends(get_context)]
