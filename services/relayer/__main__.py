"""`python -m services.relayer --manifest PATH [--port P] [--db PATH] [--max-batch N] [--root-post-interval S]`"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from services.common import fastimport

fastimport.install()

from services.common import http, logs, suspend  # noqa: E402
from services.common import manifest as manifest_mod  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m services.relayer", description="Metalayer devnet relayer")
    p.add_argument("--manifest", default=".devnet/manifest.json")
    p.add_argument("--port", type=int, help="health HTTP port (default: manifest relayer.port)")
    p.add_argument("--db", help="SQLite queue (default: <state_dir>/run/relayer.sqlite)")
    p.add_argument("--max-batch", type=int, help="messages per delivery transaction (default: manifest)")
    p.add_argument("--root-post-interval", type=float, help="seconds between root posts; 0 = off (default: manifest)")
    p.add_argument("--log-level", default="INFO")
    p.add_argument("--profile", help="write cProfile stats to this file on exit (performance work)")
    return p.parse_args(argv)


async def run(args: argparse.Namespace) -> None:
    from services.relayer.service import Relayer

    m = manifest_mod.load(args.manifest)
    db_path = Path(args.db) if args.db else m.run_dir / "relayer.sqlite"
    # suspend/resume in place (test resets): each resume builds a fresh Relayer on the restored queue
    host = suspend.Suspendable(
        lambda: Relayer(m, db_path, max_batch=args.max_batch, root_post_interval=args.root_post_interval),
        suspend.token_file(m.run_dir, "relayer"),
    )
    await http.serve(host, args.port or m.relayer.port)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logs.setup("relayer", args.log_level)
    if not args.profile:
        asyncio.run(run(args))
        return
    import cProfile
    import signal

    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    prof = cProfile.Profile()
    prof.enable()
    try:
        asyncio.run(run(args))
    except KeyboardInterrupt:
        pass
    finally:
        prof.disable()
        prof.dump_stats(args.profile)


if __name__ == "__main__":
    main()
