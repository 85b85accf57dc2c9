"""The `net` service's forwarder: the container's own addresses to 127.0.0.1 inside its namespace.

In bridge mode every service shares the network namespace of `net` and listens
on loopback only, as natively; `net` publishes the ports and this forwards what
arrives on the container's address to 127.0.0.1. Standard library only: it runs
in the image before anything else.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

FORWARD_ENV = "METALAYER_NET_FORWARDER"  # set only on the `net` service


def _non_loopback_ipv4() -> list[str]:
    import socket

    try:
        addrs = socket.gethostbyname_ex(socket.gethostname())[2]
    except OSError:
        return []
    return sorted({a for a in addrs if not a.startswith("127.")})


async def _pipe(reader: Any, writer: Any) -> None:
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def _forward(ports: Sequence[int], listen: Sequence[str] | None = None) -> None:
    """Accept on the container's own addresses (or `listen`), connect to 127.0.0.1 inside the namespace.

    Only ever run inside the `net` container: there its own addresses belong to
    the container's private network namespace.
    """
    import asyncio

    live: set[Any] = set()

    def handler(port: int) -> Callable[[Any, Any], Any]:
        async def handle(reader: Any, writer: Any) -> None:
            task = asyncio.current_task()
            live.add(task)
            try:
                try:
                    up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
                except OSError:
                    writer.close()
                    return
                await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
            finally:
                live.discard(task)

        return handle

    addrs = list(listen) if listen is not None else _non_loopback_ipv4()
    servers = []
    for addr in addrs:
        for port in ports:
            servers.append(await asyncio.start_server(handler(port), addr, port))
    print(
        f"forwarding {', '.join(addrs) or '(no address)'} ports {', '.join(map(str, ports))} to 127.0.0.1", flush=True
    )
    try:
        await asyncio.Event().wait()
    finally:
        for server in servers:
            server.close()
        for task in list(live):
            task.cancel()
        await asyncio.gather(*live, return_exceptions=True)


def main(argv: list[str] | None = None) -> int:
    """`python -m orchestrator.docker.forwarder PORT...` (the command of the `net` service)."""
    import asyncio

    parser = argparse.ArgumentParser(prog="python -m orchestrator.docker.forwarder")
    parser.add_argument("ports", nargs="+", type=int)
    args = parser.parse_args(argv)
    if os.environ.get(FORWARD_ENV) != "1":
        # on a host, "own addresses" would be the machine's real interfaces
        print(f"the forwarder runs only inside the compose `net` container ({FORWARD_ENV}=1)", file=sys.stderr)
        return 2
    asyncio.run(_forward(args.ports))
    return 0


if __name__ == "__main__":
    sys.exit(main())
