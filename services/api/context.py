"""What every route needs: the manifest, the relayer queue reader, one HTTP client, JSON-RPC."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import httpx
from fastapi import Depends, Request

from services.api.errors import ApiError
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
        self.events_clients = 0

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
        await self.http.aclose()


def get_context(request: Request) -> Context:
    context: Context = request.app.state.context
    return context


Ctx = Annotated[Context, Depends(get_context)]
