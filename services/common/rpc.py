"""A lean asyncio JSON-RPC client over one WebSocket, with subscriptions.

Why not web3.py's AsyncWeb3 here: the services sit on the latency path
(send mined -> delivered), and every microsecond of middleware and result
formatting counts, as does the ~25 MB of RSS that importing web3 costs per
process. This client pipelines any number of concurrent calls over one
connection (anvil answers them in order), keeps `eth_subscribe` subscriptions
alive across reconnects, and hands raw JSON results (hex strings) back.

    rpc = WsRpc("ws://127.0.0.1:8545", name="hub")
    await rpc.connect()
    head = await rpc.call("eth_blockNumber")
    await rpc.subscribe(["newHeads"], on_head)      # on_head(result_dict), sync or async
    rpc.on_reconnect = catch_up                      # async callable, after re-subscribing
    await rpc.close()
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import json
import logging
import os
import socket
from typing import Any, Awaitable, Callable

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

log = logging.getLogger(__name__)

Handler = Callable[[Any], Awaitable[None] | None]


class RpcError(RuntimeError):
    """The node answered with a JSON-RPC error."""

    def __init__(self, method: str, error: dict[str, Any]):
        self.method = method
        self.code = error.get("code")
        self.message = str(error.get("message", ""))
        self.data = error.get("data")
        super().__init__(f"{method}: {self.message} (code {self.code})")


class RpcDisconnected(ConnectionError):
    """The connection dropped while a call was in flight."""


class WsRpc:
    def __init__(self, url: str, name: str = "", timeout: float = 30.0, reconnect: bool = True):
        self.url = url
        self.name = name or url
        self.timeout = timeout
        self.reconnect = reconnect
        self.on_reconnect: Callable[[], Awaitable[None]] | None = None
        self.connected = asyncio.Event()
        self._ws: ClientConnection | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[str, asyncio.Future[Any]]] = {}
        self._subs: dict[str, tuple[list[Any], Handler]] = {}  # node sub id -> (params, handler)
        self._reader: asyncio.Task[None] | None = None
        self._closing = False

    # ------------------------------------------------------------ lifecycle

    async def connect(self, timeout: float = 10.0) -> "WsRpc":
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            try:
                await self._open()
                return self
            except (OSError, asyncio.TimeoutError, ConnectionClosed) as exc:
                if asyncio.get_running_loop().time() > deadline:
                    raise ConnectionError(f"{self.name}: cannot connect to {self.url}: {exc}") from None
                await asyncio.sleep(0.05)

    async def _open(self) -> None:
        self._ws = await connect(
            self.url, proxy=None, compression=None, max_size=None, max_queue=None,
            ping_interval=None, open_timeout=5,
        )
        self.connected.set()
        self._reader = asyncio.create_task(self._read_loop(self._ws), name=f"rpc-reader-{self.name}")

    async def close(self) -> None:
        self._closing = True
        self.connected.clear()
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            try:
                await self._reader
            except (asyncio.CancelledError, Exception):
                pass
        self._fail_pending(RpcDisconnected(f"{self.name}: closed"))

    async def __aenter__(self) -> "WsRpc":
        return await self.connect()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------ calls

    async def call(self, method: str, params: list[Any] | tuple[Any, ...] = (), timeout: float | None = None) -> Any:
        if not self.connected.is_set():
            try:
                await asyncio.wait_for(self.connected.wait(), timeout or self.timeout)
            except asyncio.TimeoutError:
                raise RpcDisconnected(f"{self.name}: not connected") from None
        ws = self._ws
        assert ws is not None
        req_id = next(self._ids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[req_id] = (method, fut)
        try:
            await ws.send(json.dumps({"jsonrpc": "2.0", "id": req_id, "method": method, "params": list(params)}))
            return await asyncio.wait_for(fut, timeout or self.timeout)
        except ConnectionClosed:
            raise RpcDisconnected(f"{self.name}: connection closed during {method}") from None
        finally:
            self._pending.pop(req_id, None)

    async def subscribe(self, params: list[Any], handler: Handler) -> str:
        """eth_subscribe(params); handler(result) gets every notification, in order."""
        sub_id = await self.call("eth_subscribe", params)
        self._subs[sub_id] = (list(params), handler)
        return sub_id

    # ------------------------------------------------------------ reading

    async def _read_loop(self, ws: ClientConnection) -> None:
        quickack = _quickack(ws)
        try:
            async for raw in ws:
                quickack()
                doc = json.loads(raw)
                if isinstance(doc, list):
                    for item in doc:
                        await self._dispatch(item)
                else:
                    await self._dispatch(doc)
        except ConnectionClosed:
            pass
        except asyncio.CancelledError:
            raise
        except Exception:  # a handler bug must not kill the connection silently
            log.exception("%s: reader failed", self.name)
        self.connected.clear()
        self._fail_pending(RpcDisconnected(f"{self.name}: connection lost"))
        if not self._closing and self.reconnect:
            asyncio.create_task(self._reconnect(), name=f"rpc-reconnect-{self.name}")

    async def _dispatch(self, doc: dict[str, Any]) -> None:
        if "id" in doc and doc.get("id") is not None:
            entry = self._pending.get(doc["id"])
            if entry is None:
                return
            method, fut = entry
            if fut.done():
                return
            if "error" in doc:
                fut.set_exception(RpcError(method, doc["error"]))
            else:
                fut.set_result(doc.get("result"))
        elif doc.get("method") == "eth_subscription":
            p = doc["params"]
            sub = self._subs.get(p["subscription"])
            if sub is not None:
                res = sub[1](p["result"])
                if inspect.isawaitable(res):
                    await res

    def _fail_pending(self, exc: Exception) -> None:
        for _, fut in list(self._pending.values()):
            if not fut.done():
                fut.set_exception(exc)
        self._pending.clear()

    async def _reconnect(self) -> None:
        delay = 0.05
        while not self._closing:
            try:
                await self._open()
                break
            except Exception as exc:  # noqa: BLE001 - any failure (e.g. a node mid-restart) retries;
                log.debug("%s: reconnect failed: %r", self.name, exc)  # only giving up loses the chain
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
        if self._closing:
            return
        log.warning("%s: reconnected to %s", self.name, self.url)
        old, self._subs = self._subs, {}
        for params, handler in old.values():
            try:
                await self.subscribe(params, handler)
            except Exception:
                log.exception("%s: re-subscribe %s failed", self.name, params)
        if self.on_reconnect is not None:
            try:
                await self.on_reconnect()
            except Exception:
                log.exception("%s: on_reconnect failed", self.name)


def _quickack(ws: ClientConnection) -> Callable[[], None]:
    """ACK what we received right away (Linux TCP_QUICKACK), every time.

    anvil writes a subscription notification and a response (or two notifications)
    back to back on one connection; with Nagle on its side and delayed ACKs on ours,
    the second write waits ~40 ms for our ACK. Measured: a plain transaction round
    trip on a connection with a newHeads subscription took 40+ ms about half the time,
    under 1 ms with this.
    """
    sock = ws.transport.get_extra_info("socket") if ws.transport is not None else None
    opt = getattr(socket, "TCP_QUICKACK", None)
    if sock is None or opt is None:
        return lambda: None
    fd = sock.fileno()
    raw = socket.socket(fileno=os.dup(fd))  # a handle we may call setsockopt on

    def ack() -> None:
        try:
            raw.setsockopt(socket.IPPROTO_TCP, opt, 1)
        except OSError:
            pass

    return ack


def hexint(value: str | int | None) -> int:
    if value is None:
        return 0
    return value if isinstance(value, int) else int(value, 16)


def hexbytes(value: str) -> bytes:
    return bytes.fromhex(value[2:] if value.startswith("0x") else value)
