"""The orchestrator's one JSON-RPC client: blocking HTTP, one keep-alive connection, batches.

    with RpcClient("http://127.0.0.1:8545") as node:
        node.call("eth_chainId")                       # -> "0x384"
        node.batch([("eth_getCode", [addr, "latest"]), ...])  # results in order, an RpcError per failed call
    rpc(url, "eth_blockNumber")                        # one call on a fresh connection

The services use their own asyncio WebSocket client (services/common/rpc.py);
everything the orchestrator does is blocking and short, so the standard
library's http.client is enough and costs no import time.
"""

from __future__ import annotations

import http.client
import json
import urllib.parse
from collections.abc import Sequence
from typing import Any


class RpcError(RuntimeError):
    """The node answered a call with a JSON-RPC error (or not with JSON-RPC at all)."""

    def __init__(self, method: str, error: Any):
        self.method = method
        self.error = error
        message = error.get("message", error) if isinstance(error, dict) else error
        self.data = error.get("data") if isinstance(error, dict) else None
        super().__init__(f"{method}: {message}")


class RpcClient:
    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url
        self.timeout = timeout
        self._id = 0
        parsed = urllib.parse.urlsplit(url)
        self._host, self._port = parsed.hostname or "127.0.0.1", parsed.port or 80
        self._path = parsed.path or "/"
        self._conn: http.client.HTTPConnection | None = None

    def __enter__(self) -> RpcClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _post(self, body: Any) -> Any:
        data = json.dumps(body).encode()
        # one retry on a fresh connection: the node may have closed an idle keep-alive one
        for attempt in (0, 1):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)
            try:
                self._conn.request("POST", self._path, body=data, headers={"Content-Type": "application/json"})
                resp = self._conn.getresponse()
                payload = resp.read()
            except (http.client.HTTPException, ConnectionError):
                self.close()
                if attempt:
                    raise
                continue
            if resp.status != 200:
                raise RpcError("http", f"{self.url}: HTTP {resp.status}: {payload[:200]!r}")
            return json.loads(payload)
        raise AssertionError("unreachable")

    def _next_id(self) -> int:
        self._id += 1
        return self._id

    def call(self, method: str, params: Sequence[Any] = ()) -> Any:
        doc = self._post({"jsonrpc": "2.0", "id": self._next_id(), "method": method, "params": list(params)})
        if "error" in doc:
            raise RpcError(method, doc["error"])
        return doc["result"]

    def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Results in call order; an entry is an RpcError where that call failed."""
        if not calls:
            return []
        body = [{"jsonrpc": "2.0", "id": self._next_id(), "method": m, "params": list(p)} for m, p in calls]
        first = body[0]["id"]
        out: list[Any] = [None] * len(calls)
        for doc in self._post(body):
            i = doc["id"] - first
            out[i] = RpcError(calls[i][0], doc["error"]) if "error" in doc else doc.get("result")
        return out


def rpc(url: str, method: str, params: Sequence[Any] | None = None, timeout: float = 2.0) -> Any:
    """One call on its own connection (health checks, CLI commands)."""
    with RpcClient(url, timeout=timeout) as node:
        return node.call(method, params or [])


def chain_id_of(url: str, timeout: float = 1.0) -> int | None:
    """The chain id answering at url, or None when nothing (sane) answers."""
    try:
        return int(str(rpc(url, "eth_chainId", timeout=timeout)), 16)
    except (OSError, ValueError, RpcError, http.client.HTTPException):
        return None
